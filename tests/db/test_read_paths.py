"""The read queries behind /latest, /search and /topics, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import IngestService
from bot.sources.types import RawArticle
from db import repositories
from db.llm import replace_summary
from db.models import Article, ArticleTag, StoryCopy, Summary, Tag, TagDayCount
from db.repositories import latest_articles, search_articles, top_tags
from db.stories import add_story_publishers
from summarizer.matching import query_words, search_terms

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
STORIES = [
    ("华为发布新款芯片", "华为今天发布新一代麒麟芯片，性能比上一代提升三成。芯片由国内工厂代工生产。"),
    ("国产芯片企业融资创新高", "今年以来国产芯片企业融资总额创下新高，多家芯片设计公司完成大额融资。"),
    ("中国女足获东亚杯亚军", "中国女足在东亚杯足球比赛中战平日本队，获得亚军。"),
    (
        "Apple unveils new chips",
        "Apple unveiled new chips for its laptops on Tuesday, faster and using less power.",
    ),
]


async def store(sessions: async_sessionmaker[AsyncSession]) -> None:
    ingest = IngestService(sessions, default_tz=UTC, summary_max_chars=150, max_file_bytes=10**7)
    result = await ingest.store_articles(
        RawArticle(
            title=t, body=b, body_format="text", origin=f"t{i}", link=f"https://e.com/{i}", author="测试",
            published=NOW - timedelta(days=i * 3),
        )
        for i, (t, b) in enumerate(STORIES)
    )
    assert result.imported == len(STORIES)


async def search(sessions: async_sessionmaker[AsyncSession], query: str) -> list[str]:
    async with sessions() as session:
        return [v.title for v in await search_articles(session, query_words(query), limit=10)]


async def test_search_finds_words_in_titles_summaries_and_compounds(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await store(sessions)
    assert await search(sessions, "芯片") == ["华为发布新款芯片", "国产芯片企业融资创新高"]
    assert await search(sessions, "芯片 融资") == ["国产芯片企业融资创新高"]
    assert await search(sessions, "足球") == ["中国女足获东亚杯亚军"]  # inside 足球比赛
    assert await search(sessions, "CHIPS laptops") == ["Apple unveils new chips"]
    assert await search(sessions, "火星") == []
    assert await search(sessions, '" OR * NEAR( -') == []  # query syntax is never interpreted


async def test_search_ranks_only_the_newest_matches_and_a_narrower_search_reaches_older_ones(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common word costs no more than a rare one: only the newest SEARCH_WINDOW matches (by when they were
    stored) are ranked; an older match is found by a narrower search."""
    await store(sessions)
    monkeypatch.setattr(repositories, "SEARCH_WINDOW", 1)
    assert await search(sessions, "芯片") == ["国产芯片企业融资创新高"]  # stored after 华为发布新款芯片
    assert await search(sessions, "华为 芯片") == ["华为发布新款芯片"]


