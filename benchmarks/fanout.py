"""Part 4, digest fan-out: building every daily digest for many subscribers and sending them through the
outbox to a local fake Telegram Bot API server (tests/fakes/telegram_server.py, no artificial latency).

Each measurement runs in a fresh process (so its peak RSS is its own) and the fake server in another one (so
it does not share the sender's event loop and CPU, as the real Telegram would not). Database statements are
counted with a `before_cursor_execute` listener on the engine, at two sizes (subscribers and articles both
doubled).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from benchmarks.measure import PartResult, Target, table

RATE_TARGET = 500.0
LIMITED_SHARE_TARGET = 0.9
TELEGRAM_RATE = 30.0
TIMEZONES = ["Asia/Shanghai", "Asia/Tokyo", "Europe/Berlin", "Europe/London", "America/New_York",
             "America/Los_Angeles", "Australia/Sydney", "UTC"]
_SPAWN = multiprocessing.get_context("spawn")


# --- the fake Telegram, in its own process ------------------------------------------------------------------


def _serve_fake(conn: Any, enforce: bool) -> None:
    from tests.fakes.telegram_server import FakeTelegram

    async def main() -> None:
        fake = FakeTelegram()
        base_url = await fake.start()
        if enforce:
            fake.enforce_limits()
        conn.send(base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send({"sent": len(fake.sent()), "limit_429s": fake.limit_429s, "total_429s": fake.total_429s})
        await fake.close()

    asyncio.run(main())


class FakeTelegramProcess:
    def __init__(self, *, enforce: bool) -> None:
        self._conn, child = _SPAWN.Pipe()
        self._process = _SPAWN.Process(target=_serve_fake, args=(child, enforce), daemon=True)
        self._process.start()
        self.base_url: str = self._conn.recv()

    def stop(self) -> dict[str, int]:
        self._conn.send("stop")
        stats: dict[str, int] = self._conn.recv()
        self._process.join(10)
        return stats


# --- one measurement, in a fresh process --------------------------------------------------------------------


async def _populate(sessions: Any, db_path: Path, subscribers: int, articles: int, now: datetime) -> None:
    from benchmarks import datagen
    from db.models import Subscriber, Subscription

    # a day of news, with summaries and tags, as the digest reads it
    await asyncio.to_thread(datagen.fill_sqlite, db_path, articles, now=now, span=timedelta(hours=20))
    tags = datagen.tag_names()[:200]
    rng = random.Random(4)
    async with sessions() as session, session.begin():
        subs = []
        for n in range(1, subscribers + 1):
            group = n % 10 == 0
            subs.append(
                Subscriber(
                    chat_id=-1_000_000 - n if group else n,
                    kind="supergroup" if group else "private",
                    timezone=rng.choice(TIMEZONES),
                    digest_time=dtime(rng.randrange(24), rng.choice((0, 15, 30, 45))),
                    digest_size=rng.choice((5, 10, 10, 15)),
                    wants_digest=True,
                    active=True,
                    created_at=now - timedelta(days=30),
                    language=rng.choice(("zh", "zh", "en", None)),
                )
            )
        session.add_all(subs)
        await session.flush()
        for sub in subs:
            for topic in rng.sample(tags, rng.choice((0, 0, 1, 2, 3))):
                session.add(Subscription(subscriber_id=sub.id, kind="topic", value=topic, created_at=now))
            if rng.random() < 0.1:
                session.add(
                    Subscription(subscriber_id=sub.id, kind="mute", value=rng.choice(tags), created_at=now)
                )


async def _measure(subscribers: int, articles: int, *, limited: bool) -> dict[str, Any]:
    from sqlalchemy import event
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.digest_messages import DigestMessages
    from bot.services.delivery import OutboxSender, SendLimits, SystemClock
    from bot.services.digests import DigestService
    from db.engine import make_engine, make_sessionmaker, upgrade_schema

    folder = Path(tempfile.mkdtemp(prefix="newsbot-bench-fanout-"))
    db_path = folder / "fanout.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
    fake: FakeTelegramProcess | None = None
    try:
        await upgrade_schema(engine)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        await _populate(sessions, db_path, subscribers, articles, now)

        statements = 0

        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        report = await DigestService(sessions, writer=DigestMessages()).run(force=True)
        build_s = time.perf_counter() - t0
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        digests = report.enqueued + report.empty

        fake = FakeTelegramProcess(enforce=limited)
        # the connection pool ApplicationBuilder gives the app's bot
        bot = Bot("123456:TEST-token", base_url=fake.base_url, request=HTTPXRequest(connection_pool_size=256))
        await bot.initialize()
        limits = SendLimits() if limited else SendLimits(1e6, 1e6, 1e6)
        sender = OutboxSender(sessions, bot, limits=limits, clock=SystemClock())
        t0 = time.perf_counter()
        sent = 0
        rate_limited = 0
        while True:
            step = await sender.send_due()
            sent += step.sent
            rate_limited += step.rate_limited
            next_at = await sender.next_due_at()
            if next_at is None:
                break
            await asyncio.sleep(max(0.0, (next_at - datetime.now(UTC)).total_seconds()))
        send_s = time.perf_counter() - t0
        await bot.shutdown()
        stats = fake.stop()
        fake = None
        import resource

        return {
            "subscribers": subscribers,
            "articles": articles,
            "digests": digests,
            "empty": report.empty,
            "messages": report.messages,
            "build_s": build_s,
            "statements": statements,
            "sent": sent,
            "send_s": send_s,
            "rate_limited": rate_limited,
            "server_sent": stats["sent"],
            "server_429s": stats["total_429s"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        if fake is not None:
            fake.stop()
        await engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _measure_in_process(subscribers: int, articles: int, limited: bool) -> dict[str, Any]:
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    return asyncio.run(_measure(subscribers, articles, limited=limited))


def measure(subscribers: int, articles: int, *, limited: bool) -> dict[str, Any]:
    """One measurement in a fresh process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=_SPAWN) as pool:
        return pool.submit(_measure_in_process, subscribers, articles, limited).result()


