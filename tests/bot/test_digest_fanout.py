"""A daily digest run to 1,000 chats, some blocked, some answering 429 or 502, with a restart in the middle:
each active chat gets its digest exactly once, the blocked ones end inactive, and nothing crashes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.digest_messages import DigestMessages
from bot.services.delivery import OutboxSender, SendLimits, SystemClock
from bot.services.digests import DigestService
from bot.services.ingest import IngestService
from bot.sources.types import RawArticle
from db.models import Delivery, Subscriber
from tests.fakes.telegram_server import FakeTelegram

FAST = SendLimits(global_per_second=2000.0, private_per_second=100.0, group_per_minute=600.0)


async def test_thousand_chats_exactly_once_across_a_restart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    chats = [(n, "private") for n in range(1, 801)] + [(-1000 - n, "supergroup") for n in range(1, 201)]
    async with sessions() as session, session.begin():
        session.add_all(
            Subscriber(
                chat_id=chat_id, kind=kind, timezone="UTC", digest_time=time(0, 0), digest_size=10,
                wants_digest=True, active=True, created_at=now, language="zh",
            )
            for chat_id, kind in chats
        )
    ingest = IngestService(sessions, default_tz=UTC, summary_max_chars=150, max_file_bytes=10**7)
    await ingest.store_articles(
        RawArticle(
            title=title, body=body, body_format="text", origin=f"t{i}", link=f"https://e.com/{i}",
            author="测试",
            published=now - timedelta(hours=i + 1),
        )
        for i, (title, body) in enumerate(
            [
                (
                    "国产芯片企业融资创新高",
                    "今年以来国产芯片企业融资总额创新高。多家芯片设计公司完成大额融资。",
                ),
                (
                    "中国女足获东亚杯亚军",
                    "中国女足战平日本队，获得东亚杯亚军。主教练表示将继续备战亚运会。",
                ),
            ]
        )
    )
    report = await DigestService(sessions, writer=DigestMessages()).run()
    assert report.enqueued == 1000

    blocked = {chat_id for i, (chat_id, _) in enumerate(chats) if i % 40 == 3}
    async with FakeTelegram() as fake:
        for i, (chat_id, _) in enumerate(chats):
            if chat_id in blocked:
                fake.block(chat_id)
            elif i % 25 == 1:
                fake.rate_limit(chat_id, retry_after=1)
            elif i % 33 == 2:
                fake.fail(chat_id, status=502)

        # the first process sends a part of the run and is stopped (SIGTERM: in-flight requests finish)
        first_bot = Bot(fake.token, base_url=fake.base_url)
        await first_bot.initialize()
        stop = asyncio.Event()
        first = OutboxSender(sessions, first_bot, limits=FAST, clock=SystemClock())
        running = asyncio.create_task(first.run(stop, idle=0.05))
        for _ in range(3000):
            if len(fake.sent()) >= 300:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(running, 30)
        await first_bot.shutdown()
        assert 300 <= len(fake.sent()) < 1000 - len(blocked)

        # the restarted process: the digest run finds nothing left to store, the sender finishes the outbox
        assert (await DigestService(sessions, writer=DigestMessages()).run()).enqueued == 0
        second_bot = Bot(fake.token, base_url=fake.base_url)
        await second_bot.initialize()
        second = OutboxSender(sessions, second_bot, limits=FAST, clock=SystemClock())
        await second.send_due()
        while (next_at := await second.next_due_at()) is not None:
            await asyncio.sleep(max(0.0, (next_at - datetime.now(UTC)).total_seconds()))
            await second.send_due()
        await second_bot.shutdown()

        for chat_id, _ in chats:
            expected = 0 if chat_id in blocked else 1
            assert len(fake.sent(chat_id)) == expected, chat_id
        assert all(m["text"].startswith("<b>要闻摘要</b>") for m in fake.sent())

    async with sessions() as session:
        inactive = set(await session.scalars(select(Subscriber.chat_id).where(Subscriber.active.is_(False))))
        statuses = list(await session.scalars(select(Delivery.status)))
    assert inactive == blocked
    assert statuses.count("sent") == 1000 - len(blocked)
    assert statuses.count("dropped") == len(blocked)
