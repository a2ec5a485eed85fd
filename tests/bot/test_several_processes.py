"""Several newsbot processes on one database, against the fake Bot API server with Telegram's flood limits on
and slow answers: every digest exactly once, a gone chat tried once, no 429, a killed sender taken over.

The processes are real `newsbot run` / `newsbot digest --send-now` commands; the fake server runs in the test.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.composition import Services, open_services
from bot.config import load_settings
from bot.sources.types import RawArticle
from db.models import Delivery, SenderLease, Subscriber
from tests.bot.conftest import bot_serving, recent_article, store_samples
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until

LEASE_SECONDS = 3
PRIVATE_CHATS = list(range(501, 541))  # 40 private chats
GROUPS = [-601, -602, -603, -604, -605]
BLOCKED = [513, 527]  # blocked the bot: 403
DELETED = [-605]  # "chat not found"
ACTIVE = [c for c in PRIVATE_CHATS + GROUPS if c not in BLOCKED + DELETED]


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    async with open_services(load_settings(env_file=None, database_url=database_url)) as built:
        yield built


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.enforce_limits()  # Telegram's: 30/s, 1/s per chat, 20/min per group
        server.slow_sends(1.0)  # a loaded Bot API server
        for chat_id in BLOCKED:
            server.block(chat_id)
        for chat_id in DELETED:
            server.not_found(chat_id)
        yield server


async def subscribe_all(services: Services, *, due: bool) -> None:
    """Every chat wants a three-item digest: due now (digest time 00:00), or only when forced."""
    await store_samples(services)
    timezone, at = "UTC", time(0, 0)
    if not due:
        # a zone where it is not yet 23:00, so the scheduled job leaves these for `digest --send-now`
        timezone = next(
            z for z in ("UTC", "Asia/Tokyo", "America/New_York") if datetime.now(ZoneInfo(z)).hour < 23
        )
        at = time(23, 59, 59)
    async with services.sessions() as session, session.begin():
        for chat_id in PRIVATE_CHATS + GROUPS:
            session.add(
                Subscriber(
                    chat_id=chat_id,
                    kind="private" if chat_id > 0 else "group",
                    timezone=timezone,
                    digest_time=at,
                    digest_size=3,
                    wants_digest=True,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )


def environment(database_url: str, fake: FakeTelegram, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
        "DIGEST_CHECK_INTERVAL": "0.5",
        "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "SEND_CONCURRENCY": "64",
        "FETCH_INTERVAL": "3600",
        **extra,
    }


async def start(newsbot: str, args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:  # a file, not a pipe: a chatty process never blocks on a full pipe
        return await asyncio.create_subprocess_exec(newsbot, *args, env=env, stdout=out, stderr=out)


async def stop_all(processes: list[asyncio.subprocess.Process]) -> list[int | None]:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    return [await asyncio.wait_for(p.wait(), 60) for p in processes]


async def settled_digests(services: Services) -> int:
    """Digest deliveries no longer pending (sent, or dropped for a gone chat)."""
    async with services.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.kind == "digest", Delivery.status != "pending")
        )
    return int(count or 0)


def attempts(fake: FakeTelegram, chat_id: int) -> int:
    return sum(1 for params in fake.calls_to("sendMessage") if params.get("chat_id") == chat_id)


def assert_each_digest_once(fake: FakeTelegram) -> None:
    received = Counter(params["chat_id"] for params in fake.sent())
    for chat_id in ACTIVE:
        assert received[chat_id] == 1, chat_id
    for chat_id in BLOCKED + DELETED:
        assert attempts(fake, chat_id) == 1, chat_id  # tried once, then the chat is known to be gone
    assert fake.total_429s == 0


async def test_three_bots_on_one_database_send_each_digest_once(
    services: Services, fake: FakeTelegram, database_url: str, newsbot: str, tmp_path: Path
) -> None:
    await subscribe_all(services, due=True)
    processes = [
        await start(newsbot, ["run"], environment(database_url, fake, UPDATES=updates), tmp_path / f"{n}.log")
        for n, updates in enumerate(("polling", "off", "off"))
    ]
    try:
        target = len(PRIVATE_CHATS + GROUPS)
        await wait_until(_at_least(services, target), f"{target} settled digests", seconds=90)
        await asyncio.sleep(2)  # anything sent twice would arrive by now
    finally:
        codes = await stop_all(processes)
    logs = "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*.log")))  # noqa: ASYNC240
    assert codes == [0, 0, 0], logs
    assert "Traceback" not in logs
    assert_each_digest_once(fake)
    async with services.sessions() as session:
        inactive = set(await session.scalars(select(Subscriber.chat_id).where(Subscriber.active.is_(False))))
    assert inactive == set(BLOCKED + DELETED)


def _at_least(services: Services, target: int) -> Callable[[], object]:
    async def check() -> bool:
        return await settled_digests(services) >= target

    return check


async def test_send_now_beside_a_running_bot_lets_it_send(
    services: Services, fake: FakeTelegram, database_url: str, newsbot: str, tmp_path: Path
) -> None:
    await subscribe_all(services, due=False)
    env = environment(database_url, fake)
    bot = await start(newsbot, ["run"], env, tmp_path / "bot.log")
    try:
        await wait_until(_lease_taken(services), "the running bot to take the sender lease", seconds=90)
        command = await asyncio.create_subprocess_exec(
            newsbot, "digest", "--send-now", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(command.communicate(), 120)
    finally:
        (code,) = await stop_all([bot])
    assert command.returncode == 0, err.decode()
    assert code == 0, (tmp_path / "bot.log").read_text()
    line = out.decode()
    assert f"digests: {len(PRIVATE_CHATS + GROUPS)} enqueued" in line
    assert f"delivered: {len(ACTIVE)} sent, 3 dropped (chat gone)" in line
    assert "sent by the running bot" in line
    assert_each_digest_once(fake)


def _lease_taken(services: Services) -> Callable[[], object]:
    async def check() -> bool:
        async with services.sessions() as session:
            return await session.scalar(select(func.count()).select_from(SenderLease)) == 1

    return check


async def test_a_killed_sender_is_taken_over_after_its_lease(
    services: Services, fake: FakeTelegram, database_url: str, newsbot: str, tmp_path: Path
) -> None:
    concurrency = 4
    await subscribe_all(services, due=True)
    env = environment(database_url, fake, SEND_CONCURRENCY=str(concurrency))
    first = await start(newsbot, ["run"], env, tmp_path / "first.log")
    await wait_until(lambda: len(fake.sent()) >= 5, "the first messages", seconds=90)
    async with services.sessions() as session:
        holder = await session.scalar(select(SenderLease.holder))
    assert holder is not None
    assert int(holder.split(":")[1]) == first.pid
    first.send_signal(signal.SIGKILL)  # mid-send: requests in flight, claimed rows not sent
    await first.wait()
    sent_before_takeover = len(fake.sent())
    assert sent_before_takeover < len(ACTIVE)

    second = await start(newsbot, ["run"], {**env, "UPDATES": "off"}, tmp_path / "second.log")
    try:
        target = len(PRIVATE_CHATS + GROUPS)
        await wait_until(_at_least(services, target), f"{target} settled digests", seconds=90)
        await asyncio.sleep(2)
    finally:
        (code,) = await stop_all([second])
    assert code == 0, (tmp_path / "second.log").read_text()
    received = Counter(params["chat_id"] for params in fake.sent())
    assert all(received[c] >= 1 for c in ACTIVE)  # nothing lost
    twice = {c: n - 1 for c, n in received.items() if n > 1}
    # only what Telegram had accepted without the record committed went out again: the requests in flight
    # (at most `concurrency`) and the answers waiting for their commit (at most `concurrency` more)
    assert all(n == 1 for n in twice.values()), twice
    assert sum(twice.values()) <= 2 * concurrency, twice
    assert fake.total_429s == 0


async def test_a_long_reply_arrives_whole_under_the_per_chat_limit(services: Services) -> None:
    """Telegram's 1 message/s per chat: the reply's second part waits its turn instead of meeting a 429."""
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        fake.enforce_limits()
        fake.slow_sends(0.3)
        await running.ingest.store_articles(_long_articles(30))  # more than a page: a More button
        await running.say(4242, "/latest 20", wait_for=1)
        await wait_until(lambda: _more_button_arrived(fake, 4242), "every part of the reply", seconds=20)
        parts = fake.sent(4242)
    assert len(parts) >= 2
    assert fake.total_429s == 0
    assert parts[-1].get("reply_markup"), "the More button goes with the last part"
    assert all(not p.get("reply_markup") for p in parts[:-1])


def _more_button_arrived(fake: FakeTelegram, chat_id: int) -> bool:
    """Whether the reply's last part (the one with the More button) has arrived."""
    return any(p.get("reply_markup") for p in fake.sent(chat_id))


def _long_articles(count: int) -> list[RawArticle]:
    """Articles whose titles and summaries make `/latest 20` longer than one message; each its own story (its
    headline figure differs: without one, texts this alike are one story told 30 times)."""
    return [
        recent_article(
            100 + n,
            title=f"第{n}条长标题：" + f"国家统计局发布最新数据显示{n + 3}亿元经济运行总体平稳稳中有进" * 3,
            body="".join(f"第{n}条新闻第{k}句，发言人说明了第{k}项指标的变化原因和趋势。" for k in range(12)),
            hours_ago=n / 10,
        )
        for n in range(count)
    ]
