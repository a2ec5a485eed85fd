"""The values buttons carry as keys (db/callback_values.py), kept by several processes on one database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.callback_values import REOFFER_AFTER, CallbackValueRepo
from db.models import CallbackValue

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def keep(sessions: Sessions, values: dict[str, str], now: datetime = NOW) -> None:
    async with sessions() as session, session.begin():
        await CallbackValueRepo(session).keep(values, now=now)


async def stored(sessions: Sessions) -> dict[str, tuple[str, datetime]]:
    async with sessions() as session:
        rows = await session.execute(select(CallbackValue.key, CallbackValue.value, CallbackValue.offered_at))
        return {key: (value, at) for key, value, at in rows.tuples()}


async def test_two_processes_keeping_the_same_keys_at_once_agree(
    sessions: Sessions, other_process: Sessions
) -> None:
    values = {f"k{i:02}": f"话题{i}" for i in range(20)}
    for round_ in range(10):
        # overlapping sets, written at once from two engines: no unique violation, no deadlock
        first = {k: v for k, v in values.items() if int(k[1:]) % 3 != round_ % 3}
        second = {k: v for k, v in reversed(values.items()) if int(k[1:]) % 2 == round_ % 2}
        await asyncio.gather(keep(sessions, first), keep(other_process, second))
    assert {key: value for key, (value, _) in (await stored(sessions)).items()} == values
    async with other_process() as session:
        assert await CallbackValueRepo(session).find("k07") == "话题7"
        assert await CallbackValueRepo(session).find("nothing") is None


async def test_a_value_offered_again_is_kept_longer_and_old_ones_are_forgotten(sessions: Sessions) -> None:
    await keep(sessions, {"old": "旧", "again": "再", "soon": "近"})
    await keep(sessions, {"again": "再"}, NOW + REOFFER_AFTER / 2)  # too soon to write anything
    assert (await stored(sessions))["again"][1] == NOW
    later = NOW + timedelta(days=20)
    await keep(sessions, {"again": "再", "new": "新"}, later)
    assert (await stored(sessions))["again"][1] == later
    async with sessions() as session, session.begin():
        assert await CallbackValueRepo(session).forget(before=NOW + timedelta(days=1)) == 2
    assert sorted(await stored(sessions)) == ["again", "new"]


async def test_forgetting_never_waits_for_a_value_being_offered_again(
    sessions: Sessions, other_process: Sessions, database_url: str
) -> None:
    """A row another transaction holds is left for next time (PostgreSQL; SQLite has no row locks)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite locks the whole database: there is no row lock to skip")
    await keep(sessions, {"held": "占", "free": "空"})
    async with other_process() as holder, holder.begin():
        await CallbackValueRepo(holder).keep({"held": "占"}, now=NOW + timedelta(days=40))
        async with sessions() as session, session.begin():
            forgotten = await asyncio.wait_for(
                CallbackValueRepo(session).forget(before=NOW + timedelta(days=30)), timeout=10
            )
        assert forgotten == 1
    assert sorted(await stored(sessions)) == ["held"]
