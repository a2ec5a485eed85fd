"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import SCHEMA_HEAD, alembic_config, is_schema_object, make_engine, upgrade_schema
from db.models import Article, Base, Source, StoryCopy, StoryPublisher


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": is_schema_object}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models_and_rerun_as_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade_schema(engine)
        await upgrade_schema(engine)  # already at head: nothing to do, no error
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
            version = (await connection.execute(text("select version_num from alembic_version"))).scalar_one()
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        await engine.dispose()


async def test_a_database_one_migration_behind_is_upgraded(database_url: str) -> None:
    def upgrade_to_previous(connection: Connection) -> None:
        previous = ScriptDirectory.from_config(alembic_config()).get_revision(SCHEMA_HEAD).down_revision
        command.upgrade(alembic_config(connection), str(previous))

    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to_previous)
        await upgrade_schema(engine)
        async with engine.connect() as connection:
            version = (await connection.execute(text("select version_num from alembic_version"))).scalar_one()
            assert await connection.run_sync(_diff) == []
        assert version == SCHEMA_HEAD
    finally:
        await engine.dispose()


async def test_the_story_publishers_migration_fills_them_from_stored_articles_and_copies(
    database_url: str,
) -> None:
    """0016 records each story's publishers from the articles and copies stored before it: each pair once, a
    story's own articles and its members' copies alike, an article in no story in none."""

    def upgrade_to(revision: str) -> Callable[[Connection], None]:
        return lambda connection: command.upgrade(alembic_config(connection), revision)

    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0015"))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        when = datetime(2026, 11, 28, tzinfo=UTC)
        async with sessions() as session, session.begin():
            def article(n: int, publisher: str, story: int | None) -> Article:
                return Article(
                    id=n, title=f"t{n}", link=f"https://e.com/{n}", publisher=publisher, listed_at=when,
                    ingested_at=when, text="x", html="", content_hash=f"h{n}", language="zh",
                    story_id=story, is_story_lead=story == n,
                )

            stories = [(1, "A", 1), (2, "B", 1), (3, "A", 1), (4, "A", 4), (5, "C", None)]
            session.add_all(article(*values) for values in stories)
            await session.flush()
            session.add_all(
                StoryCopy(article_id=n, publisher=p, title=f"c{n}{p}", ingested_at=when)
                for n, p in [(3, "D"), (3, "B"), (1, "D"), (4, "E"), (5, "F")]
            )
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to("0016"))
        async with sessions() as session:
            rows = (await session.execute(select(StoryPublisher.story_id, StoryPublisher.publisher))).tuples()
            assert sorted(rows) == [(1, "A"), (1, "B"), (1, "D"), (4, "A"), (4, "E")]
    finally:
        await engine.dispose()


def test_schema_head_is_the_newest_migration() -> None:
    # upgrade_schema skips Alembic when a database is at SCHEMA_HEAD: a new migration must move it
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [SCHEMA_HEAD]


async def test_timestamps_come_back_as_aware_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    shanghai = timezone(timedelta(hours=8))
    async with sessions() as session, session.begin():
        session.add(
            Source(
                kind="feed",
                url="https://example.com/feed",
                name="example",
                active=True,
                error_streak=0,
                created_at=datetime(2021, 7, 12, 15, 25, 10, tzinfo=shanghai),
            )
        )
    async with sessions() as session:
        stored = await session.scalar(select(Source))
    assert stored is not None
    assert stored.created_at == datetime(2021, 7, 12, 7, 25, 10, tzinfo=UTC)
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
