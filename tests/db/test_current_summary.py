"""Exactly one current summary per article and language, on real SQLite and PostgreSQL databases: replacements
by two processes at once take turns (PostgreSQL: the article's row is locked first), the database refuses a
second current summary (migration 0011), and that migration repairs the pairs older versions could leave.

To make the race real on PostgreSQL, the first replacement stays uncommitted until the second one is seen
waiting for a lock (or done: the old code's first translation waited for nothing). SQLite shows no such wait;
its writers take turns anyway, and the test gives the second one a moment to queue.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import IngestService
from bot.sources.types import RawArticle
from db.engine import alembic_config, make_engine, make_sessionmaker, upgrade_schema
from db.llm import replace_summary, store_translation
from db.models import Article, Summary
from tests.bot.conftest import recent_article
from tests.waiting import queued

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
STORY = recent_article(
    1,
    title="国产大飞机完成第一百架交付",
    body="国产大飞机今天完成第一百架交付，航空公司将于下月投入运营。业内人士认为，这标志着国产民机进入批量交付阶段。",
)
OTHER = recent_article(
    2, title="中国女足获东亚杯亚军", body="中国女足在东亚杯足球比赛中战平日本队，获得亚军。"
)
ONE_CURRENT_INDEXES = {"ix_summaries_one_current_own", "ix_summaries_one_current_translated"}


async def store(sessions: async_sessionmaker[AsyncSession], *articles: RawArticle) -> list[int]:
    """The ids of the stored articles (each with its extractive summary, current), in order."""
    ingest = IngestService(sessions, default_tz=UTC, summary_max_chars=150, max_file_bytes=10**7)
    assert (await ingest.store_articles(articles)).imported == len(articles)
    async with sessions() as session:
        ids = {a.link: a.id for a in await session.scalars(select(Article))}
    return [ids[a.link] for a in articles]


def llm_summary(text_: str, language: str | None, **columns: object) -> Summary:
    return Summary(
        text=text_, method="llm", model="m", version="v", created_at=NOW, language=language, **columns
    )


async def replace(session: AsyncSession, article_id: int, text_: str, language: str | None) -> bool:
    """What the LLM service stores: the article's own summary with its tags and terms, or a translation."""
    summary = llm_summary(text_, language)
    if language is None:
        return await replace_summary(session, article_id, summary, ["飞机"], tagger="llm", terms=text_)
    return await store_translation(session, article_id, summary)


async def current(
    sessions: async_sessionmaker[AsyncSession], article_id: int
) -> list[tuple[str | None, str]]:
    """The article's current summaries as (language, text), the article's own first."""
    async with sessions() as session:
        rows = await session.execute(
            select(Summary.language, Summary.text).where(
                Summary.article_id == article_id, Summary.is_current.is_(True)
            )
        )
    return sorted(rows.tuples(), key=lambda row: row[0] or "")


@pytest.mark.parametrize(
    ("language", "earlier"),
    [(None, False), ("en", True), ("en", False)],
    ids=["own", "translation", "first-translation"],
)
async def test_two_processes_replacing_one_summary_at_once_leave_one_current(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    language: str | None,
    earlier: bool,
) -> None:
    """Process A has replaced the summary and not committed yet when process B replaces it too: B waits for
    A, then retires A's summary; the last one committed is the one current. (Before, on PostgreSQL, B's
    UPDATE skipped the row A had retired and could not see A's new one: both stayed current.)"""
    [article_id] = await store(sessions, STORY)
    if earlier:  # a translation made before; else the two make the article's first one in `language`
        async with sessions() as session, session.begin():
            assert await replace(session, article_id, "earlier", language)
    before = await current(sessions, article_id)

    async def b_replaces() -> bool:
        async with other_process() as session, session.begin():
            return await replace(session, article_id, "B", language)

    async with sessions() as a, a.begin():
        assert await replace(a, article_id, "A", language)
        b = asyncio.create_task(b_replaces())
        await queued(database_url, sessions, b, "the second writer")
    assert await asyncio.wait_for(b, timeout=30)

    kept = [row for row in before if row[0] != language]  # the other language's summary stays as it was
    assert await current(sessions, article_id) == sorted([*kept, (language, "B")], key=lambda r: r[0] or "")


