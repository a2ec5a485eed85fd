"""Outbox claims and the sender lease on both databases: what several sender processes rely on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import make_engine, make_sessionmaker
from db.models import OutboxMessage, Subscriber
from db.outbox import OutboxRepo

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def fill(sessions: Sessions, chats: int, parts: int = 1) -> None:
    async with sessions() as session, session.begin():
        subscribers = [Subscriber(chat_id=n, kind="private", created_at=T0) for n in range(1, chats + 1)]
        session.add_all(subscribers)
        await session.flush()
        for subscriber in subscribers:
            chunks = [f"{subscriber.chat_id}-{p}" for p in range(parts)]
            await OutboxRepo(session).enqueue(subscriber=subscriber, chunks=chunks, delivery_id=None, now=T0)


async def claim(
    sessions: Sessions, holder: str, *, now: datetime = T0, limit: int = 1000
) -> list[OutboxMessage]:
    async with sessions() as session, session.begin():
        return await OutboxRepo(session).claim(holder=holder, now=now, until=now + LEASE, limit=limit)


async def test_concurrent_claims_take_different_rows(database_url: str, sessions: Sessions) -> None:
    """Four claimers on their own engines (as four processes would be) at once: every row once."""
    await fill(sessions, chats=400)
    engines = [make_engine(database_url) for _ in range(4)]
    try:
        makers = [make_sessionmaker(e) for e in engines]

        async def claim_all(maker: Sessions, holder: str) -> list[int]:
            ids: list[int] = []
            while rows := await claim(maker, holder, limit=25):
                ids += [m.id for m in rows]
            return ids

        taken = await asyncio.gather(*(claim_all(m, f"p{n}") for n, m in enumerate(makers)))
    finally:
        for engine in engines:
            await engine.dispose()
    every = [i for ids in taken for i in ids]
    assert len(every) == len(set(every)) == 400
    async with sessions() as session:
        rows = await session.execute(select(OutboxMessage.id, OutboxMessage.claimed_by))
        holders = dict(rows.tuples().all())
    for n, ids in enumerate(taken):
        assert all(holders[i] == f"p{n}" for i in ids)


async def test_claims_run_out_and_a_chat_keeps_its_order(sessions: Sessions) -> None:
    await fill(sessions, chats=2, parts=3)
    first = await claim(sessions, "dead", limit=2)  # chat 1's first two parts, then the process dies
    assert [(m.chat_id, m.seq) for m in first] == [(1, 0), (1, 1)]
    # while the claim lasts, another sender leaves chat 1 alone entirely (its part 2 must not go first)
    second = await claim(sessions, "alive", now=T0 + timedelta(seconds=1))
    assert {m.chat_id for m in second} == {2}
    # after it ran out, chat 1's parts are taken over, in order
    later = await claim(sessions, "alive", now=T0 + LEASE + timedelta(seconds=1))
    assert [(m.chat_id, m.seq) for m in later] == [(1, 0), (1, 1), (1, 2)]


async def test_released_and_extended_claims(sessions: Sessions) -> None:
    await fill(sessions, chats=3)
    assert len(await claim(sessions, "a")) == 3
    async with sessions() as session, session.begin():
        repo = OutboxRepo(session)
        assert await repo.extend_claims(holder="a", until=T0 + 2 * LEASE) == 3
        assert await repo.release_claims(holder="a", chat_id=2) == 1
        assert await repo.has_claimable(holder="b", now=T0 + timedelta(seconds=1))  # chat 2
    # chat 2 is free again; 1 and 3 are still held (extended past the first lease)
    assert [m.chat_id for m in await claim(sessions, "b", now=T0 + LEASE + timedelta(seconds=1))] == [2]


async def test_replies_are_claimed_first(sessions: Sessions) -> None:
    await fill(sessions, chats=5)
    async with sessions() as session, session.begin():
        await OutboxRepo(session).enqueue_reply(
            chat_id=99, chat_kind="private", chunks=["a", "b"], reply_markup='{"inline_keyboard": []}', now=T0
        )
    rows = await claim(sessions, "a", limit=2)
    assert [(m.chat_id, m.text, m.reply_markup) for m in rows] == [
        (99, "a", None),
        (99, "b", '{"inline_keyboard": []}'),
    ]
    assert rows[0].subscriber_id is None  # a chat newsbot keeps no record of


async def test_the_sender_lease(database_url: str, sessions: Sessions) -> None:
    async def take(holder: str, now: datetime) -> bool:
        async with sessions() as session, session.begin():
            repo = OutboxRepo(session)
            return (await repo.take_lease("telegram:x", holder=holder, now=now, until=now + LEASE)).held

    assert await take("a", T0)
    assert not await take("b", T0 + timedelta(seconds=10))  # a holds it
    assert await take("a", T0 + timedelta(seconds=20))  # renewed: until T0 + 50 s
    assert not await take("b", T0 + timedelta(seconds=45))
    assert await take("b", T0 + timedelta(seconds=51))  # a stopped renewing: b takes over
    async with sessions() as session, session.begin():
        repo = OutboxRepo(session)
        assert await repo.lease_holder("telegram:x", now=T0 + timedelta(seconds=52)) == "b"
        await repo.release_lease("telegram:x", holder="b", now=T0 + timedelta(seconds=53))
        assert await repo.lease_holder("telegram:x", now=T0 + timedelta(seconds=54)) is None
    assert await take("a", T0 + timedelta(seconds=54))

    # two processes asking at the same moment: one gets it
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        results = []
        for n, engine in enumerate(engines):
            results.append(_take_on(make_sessionmaker(engine), f"racer{n}", T0 + timedelta(hours=1)))
        held = await asyncio.gather(*results)
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(held) == [False, True]


async def _take_on(sessions: Sessions, holder: str, now: datetime) -> bool:
    async with sessions() as session, session.begin():
        repo = OutboxRepo(session)
        return (await repo.take_lease("telegram:y", holder=holder, now=now, until=now + LEASE)).held
