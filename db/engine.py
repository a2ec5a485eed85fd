"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg), and schema upgrades
on start."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import asyncpg
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision (db/migrations/versions). A start whose database is already there need not
# import Alembic (~0.1 s of every command's start); tests/db/test_schema.py checks it is Alembic's head.
SCHEMA_HEAD = "0016"

# The PostgreSQL advisory lock that schema upgrades hold: any fixed 64-bit number, the same in every newsbot
# process ("newsbot1" in ASCII). Advisory locks belong to one database: two newsbot databases on one server
# do not wait for each other.
SCHEMA_UPGRADE_LOCK_KEY = 0x6E657773626F7431
# The file beside a SQLite database file that schema upgrades lock (flock), e.g. newsbot.db.migrate-lock
LOCK_SUFFIX = ".migrate-lock"


def make_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    A PostgreSQL URL is read the way libpq reads it (see `asyncpg_dsn`), as operators and hosted PostgreSQL
    providers write it: `?sslmode=require`, `sslrootcert=...`, `application_name=...`, `connect_timeout=5`.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    dsn, timeout = asyncpg_dsn(url)

    async def connect() -> Any:
        # asyncpg's own URL reading knows libpq's options; SQLAlchemy would pass each as a keyword argument,
        # and asyncpg.connect() takes none of them (a TypeError traceback for `?application_name=`)
        return await asyncpg.connect(dsn, **({"timeout": timeout} if timeout is not None else {}))

    return create_async_engine(url.set(query={}), echo=echo, pool_pre_ping=True, async_creator=connect)


def asyncpg_dsn(url: URL) -> tuple[str, float | None]:
    """The DSN asyncpg connects with, and the connect timeout in seconds (None: asyncpg's default).

    The query is libpq's: sslmode, sslrootcert, sslcert, sslkey, sslcrl, passfile, target_session_attrs
    work as written, and any other parameter (application_name, options) goes to the server as a setting,
    so that a wrong one is the server's one-line error. `ssl=` (SQLAlchemy's asyncpg spelling) is taken
    as sslmode and wins over it; libpq's connect_timeout becomes asyncpg's timeout.
    """
    query = {key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()}
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    timeout = None
    if "connect_timeout" in query:
        seconds = query.pop("connect_timeout")
        try:
            timeout = float(seconds)
        except ValueError:
            raise ValueError(f"connect_timeout must be a number of seconds, not {seconds!r}") from None
    plain = URL.create(
        "postgresql",
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
        query=query,
    )
    return plain.render_as_string(hide_password=False), timeout


# What newsbot's SQL needs of SQLite: RETURNING (3.35), and the JSON functions (built in since 3.38, in most
# builds before as the JSON1 extension) that lists of ids and a digest candidate's tags go through.
SQLITE_MIN_VERSION = (3, 35, 0)


def sqlite_shortfall(version: str, has_json: bool) -> str | None:
    """What an SQLite library of `version` lacks that newsbot needs, in one line; None when nothing."""
    numbers = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
    wanted = ".".join(map(str, SQLITE_MIN_VERSION))
    if numbers < SQLITE_MIN_VERSION:
        return f"SQLite {version} is too old: newsbot needs {wanted} or newer (RETURNING)"
    if not has_json:
        return f"SQLite {version} is built without its JSON functions (JSON1), which newsbot needs"
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # checked on connecting, so that an unusable library is one line at start-up, not an error in every read
    cursor.execute("SELECT sqlite_version()")
    version = str(cursor.fetchone()[0])
    try:
        cursor.execute("SELECT json_array(1)")
        has_json = True
    except sqlite3.OperationalError:  # "no such function"
        has_json = False
    missing = sqlite_shortfall(version, has_json)
    if missing is not None:
        cursor.close()
        raise sqlite3.NotSupportedError(missing)
    # WAL lets the bot read while an import writes; NORMAL is durable across application crashes.
    # WAL is a setting of the database file, made once: asked for only when the file is not in WAL yet, as
    # switching takes a write lock, and two connections switching a new file at once can fail at once with
    # "database is locked" (no busy timeout there). Reading the mode waits for a switch under way.
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def take_sqlite_write_lock(session: AsyncSession) -> None:
    """SQLite has no row locks: take its write lock now, before the transaction reads, so that what it reads
    and what it writes by it are one step for every process (they wait here). Nothing on PostgreSQL."""
    if session.bind.dialect.name == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))


