"""The daily digest run by several processes on one database: each chat's digest is stored once per local
day, by whichever process gets there first; the others find it done and go on, never stopping at an error.

Two `DigestService`s with their own engines stand for two `newsbot run` processes; the database is SQLite or
PostgreSQL. Small batches make the two runs interleave batch by batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.digest_messages import DigestMessages
from bot.services.digests import DigestRunReport, DigestService
from bot.services.ingest import IngestService
from bot.services.subscriptions import SubscriptionService
from bot.sources.types import RawArticle
from db.models import Delivery, OutboxMessage, Subscriber
from readmodels import ChatContext

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CHATS = 200
Sessions = async_sessionmaker[AsyncSession]

NEWS = [
    ("国产芯片企业融资创新高", "今年以来国产芯片企业融资总额创新高。多家芯片设计公司完成大额融资。"),
    ("中国女足获东亚杯亚军", "中国女足战平日本队，获得东亚杯亚军。主教练表示将继续备战亚运会。"),
    ("北京今晨气温创同期新低", "受寒潮影响北京今晨最低气温降至零下十度，创五十二年来同期最低。"),
]




async def add_chats_and_news(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            Subscriber(
                chat_id=n if n % 10 else -1000 - n,
                kind="private" if n % 10 else "supergroup",
                timezone="UTC" if n % 2 else "Asia/Shanghai",
                digest_time=time(0, 0),
                digest_size=10,
                wants_digest=True,
                active=True,
                created_at=NOW - timedelta(days=3),
                language="zh" if n % 3 else "en",
            )
            for n in range(1, CHATS + 1)
        )
    ingest = IngestService(
        sessions, default_tz=UTC, summary_max_chars=150, max_file_bytes=10**7, now=lambda: NOW
    )
    await ingest.store_articles(
        RawArticle(
            title=title, body=body, body_format="text", origin=f"t{i}", link=f"https://e.com/{i}",
            author="测试", published=NOW - timedelta(hours=i + 1),
        )
        for i, (title, body) in enumerate(NEWS)
    )


def digests(sessions: Sessions, *, batch_size: int) -> DigestService:
    return DigestService(sessions, writer=DigestMessages(), now=lambda: NOW, batch_size=batch_size)


async def assert_each_chat_served_once(sessions: Sessions) -> None:
    async with sessions() as session:
        per_chat = (
            await session.execute(
                select(Delivery.subscriber_id, func.count()).group_by(Delivery.subscriber_id)
            )
        ).tuples().all()
        messages = (
            await session.execute(
                select(OutboxMessage.chat_id, func.count()).group_by(OutboxMessage.chat_id)
            )
        ).tuples().all()
        served = await session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.last_digest_at == NOW)
        )
    assert len(per_chat) == CHATS
    assert all(count == 1 for _, count in per_chat)
    assert len(messages) == CHATS
    assert all(count == 1 for _, count in messages)
    assert served == CHATS


@pytest.mark.parametrize("batch_size", [20, 200])
async def test_two_processes_store_each_digest_once(
    sessions: Sessions, other_process: Sessions, batch_size: int
) -> None:
    await add_chats_and_news(sessions)
    first, second = digests(sessions, batch_size=batch_size), digests(other_process, batch_size=batch_size)

    reports: list[DigestRunReport] = await asyncio.gather(first.run(), second.run())

    assert sum(r.enqueued for r in reports) == CHATS
    assert sum(r.empty for r in reports) == 0
    # the runs overlapped: chats one of them found due were stored by the other meanwhile
    assert sum(r.already_done for r in reports) > 0
    assert all(r.enqueued + r.already_done <= CHATS for r in reports)
    await assert_each_chat_served_once(sessions)
    # 30 s later, both processes again: nothing is due until tomorrow
    again = await asyncio.gather(first.run(), second.run())
    assert [(r.enqueued, r.empty, r.already_done) for r in again] == [(0, 0, 0), (0, 0, 0)]
    await assert_each_chat_served_once(sessions)


async def test_a_batch_that_meets_another_process_is_stored_chat_by_chat(sessions: Sessions) -> None:
    """Another process stored one chat of the batch after this run found it due (on SQLite nothing locks
    the row in between): the batch's unique violation is no error, and the other chats still go through."""
    await add_chats_and_news(sessions)
    async with sessions() as session, session.begin():
        raced = await session.scalar(select(Subscriber).where(Subscriber.chat_id == 7))
        assert raced is not None
        # its own transaction has inserted the delivery; it sets last_digest_at only after this run's check
        session.add(
            Delivery(
                subscriber_id=raced.id, chat_id=7, kind="digest", digest_date=NOW.date(), article_ids="",
                status="empty", attempts=0, created_at=NOW,
            )
        )

    report = await digests(sessions, batch_size=50).run()

    assert (report.enqueued, report.empty, report.already_done) == (CHATS - 1, 0, 1)
    assert 7 not in {d.subscriber.chat_id for d in report.planned}
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == CHATS
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == CHATS - 1
        assert await session.scalar(select(func.count()).where(OutboxMessage.chat_id == 7)) == 0


