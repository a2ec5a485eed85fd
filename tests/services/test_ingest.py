"""Ingestion into real databases: the corpus, duplicates, and bad input that must not harm the rest."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import STORE_BATCH, ImportResult, IngestService
from db.models import Article, ArticleTag, Summary
from db.repositories import latest_articles, top_tags

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOOD_POST = """---
title: '{title}'
categories:
 - 新媒体
 - 观察者网
author: 观察者网
date: 2022-05-05 16:28:04
link: {link}
---
<div><p>{body}</p></div>
"""
BODY = (
    "据新华社报道，中科院合肥物质科学研究院的全超导托卡马克核聚变实验装置实现了1056秒的长脉冲高参数等离子体运行。"
    "这是目前世界上托卡马克装置高温等离子体运行的最长时间。科研人员称新纪录进一步证明核聚变能源的可行性。"
)


def make_service(sessions: async_sessionmaker[AsyncSession], **overrides: int) -> IngestService:
    return IngestService(
        sessions,
        default_tz=SHANGHAI,
        summary_max_chars=overrides.get("summary_max_chars", 150),
        max_file_bytes=overrides.get("max_file_bytes", 10_000_000),
    )


def write_post(folder: Path, name: str, *, title: str, body: str = BODY, link: str = "") -> Path:
    path = folder / name
    path.write_text(GOOD_POST.format(title=title, body=body, link=link), encoding="utf-8")
    return path


async def test_corpus_imports_once_and_reimport_is_a_no_op(
    sessions: async_sessionmaker[AsyncSession], corpus: Path
) -> None:
    service = make_service(sessions)
    first = await service.import_paths([corpus / "articles"])
    assert first.failed == []
    # 0002, 0008, 0029 and 0052 are exact copies of a sibling (see SOURCES.md)
    assert (first.imported, first.duplicates) == (50, 4)

    again = await service.import_paths([corpus / "articles"])
    assert (again.imported, again.duplicates, again.failed) == (0, 54, [])

    async with sessions() as session:
        assert await session.scalar(select(func.count(Article.id))) == 50
        assert await session.scalar(select(func.count(Summary.id))) == 50
        views = await latest_articles(session, limit=100)
    assert len(views) == 40  # one item per story: tests/services/test_stories.py checks the groups
    for view in views:
        assert 0 < len(view.summary) <= 150, view.title
        if view.chars >= 200:
            assert 3 <= len(view.tags) <= 6, (view.title, view.tags)
        assert view.published_at is not None
        assert view.published_at.tzinfo is not None
    # newest first
    assert [v.listed_at for v in views] == sorted((v.listed_at for v in views), reverse=True)
    # a title-only flash item keeps its title as the summary (0031)
    flash = next(v for v in views if v.title == "10年期美债收益率跌至1.6%下方 创一周新低")
    assert flash.summary == flash.title
    assert flash.summary_method == "title"
    # picsum placeholders are no image; real head images are kept
    assert all(v.image_url is None or "picsum.photos" not in v.image_url for v in views)
    fusion = next(v for v in views if v.title.startswith("1056秒"))
    assert fusion.image_url == "https://i.guancha.cn/news/mainland/2021/12/31/20211231134122209.jpg"
    assert fusion.publisher == "观察者网"


async def test_corpus_feeds_import(sessions: async_sessionmaker[AsyncSession], corpus: Path) -> None:
    service = make_service(sessions)
    feeds = corpus / "feeds"
    good = [p for p in sorted(feeds.iterdir()) if "hexun" not in p.name and "yx-bsh-me" not in p.name]
    result = await service.import_paths(good)
    assert result.failed == []
    assert result.imported > 100
    bad = await service.import_paths(
        [feeds / "rssant__http-blog-hexun-com-group-getrssresouce-aspx-classid-74.xml"]
    )
    assert bad.imported == 0
    assert len(bad.failed) == 1
    assert "hexun" in bad.failed[0].where


async def test_same_article_by_link_guid_or_text_is_stored_once(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    service = make_service(sessions)
    write_post(tmp_path, "a.md", title="原稿", link="https://www.guancha.cn/a.shtml")
    # same link (with tracking parameters and a fragment), different text
    write_post(
        tmp_path,
        "b.md",
        title="改了标题",
        body="完全不同的正文内容，但链接指向同一篇文章。" * 3,
        link="https://www.guancha.cn/a.shtml?utm_source=rss#top",
    )
    # same text with other white space and punctuation, no link
    write_post(tmp_path, "c.md", title="又一个标题", body=BODY.replace("。", "！ ").replace("，", ","))
    result = await service.import_paths([tmp_path])
    assert (result.imported, result.duplicates, result.failed) == (1, 2, [])


async def test_bad_inputs_are_named_and_the_rest_is_imported(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_post(folder, "good1.md", title="好文章一", link="https://example.com/1")
    write_post(folder, "good2.md", title="好文章二", body=BODY.replace("1056", "403"), link="https://example.com/2")
    (folder / "broken-yaml.md").write_text("---\ntitle: [unclosed\n---\n<p>正文</p>\n", encoding="utf-8")
    (folder / "bad-month.md").write_text("---\ntitle: t\ndate: 2021-13-01\n---\n<p>x</p>\n", encoding="utf-8")
    (folder / "no-front-matter.md").write_text("just some words\n", encoding="utf-8")
    (folder / "nothing.md").write_text("---\nauthor: 某人\n---\n\n", encoding="utf-8")
    (folder / "junk.md").write_bytes(os.urandom(4096))
    (folder / "empty.md").write_bytes(b"")
    with (folder / "huge.md").open("wb") as huge:
        huge.truncate(50 * 1024 * 1024)
    (folder / "broken.xml").write_text("<rss><channel><item><title>half", encoding="utf-8")
    (folder / "page.xml").write_text("<!DOCTYPE html><html><body>Not found</body></html>", encoding="utf-8")

    failures: list[str] = []
    result = await make_service(sessions).import_paths([folder], on_failure=lambda f: failures.append(str(f)))

    assert result.imported == 2
    bad_names = {"broken-yaml.md", "bad-month.md", "no-front-matter.md", "nothing.md", "junk.md", "empty.md",
                 "huge.md", "broken.xml", "page.xml"}
    assert {Path(f.where).name for f in result.failed} == bad_names
    assert len(failures) == len(bad_names)
    for line in failures:
        assert "\n" not in line
        assert ": " in line
    reasons = {Path(f.where).name: f.reason for f in result.failed}
    assert "empty" in reasons["empty.md"]
    assert "limit" in reasons["huge.md"]
    assert "YAML" in reasons["broken-yaml.md"] or "yaml" in reasons["broken-yaml.md"]
    assert "month must be in 1..12" in reasons["bad-month.md"]
    assert result.summary_line() == "imported 2, duplicates 0, failed 9"


async def test_a_failing_article_leaves_stored_ones_intact(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    service = make_service(sessions)
    write_post(tmp_path, "a.md", title="第一篇", link="https://example.com/a")
    assert (await service.import_paths([tmp_path / "a.md"])).imported == 1
    async with sessions() as session:
        before = await session.scalar(select(func.count(ArticleTag.tag_id)))
    (tmp_path / "b.md").write_bytes(b"\x00\xff\xfe" * 100)
    result = await service.import_paths([tmp_path / "b.md", tmp_path / "missing.md"])
    assert result.imported == 0
    assert len(result.failed) == 2
    assert "no such file" in result.failed[1].reason
    async with sessions() as session:
        assert await session.scalar(select(func.count(Article.id))) == 1
        assert await session.scalar(select(func.count(ArticleTag.tag_id))) == before


async def test_naive_dates_are_local_time_and_listing_filters(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    service = make_service(sessions)
    write_post(tmp_path, "a.md", title="核聚变新纪录", link="https://example.com/a")
    await service.import_paths([tmp_path])
    async with sessions() as session:
        article = await session.scalar(select(Article))
        assert article is not None
        # '2022-05-05 16:28:04' in Asia/Shanghai
        assert article.published_at == datetime(2022, 5, 5, 8, 28, 4, tzinfo=UTC)
        views = await latest_articles(session, limit=5)
        tag = views[0].tags[0]
        assert [v.id for v in await latest_articles(session, limit=5, tag=tag.upper())] == [article.id]
        assert await latest_articles(session, limit=5, tag="不存在的标签") == []
        assert len(await latest_articles(session, limit=5, publisher="观察者网")) == 1
        assert await latest_articles(session, limit=5, publisher="36kr") == []
        counts = await top_tags(session, since=datetime(2022, 1, 1, tzinfo=UTC))
        assert {c.name for c in counts} == set(views[0].tags)


@pytest.mark.parametrize("max_chars", [40, 80])
async def test_summary_budget_is_respected(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, max_chars: int
) -> None:
    write_post(tmp_path, "a.md", title="核聚变新纪录", link="https://example.com/a")
    await make_service(sessions, summary_max_chars=max_chars).import_paths([tmp_path])
    async with sessions() as session:
        (view,) = await latest_articles(session, limit=5)
    assert 0 < len(view.summary) <= max_chars


async def test_an_over_long_author_or_guid_is_stored_on_both_databases(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """PostgreSQL keeps 256 characters of an author and 1,024 of a guid; SQLite kept anything, so the same
    file was stored on one database and refused on the other."""
    long_guid = "urn:entry:" + "x" * 2000
    (tmp_path / "long.md").write_text(
        f"---\ntitle: 长作者名的文章\nauthor: '{'作者' * 200}'\nguid: '{long_guid}'\n"
        f"link: https://example.com/long\n---\n<p>{BODY}</p>\n",
        encoding="utf-8",
    )
    result = await make_service(sessions).import_paths([tmp_path / "long.md"])
    assert (result.imported, result.failed) == (1, [])
    async with sessions() as session:
        author, guid = (await session.execute(select(Article.author, Article.guid))).one()
    assert author is not None
    assert len(author) == 256
    assert author.startswith("作者作者")
    assert guid is not None
    assert guid.startswith("sha256:")
    assert len(guid) == len("sha256:") + 64


async def import_with_statements(
    sessions: async_sessionmaker[AsyncSession], folder: Path
) -> tuple[ImportResult, list[str]]:
    """`newsbot import folder`'s result and every SQL statement it sent."""
    engine = sessions.kw["bind"]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        return await make_service(sessions).import_paths([folder]), statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_batch_of_articles_costs_a_few_statements_besides_a_story_lookup_each(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Storing one import batch (STORE_BATCH articles) checks duplicates, inserts the articles, writes the
    story keys and the story links once for the batch; per article there is only its story lookup."""
    for n in range(STORE_BATCH):
        body = f"第{n}号报告：{'甲乙丙丁戊己庚辛'[n % 8]}地{n}日召开会议，讨论{n * 7}项议题。" * 4
        write_post(tmp_path, f"{n:03d}.md", title=f"会议报告{n}", body=body, link=f"https://e.com/{n}")
    result, statements = await import_with_statements(sessions, tmp_path)
    assert (result.imported, result.failed) == (STORE_BATCH, [])
    lookups = sum("FROM story_keys" in s for s in statements)
    assert lookups == STORE_BATCH
    assert len(statements) - lookups <= 15, statements  # was about 5 per article
    async with sessions() as session:
        assert await session.scalar(select(func.count(Article.id)).where(Article.story_id.is_(None))) == 0


async def test_a_batch_joining_stored_stories_reads_and_moves_their_leads_at_once(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A second report of each of a batch's stories, half of them fuller: every one joins its stored story,
    the fuller ones become the leads, and that costs two statements for the batch, not one per article."""

    def body(n: int, repeats: int) -> str:
        return f"第{n}号报告：{'甲乙丙丁戊己庚辛'[n % 8]}地{n}日召开会议，讨论{n * 7}项议题。" * repeats

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for n in range(STORE_BATCH):
        write_post(first, f"{n:03d}.md", title=f"会议报告{n}", body=body(n, 4), link=f"https://e.com/{n}")
        fuller = n % 2 == 0
        write_post(
            second,
            f"{n:03d}.md",
            title=f"会议报告{n}",
            body=body(n, 5 if fuller else 3),
            link=f"https://other.example/{n}",
        )
    assert (await make_service(sessions).import_paths([first])).imported == STORE_BATCH
    result, statements = await import_with_statements(sessions, second)
    assert (result.imported, result.failed) == (STORE_BATCH, [])
    lookups = sum("FROM story_keys" in s for s in statements)
    assert len(statements) - lookups <= 15, statements
    async with sessions() as session:
        rows = (await session.execute(select(Article.link, Article.story_id, Article.is_story_lead))).all()
    stories: dict[int, set[str]] = {}
    leads: set[str] = set()
    for link, story_id, is_lead in rows:
        stories.setdefault(story_id, set()).add(link)
        if is_lead:
            leads.add(link)
    assert len(stories) == STORE_BATCH  # every second report joined its first one's story
    assert all(len(links) == 2 for links in stories.values())
    assert leads == {
        f"https://other.example/{n}" if n % 2 == 0 else f"https://e.com/{n}" for n in range(STORE_BATCH)
    }


async def test_a_feed_file_of_many_entries_is_stored_a_batch_at_a_time(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """One file's entries all arrive at once (a 10 MB feed can hold thousands): they are stored STORE_BATCH
    per transaction, so no statement binds more values than a database takes."""
    entries = 2 * STORE_BATCH + 1
    items = "".join(
        f"<item><title>第{n}条快讯</title><link>https://e.com/{n}</link><guid>g{n}</guid>"
        f"<description>第{n}条快讯的内容：{'甲乙丙丁'[n % 4]}地第{n}次会议召开。</description></item>"
        for n in range(entries)
    )
    (tmp_path / "big.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>快讯</title>{items}'
        "</channel></rss>",
        encoding="utf-8",
    )
    result, statements = await import_with_statements(sessions, tmp_path)
    assert (result.imported, result.failed) == (entries, [])
    assert sum("articles.content_hash IN" in s for s in statements) == 3  # the duplicate lookups
