"""Part 4, digest fan-out: building every daily digest for many subscribers and sending them through the
outbox to a local fake Telegram Bot API server, with one and with three newsbot processes on one database
(SQLite and PostgreSQL).

Each process is a fresh spawned interpreter running what `newsbot run` runs for this: the digest job
(`DigestService.run`) and the outbox sender (`OutboxSender.run`, which sends only while it holds the bot's
sender lease). The fake server runs in a process of its own (it does not share a sender's event loop, as the
real Telegram would not) and counts what it accepted per chat, so a message sent twice shows. The clock runs
from the moment every process is told to start until every digest is settled in the database.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from benchmarks.measure import PartResult, Target, speed_line, speed_mark, table

RATE_TARGET = 500.0
LIMITED_SHARE_TARGET = 0.9
TELEGRAM_RATE = 30.0
TIMEZONES = ["Asia/Shanghai", "Asia/Tokyo", "Europe/Berlin", "Europe/London", "America/New_York",
             "America/Los_Angeles", "Australia/Sydney", "UTC"]
TOKEN = "123456:TEST-token"
_SPAWN = multiprocessing.get_context("spawn")


# --- the fake Telegram, in its own process ------------------------------------------------------------------


def _serve_fake(conn: Any, enforce: bool) -> None:
    from tests.fakes.telegram_server import FakeTelegram

    class TimedFake(FakeTelegram):
        """Also notes when the first and the last message were accepted."""

        first: float | None = None
        last: float | None = None

        async def _m_sendmessage(self, params: dict[str, Any], chat_id: int | None) -> Any:
            result = await super()._m_sendmessage(params, chat_id)
            self.last = time.monotonic()
            self.first = self.first or self.last
            return result

    async def main() -> None:
        fake = TimedFake()
        base_url = await fake.start()
        if enforce:
            fake.enforce_limits()
        conn.send(base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        per_chat = Counter(p["chat_id"] for p in fake.sent())
        conn.send(
            {
                "sent": len(fake.sent()),
                "chats": len(per_chat),
                "twice": sum(n - 1 for n in per_chat.values() if n > 1),
                "total_429s": fake.total_429s,
                "span_s": (fake.last - fake.first) if fake.first and fake.last else 0.0,
            }
        )
        await fake.close()

    asyncio.run(main())


class FakeTelegramProcess:
    def __init__(self, *, enforce: bool) -> None:
        self._conn, child = _SPAWN.Pipe()
        self._process = _SPAWN.Process(target=_serve_fake, args=(child, enforce), daemon=True)
        self._process.start()
        child.close()  # the child's now: if it dies, recv() here raises EOFError instead of waiting forever
        self.base_url: str = self._conn.recv()

    def stop(self) -> dict[str, Any]:
        self._conn.send("stop")
        stats: dict[str, Any] = self._conn.recv()
        self._process.join(10)
        return stats


# --- one newsbot process: the digest job and the sender ---------------------------------------------------


def _newsbot_process(conn: Any, url: str, base_url: str, index: int, limited: bool) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    asyncio.run(_newsbot_main(conn, url, base_url, index, limited))


async def _newsbot_main(conn: Any, url: str, base_url: str, index: int, limited: bool) -> None:
    from sqlalchemy import event
    from telegram import Bot

    from bot.config import load_settings
    from bot.digest_messages import DigestMessages
    from bot.services.delivery import OutboxSender, SendLimits, SystemClock
    from bot.services.digests import DigestService
    from bot.telegram_request import AiohttpRequest
    from db.engine import make_engine, make_sessionmaker

    settings = load_settings(env_file=None)  # the embedded defaults: concurrency, lease, poll interval
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    request = AiohttpRequest(connections=settings.send_concurrency + 4)
    bot = Bot(TOKEN, base_url=base_url, request=request)
    await bot.initialize()
    limits = SendLimits() if limited else SendLimits(1e6, 1e6, 1e6)
    sender = OutboxSender(
        sessions,
        bot,
        limits=limits,
        clock=SystemClock(),
        concurrency=settings.send_concurrency,
        holder=f"bench-{index}",
        lease_seconds=settings.outbox_lease_seconds,
        poll_interval=settings.outbox_poll_interval,
    )
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    loop = asyncio.get_running_loop()
    conn.send("ready")
    await loop.run_in_executor(None, conn.recv)  # "go"
    stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop))
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    t0 = time.perf_counter()
    report = await DigestService(sessions, writer=DigestMessages()).run(force=True)
    build_s = time.perf_counter() - t0
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    await loop.run_in_executor(None, conn.recv)  # "stop"
    stop.set()
    await sending
    await bot.shutdown()
    await engine.dispose()
    import resource

    conn.send(
        {
            "build_s": build_s,
            "stored": report.enqueued + report.empty,
            "messages": report.messages,
            "statements": statements,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


# --- one measurement --------------------------------------------------------------------------------------


async def _populate(url: str, database: str, subscribers: int, articles: int, now: datetime) -> None:
    from benchmarks import datagen
    from db.engine import make_engine, make_sessionmaker, upgrade_schema
    from db.models import Subscriber, Subscription

    engine = make_engine(url)
    try:
        await upgrade_schema(engine)
        # a day of news, with summaries and tags, as the digest reads it
        if database == "sqlite":
            path = Path(url.split("///", 1)[1])
            await asyncio.to_thread(datagen.fill_sqlite, path, articles, now=now, span=timedelta(hours=20))
        else:
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            await datagen.fill_postgres(dsn, articles, now=now, span=timedelta(hours=20))
        tags = datagen.tag_names()[:200]
        rng = random.Random(4)
        sessions = make_sessionmaker(engine)
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
                    mute = rng.choice(tags)
                    session.add(Subscription(subscriber_id=sub.id, kind="mute", value=mute, created_at=now))
    finally:
        await engine.dispose()


async def _all_settled(url: str, subscribers: int, deadline: float) -> bool:
    """Poll until every subscriber has today's delivery and nothing is pending; False at the deadline."""
    from sqlalchemy import func, select

    from db.engine import make_engine
    from db.models import Delivery, OutboxMessage

    engine = make_engine(url)
    try:
        while time.perf_counter() < deadline:
            async with engine.connect() as connection:
                stored = await connection.scalar(select(func.count()).select_from(Delivery))
                pending = await connection.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
                )
            if stored == subscribers and pending == 0:
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await engine.dispose()


