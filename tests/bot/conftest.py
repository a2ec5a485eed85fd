"""A running newsbot: the real PTB Application, long-polling a fake Telegram Bot API server, over a
real DB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot.app import build_application, register_commands
from bot.commands import CommandService
from bot.composition import Services, open_services
from bot.config import Settings, load_settings
from bot.services.digests import DigestService
from bot.services.ingest import IngestService
from bot.services.subscriptions import SubscriptionService
from bot.sources.types import RawArticle
from tests.fakes.telegram_server import FakeTelegram

ADMIN_ID = 777
NOW = datetime.now(UTC)


def recent_article(
    n: int, *, title: str, body: str, hours_ago: float = 1.0, link: str | None = None
) -> RawArticle:
    return RawArticle(
        title=title,
        body=f"<p>{body}</p>",
        body_format="html",
        origin=f"test:{n}",
        link=link or f"https://news.example.com/{n}",
        author="测试新闻",
        published=NOW - timedelta(hours=hours_ago),
    )


SAMPLE = [
    (
        "华为发布新款芯片 性能提升三成",
        "华为今天发布新一代麒麟芯片，性能比上一代提升三成，功耗下降两成。"
        "业内人士认为，这款芯片将提升华为手机的竞争力。芯片由国内工厂代工生产。",
    ),
    (
        "国产芯片企业融资创新高",
        "今年以来，国产芯片企业融资总额创下新高。多家芯片设计公司完成大额融资，"
        "投资机构看好芯片产业的长期发展。分析人士提醒注意估值风险。",
    ),
    (
        "中国女足获东亚杯亚军",
        "中国女足在东亚杯最后一轮比赛中战平日本队，以一胜两平的战绩获得亚军。"
        "主教练表示，球队将继续备战亚运会和世界杯。",
    ),
    (
        "Apple unveils new chips for laptops",
        "Apple unveiled new chips for its laptops on Tuesday. The company said the chips are faster and "
        "use less power. Analysts expect strong demand for the new laptops.",
    ),
    (
        "北京今晨气温创同期新低",
        "受寒潮影响，北京今晨最低气温降至零下十度，创下五十二年来同期最低纪录。"
        "气象台提醒市民注意防寒保暖。",
    ),
    (
        "<script>alert(1)</script> & 测试 \"标题\"",
        "这是一条标题里带有特殊字符的新闻，用来检查转义。<b>粗体</b> & 其他内容 < > 都必须转义。",
    ),
]


@dataclass
class RunningBot:
    fake: FakeTelegram
    application: Application  # type: ignore[type-arg]
    sessions: async_sessionmaker[AsyncSession]
    commands: CommandService
    digests: DigestService
    subscriptions: SubscriptionService
    ingest: IngestService

    async def say(self, chat_id: int, text: str, *, wait_for: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        """Send `text` as a user and wait until the bot has sent `wait_for` messages to that chat."""
        before = len(self.fake.sent(chat_id))
        self.fake.push_message(chat_id, text, **kwargs)
        return await self.wait_sent(chat_id, before, wait_for)

    async def press(
        self, chat_id: int, data: str, *, message_id: int, wait_for: int = 1, **kwargs: Any
    ) -> list[dict[str, Any]]:
        before = len(self.fake.sent(chat_id)) + len(self.fake.calls_to("editMessageText"))
        self.fake.push_callback(chat_id, data, message_id=message_id, **kwargs)
        for _ in range(250):
            now = len(self.fake.sent(chat_id)) + len(self.fake.calls_to("editMessageText"))
            if now >= before + wait_for:
                return self.fake.sent(chat_id)
            await asyncio.sleep(0.02)
        raise AssertionError(f"the bot did not answer the button {data!r}")

    async def wait_sent(self, chat_id: int, before: int, count: int) -> list[dict[str, Any]]:
        for _ in range(250):
            sent = self.fake.sent(chat_id)
            if len(sent) >= before + count:
                await asyncio.sleep(0.05)  # let any further (unexpected) messages arrive too
                return self.fake.sent(chat_id)[before:]
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"the bot sent {len(self.fake.sent(chat_id)) - before} messages to {chat_id}, not {count}"
        )

    def last_message_id(self, chat_id: int) -> int:
        """The message_id Telegram gave the bot's newest message in the chat."""
        return max(mid for (chat, mid) in self.fake._messages if chat == chat_id)

    async def quiet(self, chat_id: int, before: int) -> None:
        """Assert the bot sends nothing more to the chat for a moment."""
        await asyncio.sleep(0.4)
        assert len(self.fake.sent(chat_id)) == before


def bot_settings(database_url: str) -> Settings:
    """The settings of the bots under test: the test database, one admin, the embedded defaults except the
    per-chat budgets (a reply of several parts would take a second a part; the tests of the budgets set
    Telegram's own) and private addresses (the feeds are local servers)."""
    return load_settings(
        env_file=None,
        database_url=database_url,
        admin_ids=[ADMIN_ID],
        send_private_per_second=100,
        send_group_per_minute=6000,
        fetch_allow_private=True,  # the feeds /addfeed fetches are the tests' own servers on 127.0.0.1
    )


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Every service, built by the composition root the program uses."""
    async with open_services(bot_settings(database_url)) as built:
        yield built


@asynccontextmanager
async def bot_serving(services: Services, fake: FakeTelegram) -> AsyncIterator[RunningBot]:
    """The Application long-polling `fake`, and the outbox sender sending its replies, as in `newsbot run`."""
    application = build_application(
        token=fake.token, base_url=fake.base_url, commands=services.commands, replies=services.replies
    )
    await application.initialize()
    await register_commands(application, services.commands)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    sender = services.outbox_sender(application.bot)
    services.replies.on_enqueued(sender.wake)
    stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop))
    try:
        yield RunningBot(
            fake,
            application,
            services.sessions,
            services.commands,
            services.digests,
            services.subscriptions,
            services.ingest,
        )
    finally:
        stop.set()
        await sending
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def store_samples(services: Services) -> None:
    await services.ingest.store_articles(
        recent_article(i, title=t, body=b, hours_ago=1 + i) for i, (t, b) in enumerate(SAMPLE)
    )


@pytest.fixture
async def running_bot(services: Services) -> AsyncIterator[RunningBot]:
    await store_samples(services)
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        yield running