class _CommandsMeanwhile(DigestService):
    """Our own service, with another process's commands injected between the run's reading of the due
    chats and its storing of their digests (a run of many batches leaves time for that)."""

    def __init__(self, sessions: Sessions, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__(sessions, writer=DigestMessages(), now=lambda: NOW, batch_size=CHATS)
        self._meanwhile: Callable[[], Awaitable[None]] | None = meanwhile

    async def _store(self, *args: Any, **kwargs: Any) -> Any:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return await super()._store(*args, **kwargs)


async def test_a_chat_that_unsubscribes_or_pauses_during_the_run_gets_no_digest(
    sessions: Sessions, other_process: Sessions
) -> None:
    """The store re-read only `active` and the served day under its lock: a chat told "unsubscribed" or
    "paused" a moment before still got the digest."""
    await add_chats_and_news(sessions)

    async def commands_elsewhere() -> None:
        async with other_process() as session, session.begin():
            first, second = (
                await session.scalars(select(Subscriber).order_by(Subscriber.id).limit(2))
            ).all()
            first.wants_digest = False
            second.paused_until = NOW + timedelta(days=7)

    report = await _CommandsMeanwhile(sessions, commands_elsewhere).run()
    assert report.enqueued + report.empty == CHATS - 2
    async with sessions() as session:
        served = set(await session.scalars(select(Delivery.subscriber_id)))
    assert not {1, 2} & served
    assert len(served) == CHATS - 2


async def test_a_chat_that_moves_its_digest_during_the_run_is_left_to_the_next(
    sessions: Sessions, other_process: Sessions
) -> None:
    """A chat moved to another time zone while the run built its digest: the digest was dated in the zone it
    left, after the move had freed that date for the new zone, and on that date in the new zone every run
    found it "already done" (Tokyo's 26th stored while Los Angeles was still on the 25th: no digest on Los
    Angeles' 26th). The next run judges the move."""
    await add_chats_and_news(sessions)
    subscriptions = SubscriptionService(
        other_process, default_timezone="UTC", default_digest_time=time(0, 0), now=lambda: NOW
    )

    async def move_elsewhere() -> None:
        async with other_process() as session:
            first = await session.scalar(select(Subscriber).order_by(Subscriber.id).limit(1))
        assert first is not None
        ctx = ChatContext(first.chat_id, first.kind, None, None)
        await subscriptions.update_settings(ctx, timezone="America/Los_Angeles")

    report = await _CommandsMeanwhile(sessions, move_elsewhere).run()
    assert report.enqueued + report.empty == CHATS - 1
    async with sessions() as session:
        served = set(await session.scalars(select(Delivery.subscriber_id)))
    assert 1 not in served
