"""Waiting in tests for what another task or process does: poll a condition, fail naming what never came."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# seconds a second SQLite writer is given to queue behind a transaction held open
SQLITE_QUEUE = 0.3


async def wait_until(
    condition: Callable[[], object], what: str, seconds: float = 30, *, poll: float = 0.05
) -> None:
    """Return once `condition()` (sync or async) is truthy; an AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(poll)


def free_port() -> int:
    """A TCP port nobody listens on at the moment (for a server the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def lock_waits(sessions: async_sessionmaker[AsyncSession]) -> int:
    """PostgreSQL: backends of this database waiting for a lock. A session of its own each time: PostgreSQL
    keeps one snapshot of pg_stat_activity for the rest of a transaction."""
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "select count(*) from pg_stat_activity"
                " where datname = current_database() and wait_event_type = 'Lock'"
            )
        )
    return int(waiting or 0)


async def queued(
    database_url: str, sessions: async_sessionmaker[AsyncSession], task: asyncio.Task[Any], what: str
) -> None:
    """Return once `task`, started while the caller holds a transaction open, waits behind it (PostgreSQL:
    seen waiting for a lock) or is done; SQLite shows no such wait, so the task gets a moment to queue. On
    failure the task is cancelled."""
    try:
        if database_url.startswith("postgresql"):
            await wait_until(
                lambda: task.done() or lock_waits(sessions), f"{what} to wait for a lock or finish"
            )
        else:
            await asyncio.sleep(SQLITE_QUEUE)
    except BaseException:
        task.cancel()
        raise