class _Database:
    """A fresh database for one run: a SQLite file in a temporary folder, or a PostgreSQL database."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self._name = name
        self._folder: Path | None = None
        self.url = ""

    async def __aenter__(self) -> _Database:
        if self.kind == "sqlite":
            self._folder = Path(tempfile.mkdtemp(prefix="newsbot-bench-fanout-"))
            self.url = f"sqlite+aiosqlite:///{self._folder / 'fanout.db'}"
        else:
            from sqlalchemy.engine import make_url

            from benchmarks.read_latency import PG_ADMIN_URL, _pg_admin

            admin = await _pg_admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{self._name}"')
            finally:
                await admin.close()
            self.url = make_url(PG_ADMIN_URL).set(database=self._name).render_as_string(hide_password=False)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        if self.kind == "postgresql":
            from benchmarks.read_latency import _pg_admin

            admin = await _pg_admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
            finally:
                await admin.close()


async def measure(
    database: str, processes: int, subscribers: int, articles: int, *, limited: bool
) -> dict[str, Any]:
    """One run: populate, start the fake and `processes` newsbot processes, time until all is settled."""
    now = datetime.now(UTC)
    async with _Database(database, f"newsbot_bench_fanout_{os.getpid()}") as db:
        await _populate(db.url, database, subscribers, articles, now)
        fake = FakeTelegramProcess(enforce=limited)
        workers = []
        try:
            for index in range(processes):
                conn, child = _SPAWN.Pipe()
                process = _SPAWN.Process(
                    target=_newsbot_process, args=(child, db.url, fake.base_url, index, limited), daemon=True
                )
                process.start()
                child.close()  # so that a process that dies is an EOFError at recv(), not a wait forever
                workers.append((process, conn))
            for _, conn in workers:
                assert conn.recv() == "ready"
            t0 = time.perf_counter()
            for _, conn in workers:
                conn.send("go")
            settled = await _all_settled(db.url, subscribers, deadline=t0 + (900 if limited else 600))
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(1.0)  # a message sent twice would arrive by now
            for _, conn in workers:
                conn.send("stop")
            reports = [conn.recv() for _, conn in workers]
            for process, _ in workers:
                process.join(30)
        finally:
            stats = fake.stop()
            for process, _ in workers:
                if process.is_alive():
                    process.kill()
    return {
        "database": database,
        "processes": processes,
        "subscribers": subscribers,
        "articles": articles,
        "settled": settled,
        "elapsed_s": elapsed,
        "build_s": max(r["build_s"] for r in reports),
        "stored": sum(r["stored"] for r in reports),
        "messages": sum(r["messages"] for r in reports),
        "statements": sum(r["statements"] for r in reports),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
        **stats,
    }


def run(*, quick: bool = False) -> PartResult:
    result = PartResult("4. Digest fan-out")
    result.add(speed_line(speed_mark()))
    big_subs, big_articles = (200, 40) if quick else (10_000, 400)
    limited_subs = 60 if quick else 1_000
    off_runs = [
        ("sqlite", 1, big_subs // 2, big_articles // 2),
        ("sqlite", 1, big_subs, big_articles),
        ("sqlite", 3, big_subs, big_articles),
        ("postgresql", 1, big_subs, big_articles),
        ("postgresql", 3, big_subs, big_articles),
    ]
    off = [asyncio.run(measure(d, p, s, a, limited=False)) for d, p, s, a in off_runs]
    on = [
        asyncio.run(measure(d, p, limited_subs, big_articles, limited=True))
        for d, p in (("sqlite", 1), ("sqlite", 3), ("postgresql", 1), ("postgresql", 3))
    ]

    rows = []
    for m in off:
        rows.append(
            [
                m["database"],
                m["processes"],
                f"{m['subscribers']:,} subscribers, {m['articles']:,} articles",
                f"{m['build_s']:.1f}",
                f"{m['sent']:,}",
                m["twice"],
                f"{m['elapsed_s']:.1f}",
                f"{m['sent'] / m['elapsed_s']:.0f}",
                f"{m['statements'] / max(m['stored'], 1):.2f}" if m["processes"] == 1 else "-",
                f"{m['peak_rss_mb']:.0f}",
            ]
        )
    header = [
        "database", "processes", "run (limiter off)", "building s (slowest process)", "messages sent",
        "sent twice", "end to end s", "messages/s end to end", "DB statements per digest", "peak RSS MB",
    ]
    result.add(
        "Subscribers with 0–3 topics (10% also mute a word), digest times spread over the day, eight time "
        "zones, digest sizes 5–15, one in ten a supergroup; a day of generated articles with summaries and "
        "tags. Each newsbot process runs the digest job (`DigestService.run(force=True)`) and the outbox "
        "sender (`OutboxSender.run`, the embedded defaults: 32 requests in flight, 30 s lease, 0.25 s poll) "
        "side by side, with a real `telegram.Bot`; the fake server runs in its own process. With three "
        "processes every one plans (the first to store a chat's digest wins; the others skip it) and the one "
        "holding the sender lease sends. End to end: from the start signal until every subscriber's digest "
        "is stored and no message is pending. Limiter off = `SendLimits(1e6, 1e6, 1e6)`. Statements: every "
        "SQL statement the process executed during its digest run, per digest stored (one process only).\n\n"
        + table(header, rows)
    )
    limited_rows = [
        [
            m["database"], m["processes"], f"{m['sent']:,}", f"{m['span_s']:.1f}",
            f"{_rate(m):.1f}", f"{_rate(m) / TELEGRAM_RATE:.1%}", m["total_429s"], m["twice"],
        ]
        for m in on
    ]
    result.add(
        "With the limiter at Telegram's limits (`SendLimits()`: 30/s overall, 1/s per chat, 20/min per "
        "group) and the fake server enforcing the same limits (`enforce_limits()`, sliding windows, 429 on "
        f"any breach), {limited_subs:,} subscribers. Seconds: the server's first to last accepted message; "
        "the rate counts the last one's one-second window too (a steady 30/s shows as 30.0).\n\n"
        + table(
            ["database", "processes", "messages sent", "seconds", "messages/s", "share of 30/s",
             "429s (server count)", "sent twice"],
            limited_rows,
        )
    )
    result.targets += [
        Target(
            f"fan-out: ≥ {RATE_TARGET:.0f} messages/s end to end with the limiter off "
            f"({m['database']}, {m['processes']} process{'es' if m['processes'] > 1 else ''}, "
            f"{m['subscribers']:,} subscribers)",
            f"{m['sent'] / m['elapsed_s']:.0f}/s",
            m["sent"] / m["elapsed_s"] >= RATE_TARGET and m["settled"],
        )
        for m in off[1:]
    ]
    result.targets += [
        Target(
            f"fan-out: ≥ {LIMITED_SHARE_TARGET:.0%} of 30 messages/s at Telegram's limits "
            f"({m['database']}, {m['processes']} process{'es' if m['processes'] > 1 else ''})",
            f"{_rate(m):.1f}/s = {_rate(m) / TELEGRAM_RATE:.1%}",
            _rate(m) / TELEGRAM_RATE >= LIMITED_SHARE_TARGET,
        )
        for m in on
    ]
    every = off + on
    result.targets += [
        Target(
            "fan-out: zero 429s at Telegram's limits (every run)",
            ", ".join(str(m["total_429s"]) for m in on),
            all(m["total_429s"] == 0 for m in on),
        ),
        Target(
            "fan-out: every digest sent once (no chat got a message twice, every run)",
            f"{sum(m['twice'] for m in every)} sent twice over {len(every)} runs",
            all(m["twice"] == 0 and m["settled"] for m in every),
        ),
    ]
    per_digest = [m["statements"] / max(m["stored"], 1) for m in off[:2]]
    result.targets.append(
        Target(
            "fan-out: DB statements per digest do not grow when subscribers and articles double",
            " → ".join(f"{p:.2f}" for p in per_digest),
            per_digest[-1] <= 1.05 * per_digest[0] + 0.05,
        )
    )
    return result


def _rate(m: dict[str, Any]) -> float:
    """Messages a second at the server: from the first accepted message until the one-second window of the
    last one closes (a steady 30/s gives 30.0: Telegram's window lets the first second start with a burst)."""
    return float(m["sent"]) / (float(m["span_s"]) + 1.0)