async def lock_transaction(session: AsyncSession, key: int) -> None:
    """Make the caller's transaction the only one holding `key` until it ends, in any process: PostgreSQL by
    an advisory transaction lock on `key`, SQLite by its write lock (`take_sqlite_write_lock`)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    else:
        await take_sqlite_write_lock(session)


# dialect-specific full-text objects made by migrations 0004 and 0010, not described by the models
FULL_TEXT_OBJECTS = ("article_terms_fts", "ix_article_terms_fts", "terms_vector", "ix_article_terms_vector")


def is_schema_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's include_object: compare everything but the full-text objects."""
    return not (name or "").startswith(FULL_TEXT_OBJECTS)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def _at_head(connection: Connection) -> bool:
    """Whether the database's Alembic revision is already the newest one of the migrations here
    (read from Alembic's own table, as Alembic reads it)."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current == [SCHEMA_HEAD]


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision; a no-op when it is already there.

    Any number of processes (and engines in one process) may call this at once on one database: the upgrade
    runs under a lock, so one of them migrates and the others wait, then find the schema at head. The usual
    start, a schema already at head, takes no lock and waits for nothing.
    """
    lock_path: Path | None = None
    database_file = _sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
    if database_file is not None:
        lock_path = database_file.with_name(database_file.name + LOCK_SUFFIX)
        if _is_new(database_file):
            # a new file cannot be at head: lock before the first connection too, which makes the file and
            # turns it to WAL (_sqlite_pragmas), so that starters do not do that at once
            async with _file_locked(lock_path), engine.begin() as connection:
                await connection.run_sync(_upgrade)
            return
    async with engine.connect() as connection:
        if await connection.run_sync(_at_head):
            return
        await connection.rollback()  # end the check's transaction: the upgrade runs in one of its own
        if engine.dialect.name == "postgresql":
            async with connection.begin():
                # Held by this transaction, on the connection Alembic uses, until it commits or rolls back
                # (or the connection is lost). Alembic reads the revision after it is granted, so a process
                # that waited finds the schema at head and does nothing.
                await connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_UPGRADE_LOCK_KEY)))
                await connection.run_sync(_upgrade)
            return
        async with _file_locked(lock_path), connection.begin():
            await connection.run_sync(_upgrade)


# SQLite: a file lock (flock) on a file beside the database rather than BEGIN EXCLUSIVE on Alembic's
# connection. It does not touch how the pysqlite/aiosqlite driver runs transactions (BEGIN EXCLUSIVE needs
# isolation_level=None on that connection, set and put back, and the pooled connection must not keep it); it
# can be taken before the database file exists, so that for a new file it also covers the first connection,
# which makes the file and turns it to WAL; a waiter waits as long as the upgrade takes rather than failing
# after the 30 s busy timeout; and the kernel lets go of it when the holder's process dies. flock locks
# belong to an open file, so engines in one process exclude each other too (Alembic must not run twice at
# once in one process either: its `op` and `context` are module-wide). The lock file stays (empty) beside
# the database; removing it while nobody migrates is harmless.


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, resolved (so every spelling of the path names the same lock
    file), or None for an in-memory database, which is its connection's own and needs no lock."""
    database = url.database or ""
    if url.query.get("mode") == "memory":
        return None
    uri = str(url.query.get("uri", "")).lower() in ("true", "1", "yes", "on")
    if uri and database.startswith("file:"):  # a URI filename: file:path?query or file:///path
        parts = urlsplit(database)
        if "mode=memory" in parts.query:
            return None
        database = unquote(parts.path)
    if database in ("", ":memory:"):
        return None
    return Path(database).resolve()


def _is_new(database_file: Path) -> bool:
    """Whether the database file is yet to be made (missing or empty) in a folder that exists. (In a
    missing folder, connecting fails as it always has: "unable to open database file".)"""
    try:
        return database_file.stat().st_size == 0
    except FileNotFoundError:
        return database_file.parent.is_dir()


def _lock_file(path: Path) -> int:
    """Open (create) `path` and wait for an exclusive flock on it; returns the descriptor that holds it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _close_once_locked(waiting: asyncio.Future[int]) -> None:
    """For a lock wait given up on (cancelled): once the thread has the lock, close it, which lets go."""
    if not waiting.cancelled() and waiting.exception() is None:
        os.close(waiting.result())


@asynccontextmanager
async def _file_locked(path: Path | None) -> AsyncIterator[None]:
    """Hold an exclusive flock on `path` for the block (no lock when `path` is None). The wait runs in a
    worker thread, so the event loop goes on meanwhile."""
    if path is None:
        yield
        return
    waiting = asyncio.get_running_loop().run_in_executor(None, _lock_file, path)
    try:
        # shielded: cancelling the wait cannot stop the thread, which may still get the lock afterwards
        descriptor = await asyncio.shield(waiting)
    except asyncio.CancelledError:
        waiting.add_done_callback(_close_once_locked)
        raise
    try:
        yield
    finally:
        os.close(descriptor)  # the only descriptor of this open file: closing it lets go of the lock