async def test_tag_listing_and_topic_counts_follow_retagging(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await store(sessions)
    async with sessions() as session:
        chips = await latest_articles(session, limit=10, tag="芯片")
        assert [v.title for v in chips] == ["华为发布新款芯片", "国产芯片企业融资创新高"]
        second = await latest_articles(session, limit=1, offset=1, tag="芯片")
        assert [v.title for v in second] == [chips[1].title]
        week = {c.name: c.count for c in await top_tags(session, since=NOW - timedelta(days=7), limit=100)}
        assert week["芯片"] == 2
        month = {c.name: c.count for c in await top_tags(session, since=NOW - timedelta(days=30), limit=100)}
        apple = (await latest_articles(session, limit=1, offset=3))[0]
        assert apple.title == "Apple unveils new chips"  # nine days old: in the month, not in the week
        assert all(tag in month and tag not in week for tag in apple.tags if tag not in STORIES[0][1])

    # an LLM answer replaces the tags and search terms of the Huawei story
    huawei = chips[0]
    async with sessions() as session, session.begin():
        summary = Summary(
            text="华为推出新款麒麟处理器。", method="llm", model="m", version="v", created_at=NOW
        )
        terms = search_terms(huawei.title, summary.text, ["华为", "处理器", "麒麟"])
        assert await replace_summary(
            session, huawei.id, summary, ["华为", "处理器", "麒麟"], tagger="llm", terms=terms
        )
    async with sessions() as session:
        week = {c.name: c.count for c in await top_tags(session, since=NOW - timedelta(days=7), limit=100)}
        assert week["芯片"] == 1
        assert week["处理器"] == 1
        assert [v.title for v in await latest_articles(session, limit=10, tag="处理器")] == [huawei.title]
        assert min(await session.scalars(select(TagDayCount.count))) >= 0
    assert await search(sessions, "处理器") == [huawei.title]
    assert await search(sessions, "代工") == []  # only in the old summary


async def store_a_story_with_copies(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The stories, with 国产芯片企业融资创新高 a member of 华为发布新款芯片's story, copies of both from four
    other publishers, and one copy of 中国女足获东亚杯亚军."""
    await store(sessions)
    async with sessions() as session, session.begin():
        rows = {a.title: a for a in await session.scalars(select(Article))}
        lead, member = rows["华为发布新款芯片"], rows["国产芯片企业融资创新高"]
        member.story_id, member.is_story_lead = lead.id, False
        when = member.published_at
        assert when is not None
        copies = [
            ("Sina", when - timedelta(hours=1)),
            ("Sohu", when),
            ("Undated", None),
            ("NetEase", when + timedelta(hours=1)),
        ]
        for article_id, (publisher, published) in [(lead.id, c) for c in copies[:2]] + [
            (member.id, c) for c in copies[2:]
        ]:
            session.add(
                StoryCopy(
                    article_id=article_id, publisher=publisher, title=f"{publisher} copy", link=None,
                    published_at=published, ingested_at=NOW,
                )
            )
        other = rows["中国女足获东亚杯亚军"]
        session.add(
            StoryCopy(
                article_id=other.id, publisher="Other", title="x", link=None, published_at=None,
                ingested_at=NOW,
            )
        )
        # what ingestion records beside a story's new member and copies
        await add_story_publishers(
            session,
            [(lead.id, member.publisher), *((lead.id, p) for p, _ in copies), (other.id, "Other")],
        )


async def test_a_story_lists_its_other_reports_and_copies_earliest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The lead carries its story's other articles and exact copies in one list, earliest first (undated
    first; of equal times, articles before copies), never itself and never another story's reports."""
    await store_a_story_with_copies(sessions)
    async with sessions() as session:
        views = {v.title: v for v in await latest_articles(session, limit=10)}
        found = await search_articles(session, query_words("融资"), limit=10)
    assert "国产芯片企业融资创新高" not in views  # a member is listed through its lead
    shown = [(a.publisher, a.title) for a in views["华为发布新款芯片"].also]
    assert shown == [
        ("Undated", "Undated copy"),
        ("Sina", "Sina copy"),
        ("测试", "国产芯片企业融资创新高"),
        ("Sohu", "Sohu copy"),
        ("NetEase", "NetEase copy"),
    ]
    assert [(a.publisher, a.title) for a in views["中国女足获东亚杯亚军"].also] == [("Other", "x")]
    assert views["Apple unveils new chips"].also == ()
    assert [(v.title, [a.publisher for a in v.also]) for v in found] == [
        ("华为发布新款芯片", ["Undated", "Sina", "测试", "Sohu", "NetEase"])
    ]


async def test_digest_candidates_agree_with_the_full_views(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """What a digest chooses by (read in one query for hundreds of stories) is what readers are shown: the
    summary as written, the tags strongest first, and how many publishers carry the story (its articles'
    and their copies', each publisher once)."""
    await store_a_story_with_copies(sessions)
    async with sessions() as session, session.begin():
        lead = await session.scalar(select(Article).where(Article.title == "华为发布新款芯片"))
        assert lead is not None
        ranks = list(await session.scalars(select(ArticleTag).where(ArticleTag.article_id == lead.id)))
        assert len(ranks) >= 2
        for tag in ranks:  # the weakest first now: not the order the tags were stored in
            tag.rank = len(ranks) - 1 - tag.rank
        # a tag as a model may answer it: quotes, brackets, separators and a control character survive the
        # aggregation (JSON on SQLite, an array on PostgreSQL) as they are
        hostile = await session.get(Tag, ranks[0].tag_id)
        assert hostile is not None
        hostile.name = 'x", "y"]\\,\x1f{[1, "z"]} NULL'
        session.add(
            Summary(
                article_id=lead.id, text="Huawei released a chip.", method="llm", model="m", version="1",
                is_current=True, created_at=NOW, language="en",
            )
        )
    async with sessions() as session:
        views = await latest_articles(session, limit=10)
        ids = [v.id for v in views]
        candidates = await repositories.digest_candidates(session, ids)
        shown = await repositories.article_views(session, ids)
    assert [c.id for c in candidates] == ids
    for view, candidate in zip(views, candidates, strict=True):
        assert (candidate.title, candidate.summary, candidate.summary_method, candidate.tags) == (
            view.title, view.summary, view.summary_method, view.tags
        )
        assert (candidate.publisher, candidate.language) == (view.publisher, view.language)
        assert candidate.publishers == len({view.publisher, *(a.publisher for a in view.also)})
        assert shown[view.id] == view
    publishers = {c.title: c.publishers for c in candidates}
    assert publishers == {
        "华为发布新款芯片": 5,  # 测试 (both articles), Undated, Sina, Sohu, NetEase
        "中国女足获东亚杯亚军": 2,
        "Apple unveils new chips": 1,
    }
    huawei = next(c for c in candidates if c.title == "华为发布新款芯片")
    assert huawei.summary != "Huawei released a chip."  # a translation is the reader's to ask for
    assert 'x", "y"]\\,\x1f{[1, "z"]} NULL' in huawei.tags
    by_rank = sorted(ranks, key=lambda tag: tag.rank)
    assert [tag.tag_id for tag in by_rank] != sorted(tag.tag_id for tag in ranks)  # the order is the ranks'
