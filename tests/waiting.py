"""Waiting in tests for what another task or process does: poll a condition, fail naming what never came."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


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
