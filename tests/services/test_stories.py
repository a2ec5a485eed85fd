"""Stories at ingest (issue #12): the corpus's labelled groups become one item each wherever a reader looks,
exact copies are members, and a re-import, a restart or a second importing process changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.corpus import SOURCES, labelled_story_groups
from bot.services.ingest import IngestService
from bot.sources.posts import parse_post
from db.models import Article, StoryCopy, StoryPublisher
from db.repositories import digest_candidates_since, latest_articles, search_articles
from readmodels import ArticleView
from summarizer.clean import one_line
from summarizer.matching import query_words

SHANGHAI = ZoneInfo("Asia/Shanghai")
# ../shared/corpus/SOURCES.md: the same story in several files (reposts, retitled copies, rewritten coverage)
GROUPS = labelled_story_groups() if SOURCES.is_file() else ()
STORIES = 54 - sum(len(group) - 1 for group in GROUPS)  # 40


def ingest(sessions: async_sessionmaker[AsyncSession]) -> IngestService:
    return IngestService(sessions, default_tz=SHANGHAI, summary_max_chars=150, max_file_bytes=10_000_000)


def title_of(corpus: Path, number: str) -> str:
    path = corpus / "articles" / f"{number}.md"
    return one_line(parse_post(path.read_bytes(), origin=str(path), default_tz=SHANGHAI).title)


def titles_shown(view: ArticleView) -> set[str]:
    return {view.title} | {also.title for also in view.also}


def assert_grouped(views: list[ArticleView], corpus: Path) -> None:
    assert len(views) == STORIES
    for group in GROUPS:
        wanted = {title_of(corpus, number) for number in group}
        holding = [v for v in views if wanted & titles_shown(v)]
        assert len(holding) == 1, (group, [v.title for v in holding])
        assert wanted <= titles_shown(holding[0]), group


async def story_ids(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(select(Article.origin, Article.story_id))
        return {Path(origin or "").stem: story for origin, story in rows.tuples() if story is not None}


async def assert_story_publishers_kept(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The publishers recorded for each story are those of its articles and of their exact copies."""
    async with sessions() as session:
        articles = (await session.execute(select(Article.id, Article.story_id, Article.publisher))).all()
        copies = (await session.execute(select(StoryCopy.article_id, StoryCopy.publisher))).all()
        kept = (await session.execute(select(StoryPublisher.story_id, StoryPublisher.publisher))).all()
        recorded = sorted(tuple(row) for row in kept)
    story_of = {article_id: story for article_id, story, _ in articles}
    carried = {(story, publisher) for _, story, publisher in articles if story is not None}
    carried |= {(story_of[a], publisher) for a, publisher in copies if story_of[a] is not None}
    assert recorded == sorted(carried)


async def test_the_corpus_groups_are_one_item_each_and_exact_copies_are_members(
    sessions: async_sessionmaker[AsyncSession], corpus: Path
) -> None:
    first = await ingest(sessions).import_paths([corpus / "articles"])
    assert (first.imported, first.duplicates, first.failed) == (50, 4, [])
    async with sessions() as session:
        views = await latest_articles(session, limit=100)
        copies = await session.scalar(select(func.count(StoryCopy.id)))
    assert_grouped(views, corpus)
    # the rewritten coverage: 观察者网 and 36kr in one item, the longer text listed
    nuclear = next(v for v in views if "核能发电" in v.title)
    assert {nuclear.publisher} | {a.publisher for a in nuclear.also} == {"观察者网", "36kr"}
    # 0008 is 0007 retitled: a member under its own title. 0002, 0029 and 0052 repeat their sibling in another
    # sub-feed of the same publisher under the same title: "also: 观察者网" would tell a reader nothing
    assert copies == 1
    await assert_story_publishers_kept(sessions)

    # a re-import is a no-op: no article, no copy, no story changes
    before = await story_ids(sessions)
    again = await ingest(sessions).import_paths([corpus / "articles"])
    assert (again.imported, again.duplicates) == (0, 54)
    async with sessions() as session:
        assert await session.scalar(select(func.count(StoryCopy.id))) == copies
    assert await story_ids(sessions) == before
    await assert_story_publishers_kept(sessions)