def run(*, quick: bool = False) -> PartResult:
    result = PartResult("4. Digest fan-out")
    big_subs, big_articles = (200, 40) if quick else (10_000, 400)
    sizes = [(big_subs // 2, big_articles // 2), (big_subs, big_articles)]
    limited_subs = 60 if quick else 1_000
    off = [measure(s, a, limited=False) for s, a in sizes]
    on = measure(limited_subs, big_articles, limited=True)

    rows = []
    for m in off:
        per_digest = m["statements"] / max(m["digests"], 1)
        rows.append(
            [
                f"{m['subscribers']:,} subscribers, {m['articles']:,} articles",
                f"{m['build_s']:.1f}",
                f"{m['digests'] / m['build_s']:.0f}",
                f"{m['sent']:,}",
                f"{m['send_s']:.1f}",
                f"{m['sent'] / m['send_s']:.0f}",
                f"{m['sent'] / (m['build_s'] + m['send_s']):.0f}",
                f"{per_digest:.2f} ({m['statements']:,} / {m['digests']:,})",
                f"{m['peak_rss_mb']:.0f}",
            ]
        )
    header = [
        "run (limiter off)",
        "build all digests s",
        "digests/s",
        "messages sent",
        "send s",
        "messages/s sending",
        "messages/s end to end",
        "DB statements per digest",
        "peak RSS MB",
    ]
    result.add(
        "Subscribers with 0–3 topics (10% also mute a word), digest times spread over the day, eight time "
        "zones, digest sizes 5–15, one in ten a supergroup; a day of generated articles with summaries and "
        "tags. `DigestService.run(force=True)` builds and stores every digest (Delivery + outbox rows, one "
        "transaction each); then `OutboxSender.send_due()` sends them with a real `telegram.Bot` (httpx pool "
        "of 256, as ApplicationBuilder sets) to the fake server in its own process. Limiter off = "
        "`SendLimits(1e6, 1e6, 1e6)`. Statements are every SQL statement the engine executed during the "
        "digest run, divided by the digests built. Each row is one run in a fresh process (its peak RSS "
        "includes the populated session objects).\n\n"
        + table(header, rows)
    )
    rate = on["sent"] / on["send_s"]
    result.add(
        "With the limiter at Telegram's limits (`SendLimits()`: 30/s overall, 1/s per chat, 20/min per "
        "group) and the fake server enforcing the same limits (`enforce_limits()`, sliding windows, 429 on "
        f"any breach), {limited_subs:,} subscribers:\n\n"
        + table(
            [
                "messages sent", "seconds", "messages/s", "share of 30/s", "429s received",
                "429s (server count)",
            ],
            [[f"{on['sent']:,}", f"{on['send_s']:.1f}", f"{rate:.1f}", f"{rate / TELEGRAM_RATE:.1%}",
              on["rate_limited"], on["server_429s"]]],
        )
    )
    big = off[-1]
    end_to_end = big["sent"] / (big["build_s"] + big["send_s"])
    per_digest = [m["statements"] / max(m["digests"], 1) for m in off]
    result.targets += [
        Target(
            f"fan-out: ≥ {RATE_TARGET:.0f} messages/s end to end with the limiter off "
            f"({big['subscribers']:,} subscribers)",
            f"{end_to_end:.0f}/s (sending alone {big['sent'] / big['send_s']:.0f}/s)",
            end_to_end >= RATE_TARGET,
        ),
        Target(
            f"fan-out: ≥ {LIMITED_SHARE_TARGET:.0%} of 30 messages/s at Telegram's limits",
            f"{rate:.1f}/s = {rate / TELEGRAM_RATE:.1%}",
            rate / TELEGRAM_RATE >= LIMITED_SHARE_TARGET,
        ),
        Target("fan-out: zero 429s at Telegram's limits", str(on["server_429s"]), on["server_429s"] == 0),
        Target(
            "fan-out: DB statements per digest constant when subscribers and articles double",
            " → ".join(f"{p:.2f}" for p in per_digest),
            abs(per_digest[-1] - per_digest[0]) <= 0.05 * per_digest[0] + 0.05,
        ),
    ]
    return result