async def test_a_replacement_waiting_for_the_articles_deletion_finds_it_gone(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
) -> None:
    """A replacement that waited for the article's deletion says the article is gone, and stores nothing."""
    [article_id] = await store(sessions, STORY)

    async def b_replaces() -> bool:
        async with other_process() as session, session.begin():
            return await replace(session, article_id, "B", None)

    async with sessions() as a, a.begin():
        await a.execute(delete(Article).where(Article.id == article_id))
        b = asyncio.create_task(b_replaces())
        await queued(database_url, sessions, b, "the second writer")
    assert await asyncio.wait_for(b, timeout=30) is False
    async with sessions() as session:
        assert await session.scalar(select(func.count(Summary.id))) == 0


async def test_the_database_refuses_a_second_current_summary(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [article_id] = await store(sessions, STORY)
    async with sessions() as session, session.begin():
        assert await replace(session, article_id, "in English", "en")
    before = await current(sessions, article_id)
    for language in (None, "en"):
        with pytest.raises(IntegrityError):
            async with sessions() as session, session.begin():
                session.add(llm_summary("a second", language, article_id=article_id))
    # older summaries and other languages are welcome
    async with sessions() as session, session.begin():
        session.add(llm_summary("older", None, article_id=article_id, is_current=False))
        session.add(llm_summary("older", "en", article_id=article_id, is_current=False))
        session.add(llm_summary("en français", "fr", article_id=article_id))
    assert await current(sessions, article_id) == [*before, ("fr", "en français")]


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)


def _index_names(connection: Connection) -> set[str]:
    return {str(index["name"]) for index in inspect(connection).get_indexes("summaries")}


async def test_the_migration_keeps_the_newest_of_several_current_summaries(database_url: str) -> None:
    """A database at 0010 where concurrent replacements left an article several current summaries, in its
    own language and in English: at 0011 the newest (highest id) of each is the current one, and the indexes
    are in place. Other articles and languages are untouched."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        # stored as today's ingestion stores them (it writes tables 0010 did not have), then taken back
        await upgrade_schema(engine)
        doubled, other = await store(sessions, STORY, OTHER)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0010", down=True)
        async with sessions() as session, session.begin():
            for text_, language in [("own 2", None), ("en 1", "en"), ("own 3", None), ("en 2", "en")]:
                session.add(llm_summary(text_, language, article_id=doubled))
                await session.flush()  # ids in this order
            session.add(llm_summary("fr", "fr", article_id=doubled))
            session.add(llm_summary("older", None, article_id=other, is_current=False))
        other_before = await current(sessions, other)
        assert len(await current(sessions, doubled)) == 6

        await upgrade_schema(engine)

        assert await current(sessions, doubled) == [(None, "own 3"), ("en", "en 2"), ("fr", "fr")]
        assert await current(sessions, other) == other_before
        async with sessions() as session:
            history = await session.scalar(
                select(func.count(Summary.id)).where(
                    Summary.article_id == doubled, Summary.is_current.is_(False)
                )
            )
        assert history == 3  # the extractive summary, "own 2" and "en 1" stay, as history
        async with engine.connect() as connection:
            assert ONE_CURRENT_INDEXES <= await connection.run_sync(_index_names)
        with pytest.raises(IntegrityError):
            async with sessions() as session, session.begin():
                session.add(llm_summary("a second", None, article_id=doubled))

        async with engine.begin() as connection:
            await connection.run_sync(_migrate, "0010", down=True)
            assert not ONE_CURRENT_INDEXES & await connection.run_sync(_index_names)
    finally:
        await engine.dispose()
