"""Many newsbot processes starting at once on one new database: the schema upgrade at start takes a lock
(PostgreSQL: an advisory lock; SQLite: a file lock beside the database file), so one of them migrates and the
others wait and then find the schema at head.

To make the race real rather than a matter of luck, the "let go together" tests start behind a barrier: the
test itself holds the database's first write (PostgreSQL: an open transaction that has made `alembic_version`;
SQLite: the write lock of an empty WAL file it made) until every starter is held up behind it, then lets go,
so that they all come at the migration together. Without the lock all but one of them then fail ("table
alembic_version already exists", or PostgreSQL's duplicate key in pg_type_typname_nsp_index). The "started
together" tests have no barrier; on SQLite they start from a file that does not exist yet, which
upgrade_schema locks before its first connection (that one makes the file and turns it to WAL).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Protocol

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import LOCK_SUFFIX, SCHEMA_UPGRADE_LOCK_KEY, alembic_config, make_engine, upgrade_schema

STARTERS = 6
COMMANDS = (["feeds", "list"], ["stats"])  # taken in turn
# Seconds. Guards against hangs only; reaching one fails the test. (Upgrades in one process without the lock
# can hang rather than fail: Alembic's `op` and `context` are module-wide proxies, so one engine's migration
# can go out on another's connection, which waits for the first one's transaction.)
BARRIER_DEADLINE = 120.0
HANG_GUARD = 120.0
# Seconds from "every starter has the SQLite file open" to letting go of the write lock: /proc cannot show a
# busy-timeout wait, but a starter that has the file open asks for the write lock within milliseconds.
SQLITE_SETTLE = 1.0


class Barrier(Protocol):
    async def wait(self, starters: int, pids: Sequence[int], gone: Callable[[], bool]) -> None:
        """Return once `starters` connections (made by processes `pids`) are held up at the database, or as
        soon as `gone()` says a starter has ended already."""


def _open_handles(pids: Sequence[int], target: Path) -> int:
    """How many file descriptors of these processes point at `target` (Linux /proc)."""
    count = 0
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone
            continue
        for name in names:
            try:
                if Path(os.readlink(f"/proc/{pid}/fd/{name}")) == target:
                    count += 1
            except OSError:
                continue
    return count


class _SqliteWriteHeld:
    """The write lock of the (empty, WAL) database file, held by the test: starters read on, and queue (busy
    timeout) for their first write."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.holder = sqlite3.connect(self.path, isolation_level=None)
        self.holder.execute("PRAGMA journal_mode=WAL")  # as newsbot sets it on every connection
        self.holder.execute("BEGIN IMMEDIATE")

    async def wait(self, starters: int, pids: Sequence[int], gone: Callable[[], bool]) -> None:
        own = 1 if os.getpid() in pids else 0  # the holder's handle, when the starters are in this process
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BARRIER_DEADLINE
        while not gone() and _open_handles(pids, self.path) - own < starters:
            assert loop.time() < deadline, "the starters never all reached the database"
            await asyncio.sleep(0.05)
        await asyncio.sleep(SQLITE_SETTLE)

    def release(self) -> None:
        self.holder.execute("ROLLBACK")
        self.holder.close()


class _PostgresWriteHeld:
    """An open transaction that has created `alembic_version`: another CREATE of that name waits for it to
    end. `monitor` is another connection: inside a transaction, pg_stat_activity stays as first read."""

    def __init__(self, monitor: asyncpg.Connection, database: str) -> None:
        self.monitor = monitor
        self.database = database

    async def waiting(self) -> int:
        value = await self.monitor.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            self.database,
        )
        return int(value)

    async def wait(self, starters: int, pids: Sequence[int], gone: Callable[[], bool]) -> None:
        # each starter ends up waiting for a lock: for this transaction, or for a starter that waits for it
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BARRIER_DEADLINE
        while not gone() and await self.waiting() < starters:
            assert loop.time() < deadline, "the starters never all reached the database"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def first_write_held(database_url: str) -> AsyncIterator[Barrier]:
    """Hold the new database's first write for the block; leaving it lets the starters go."""
    url = make_url(database_url)
    assert url.database
    if url.get_backend_name() == "sqlite":
        sqlite_barrier = _SqliteWriteHeld(Path(url.database))
        try:
            yield sqlite_barrier
        finally:
            sqlite_barrier.release()
        return
    place = {"host": url.host, "port": url.port or 5432, "user": url.username, "password": url.password}
    holder = await asyncpg.connect(**place, database=url.database)
    monitor = await asyncpg.connect(**place, database=url.database)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL)")
        try:
            yield _PostgresWriteHeld(monitor, url.database)
        finally:
            await transaction.rollback()  # the table was only ever the barrier
    finally:
        await monitor.close()
        await holder.close()


