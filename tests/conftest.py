"""Shared fixtures: a clean environment, the shared corpus, real databases (SQLite file and PostgreSQL), the
installed `newsbot` console script, and the fake Telegram server with a real `telegram.Bot` pointed at it.

PostgreSQL tests run against TEST_DATABASE_URL (default: the local server's `test` database). Each test gets a
database of its own, created on that server and dropped afterwards; when no server answers, those tests skip
and say why.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.config import Settings
from bot.telegram_request import AiohttpRequest
from db.engine import make_engine, make_sessionmaker, upgrade_schema
from tests.fakes.telegram_server import FakeTelegram

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SETTING_NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's shell or a .env file: each test starts in an empty folder."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    # PTB 22 warns (an error under our filterwarnings) unless told to hand out retry_after as a timedelta
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (../shared/corpus beside the checkout)")
    return CORPUS


@pytest.fixture
def newsbot() -> str:
    """The installed `newsbot` console script beside this interpreter; the test skips when it is missing."""
    script = Path(sys.executable).with_name("newsbot")
    if not script.exists():
        pytest.skip(f"the newsbot console script is not installed beside {sys.executable}")
    return str(script)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """The fake Telegram Bot API server (tests/fakes/telegram_server.py), on a free local port."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    """A real, initialized `telegram.Bot` talking to `fake_telegram` on the backend the Application's bot uses
    (`bot.telegram_request`), with a connection for each request the outbox sender has in flight."""
    request = AiohttpRequest(connections=16)
    client = Bot(fake_telegram.token, base_url=fake_telegram.base_url, request=request)
    await client.initialize()
    try:
        yield client
    finally:
        await client.shutdown()


async def _pg_admin_url() -> str | None:
    """The PostgreSQL URL to create test databases with, or None when no server answers."""
    import asyncpg

    url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL))
    try:
        connection = await asyncio.wait_for(
            asyncpg.connect(
                host=url.host,
                port=url.port or 5432,
                user=url.username,
                password=url.password,
                database=url.database,
            ),
            timeout=5,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return None
    await connection.close()
    return url.render_as_string(hide_password=False)


_pg_probe: dict[str, str | None] = {}


async def _create_pg_database() -> tuple[str, str]:
    import asyncpg

    if "url" not in _pg_probe:
        _pg_probe["url"] = await _pg_admin_url()
    admin = _pg_probe["url"]
    if admin is None and os.environ.get("NEWSBOT_REQUIRE_POSTGRES"):
        pytest.fail("NEWSBOT_REQUIRE_POSTGRES is set but PostgreSQL is not reachable at TEST_DATABASE_URL")
    if admin is None:
        pytest.skip(
            "PostgreSQL not reachable at TEST_DATABASE_URL "
            f"({os.environ.get('TEST_DATABASE_URL', DEFAULT_PG_URL)}); PostgreSQL variants skipped"
        )
    url = make_url(admin)
    name = f"newsbot_t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin, url.set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(admin: str, test_url: str) -> None:
    import asyncpg

    url = make_url(admin)
    name = make_url(test_url).database
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'newsbot-test.db'}"
        return
    admin, url = asyncio.run(_create_pg_database())
    try:
        yield url
    finally:
        asyncio.run(_drop_pg_database(admin, url))


@pytest.fixture
async def other_process(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions of a second engine on the same database, as a second newsbot process has (the schema is
    made by the `sessions` fixture)."""
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    await upgrade_schema(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