async def test_search_and_the_digest_candidates_show_one_item_per_story(
    sessions: async_sessionmaker[AsyncSession], corpus: Path
) -> None:
    await ingest(sessions).import_paths([corpus / "articles"])
    async with sessions() as session:
        found = await search_articles(session, query_words("核能发电"), limit=10)
        oldest = (await latest_articles(session, limit=100))[-1]
        candidates = await digest_candidates_since(session, oldest.listed_at)
    assert [1 + len(v.also) for v in found if "核能" in v.title] == [2]  # 观察者网 and 36kr
    assert len([v for v in found if "核能" in v.title]) == 1
    titles = [v.title for v in candidates]
    assert len(titles) == len(set(titles))
    assert sum("人造太阳" in t for t in titles) == 1
    # a digest ranks the story by its publishers: both of its outlets
    assert [c.publishers for c in candidates if "核能" in c.title] == [2]


async def test_a_copy_from_another_publisher_counts_for_its_story(
    sessions: async_sessionmaker[AsyncSession], corpus: Path, tmp_path: Path
) -> None:
    """The same post word for word under another author is a copy, not an article: its publisher is one more
    carrying the story, once however often it comes."""
    post = (corpus / "articles" / "0018.md").read_text(encoding="utf-8")
    copied = tmp_path / "copy.md"
    copied.write_text(post.replace("author: 观察者网", "author: 转载网", 1), encoding="utf-8")
    await ingest(sessions).import_paths([corpus / "articles" / "0018.md"])
    for _ in range(2):
        result = await ingest(sessions).import_paths([copied])
        assert (result.imported, result.duplicates) == (0, 1)
    async with sessions() as session:
        (candidate,) = await digest_candidates_since(session, datetime(2000, 1, 1, tzinfo=UTC))
    assert candidate.publishers == 2
    await assert_story_publishers_kept(sessions)


async def test_two_importing_processes_group_as_one(
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    corpus: Path,
) -> None:
    files = sorted((corpus / "articles").glob("*.md"))
    # each group split between the processes, imported at the same moment
    results = await asyncio.gather(
        ingest(sessions).import_paths(files[0::2]), ingest(other_process).import_paths(files[1::2])
    )
    assert sum(r.imported for r in results) == 50
    async with sessions() as session:
        views = await latest_articles(session, limit=100)
    assert_grouped(views, corpus)
    grouped = await story_ids(sessions)
    for group in GROUPS:
        stored = {grouped[number] for number in group if number in grouped}
        assert len(stored) == 1, group
    await assert_story_publishers_kept(sessions)


async def test_a_story_that_grows_after_a_digest_is_not_a_candidate_again(
    sessions: async_sessionmaker[AsyncSession], corpus: Path
) -> None:
    """36kr's report arrives first; 观察者网's longer one a day later becomes the lead, and is listed first in
    /latest, but the next digest (its window starting after the first report) does not carry the story."""
    service = ingest(sessions)
    files = {number: corpus / "articles" / f"{number}.md" for number in ("0018", "0019")}
    await service.import_paths([files["0019"]])
    async with sessions() as session:
        (first,) = await latest_articles(session, limit=10)
    await service.import_paths([files["0018"]])
    async with sessions() as session:
        (lead,) = await latest_articles(session, limit=10)
        later = await digest_candidates_since(session, first.listed_at)
        a_year_before = first.listed_at.replace(year=first.listed_at.year - 1)
        earlier = await digest_candidates_since(session, a_year_before)
    assert lead.publisher == "观察者网"  # the longer text is listed
    assert [a.publisher for a in lead.also] == ["36kr"]
    assert later == []
    assert [v.id for v in earlier] == [lead.id]


async def test_the_entries_of_one_feed_are_never_one_story(
    sessions: async_sessionmaker[AsyncSession], corpus: Path
) -> None:
    """喷嚏网's items are mostly the same video boilerplate, and The Guardian's State of the Union pieces
    share their words: alike enough to merge, but a feed lists each of its stories once."""
    names = ("rssant__dapenti_blog_iframe.xml", "rss-parser__guardian.rss")
    feeds = [corpus / "feeds" / name for name in names]
    result = await ingest(sessions).import_paths(feeds)
    assert result.imported > 40
    async with sessions() as session:
        views = await latest_articles(session, limit=1000)
    assert len(views) == result.imported
    assert all(view.also == () for view in views)