async def start_newsbots(
    processes: list[asyncio.subprocess.Process], newsbot: str, database_url: str, count: int
) -> None:
    """Start `count` newsbot commands on `database_url` one right after another; add them to `processes`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    for i in range(count):
        process = await asyncio.create_subprocess_exec(
            newsbot,
            *COMMANDS[i % len(COMMANDS)],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)


@asynccontextmanager
async def killed_when_left(processes: list[asyncio.subprocess.Process]) -> AsyncIterator[None]:
    """Any of `processes` still running when the block is left is killed."""
    try:
        yield
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.communicate()


async def outcomes(processes: Sequence[asyncio.subprocess.Process]) -> list[tuple[int | None, str]]:
    """(exit status, stderr) of each process, once all have ended."""
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), HANG_GUARD)
    return [(p.returncode, err.decode()) for p, (_out, err) in zip(processes, outputs, strict=True)]


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def _revision(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return str(result.scalar_one())
    finally:
        await engine.dispose()


async def test_newsbot_processes_let_go_together_on_a_new_database_all_start(
    newsbot: str, database_url: str
) -> None:
    """Six `newsbot` commands held at the first write of an empty database, then let go together."""
    processes: list[asyncio.subprocess.Process] = []
    async with killed_when_left(processes):
        async with first_write_held(database_url) as barrier:
            await start_newsbots(processes, newsbot, database_url, STARTERS)
            await barrier.wait(
                STARTERS, [p.pid for p in processes], lambda: any(p.returncode is not None for p in processes)
            )
        ended = await outcomes(processes)
    assert [status for status, _ in ended] == [0] * STARTERS, [err for _, err in ended]
    assert await _revision(database_url) == _head()


async def test_newsbot_processes_started_together_create_a_missing_sqlite_file(
    newsbot: str, tmp_path: Path
) -> None:
    """No barrier: six `newsbot` commands started at once on a database file that does not exist yet."""
    (tmp_path / "data").mkdir()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'newsbot.db'}"
    processes: list[asyncio.subprocess.Process] = []
    async with killed_when_left(processes):
        await start_newsbots(processes, newsbot, database_url, STARTERS)
        ended = await outcomes(processes)
    assert [status for status, _ in ended] == [0] * STARTERS, [err for _, err in ended]
    assert await _revision(database_url) == _head()


@asynccontextmanager
async def engines_on(database_url: str, count: int) -> AsyncIterator[list[AsyncEngine]]:
    engines = [make_engine(database_url) for _ in range(count)]
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


async def test_upgrade_schema_on_engines_let_go_together_in_one_event_loop(database_url: str) -> None:
    """Six engines in one event loop, each upgrading the same empty database, held at its first write and
    then let go together."""
    async with engines_on(database_url, STARTERS) as engines:
        upgrades: list[asyncio.Task[None]] = []
        try:
            async with first_write_held(database_url) as barrier:
                upgrades += [asyncio.create_task(upgrade_schema(engine)) for engine in engines]
                await barrier.wait(STARTERS, [os.getpid()], lambda: any(task.done() for task in upgrades))
            results = await asyncio.wait_for(asyncio.gather(*upgrades, return_exceptions=True), HANG_GUARD)
        finally:
            for task in upgrades:
                task.cancel()
    assert [result for result in results if result is not None] == []
    assert await _revision(database_url) == _head()


async def test_upgrade_schema_on_engines_started_together_in_one_event_loop(database_url: str) -> None:
    """Six engines in one event loop upgrading a new database at once, with no barrier."""
    async with engines_on(database_url, STARTERS) as engines:
        upgrades = asyncio.gather(*(upgrade_schema(engine) for engine in engines), return_exceptions=True)
        results = await asyncio.wait_for(upgrades, HANG_GUARD)
    assert [result for result in results if result is not None] == []
    assert await _revision(database_url) == _head()


def _flock_upgrade_lock(database: str) -> tuple[IO[str], str]:
    """Lock the SQLite database's upgrade lock file; returns the open file and its /proc/locks marker."""
    database_file = Path(database).resolve()
    held = database_file.with_name(database_file.name + LOCK_SUFFIX).open("a")
    fcntl.flock(held, fcntl.LOCK_EX)
    return held, f":{os.fstat(held.fileno()).st_ino} "


def _flock_waiters(marker: str) -> bool:
    """Whether /proc/locks lists a process waiting (->) for the lock with this marker."""
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and marker in line for line in lines)


@asynccontextmanager
async def lock_held_elsewhere(database_url: str) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
    """Hold the schema upgrade lock as another process would; yields `waited_for()`, true while an upgrade
    is waiting for it. Leaving the block lets go."""
    url = make_url(database_url)
    assert url.database
    if url.get_backend_name() == "sqlite":
        held, marker = _flock_upgrade_lock(url.database)
        with held:

            async def flock_waited_for() -> bool:
                return _flock_waiters(marker)

            yield flock_waited_for
        return
    place = {"host": url.host, "port": url.port or 5432, "user": url.username, "password": url.password}
    holder = await asyncpg.connect(**place, database=url.database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", SCHEMA_UPGRADE_LOCK_KEY)

        async def advisory_waited_for() -> bool:
            waiting = await holder.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'",
                url.database,
            )
            return bool(waiting)

        yield advisory_waited_for
    finally:
        await holder.close()


async def test_an_upgrade_waits_for_the_lock_then_migrates(database_url: str) -> None:
    async with engines_on(database_url, 1) as (engine,):
        async with lock_held_elsewhere(database_url) as waited_for:
            upgrade = asyncio.create_task(upgrade_schema(engine))
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + HANG_GUARD
                while not upgrade.done() and not await waited_for():
                    assert loop.time() < deadline, "the upgrade neither ended nor waited for the lock"
                    await asyncio.sleep(0.05)
                assert not upgrade.done(), upgrade
            except BaseException:
                upgrade.cancel()
                raise
        await asyncio.wait_for(upgrade, HANG_GUARD)
    assert await _revision(database_url) == _head()


async def test_a_schema_at_head_does_not_wait_for_the_lock(database_url: str) -> None:
    async with engines_on(database_url, 2) as (first, second):
        await upgrade_schema(first)
        async with lock_held_elsewhere(database_url):
            # would wait until the block ends, and so forever, if it took the lock
            await asyncio.wait_for(upgrade_schema(second), HANG_GUARD)
    assert await _revision(database_url) == _head()
