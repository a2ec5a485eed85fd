"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import SCHEMA_HEAD, alembic_config, is_schema_object, make_engine, upgrade_schema
from db.models import Base, Source


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
