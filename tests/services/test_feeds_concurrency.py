"""Feed polling by several processes on one database: each feed fetched once per interval, claims that run
out. Two `FeedService`s with their own engines and holders stand for two `newsbot run` processes; the feeds
come from a real local HTTP server, the database is SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.feeds import BUSY, NOT_DUE, FeedOutcome, FeedService, FetchLimits
from bot.services.ingest import IngestService
from db.models import Source
from tests.fakes.feed_server import RSS, FeedServer
from tests.waiting import wait_until

START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=10)
CLAIM_TTL = timedelta(minutes=5)
FEEDS = [f"/feed{n}.xml" for n in range(6)]


def rss(name: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{name}</title><link>https://{name}.example.com/</link>
<item><title>News from {name}</title><link>https://{name}.example.com/1</link><guid>{name}-1</guid>
<pubDate>Fri, 27 Nov 2026 07:00:00 GMT</pubDate><description>The first story of {name}.</description></item>
</channel></rss>
""".encode()


class Clock:
    """The services' clock; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current


def make_service(
    sessions: async_sessionmaker[AsyncSession], *, holder: str, now: Callable[[], datetime]
) -> FeedService:
    ingest = IngestService(
        sessions, default_tz=ZoneInfo("Asia/Shanghai"), summary_max_chars=150, max_file_bytes=1_000_000
    )
    # every feed is on 127.0.0.1: a per-host limit as wide as the concurrency lets all of them start at once
    # the feeds are on the local feed server, 127.0.0.1: private addresses allowed
    limits = FetchLimits(
        timeout=5.0, max_bytes=1_000_000, max_redirects=3, per_host=16, concurrency=16, allow_private=True
    )
    return FeedService(
        sessions, ingest, limits=limits, now=now, holder=holder, poll_interval=INTERVAL, claim_ttl=CLAIM_TTL
    )




@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    fake = FeedServer()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


async def claims(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str | None]:
    async with sessions() as session:
        rows = await session.execute(select(Source.url, Source.fetch_claimed_by))
    return {url: holder for url, holder in rows.tuples()}


async def test_two_processes_polling_together_fetch_each_feed_once(
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    server: FeedServer,
) -> None:
    release = asyncio.Event()

    def held_feed(body: bytes) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.Response:
            await release.wait()  # every fetch stays in flight until all feeds have been asked for
            return web.Response(body=body, content_type=RSS)

        return handler

    for path in FEEDS:
        server.add_route(path, held_feed(rss(path.strip("/").removesuffix(".xml"))))  # type: ignore[arg-type]
    server.add_status("/gone.xml", 404)
    clock = Clock()
    first = make_service(sessions, holder="host-a:1:aaaa", now=clock.now)
    second = make_service(other_process, holder="host-b:2:bbbb", now=clock.now)
    urls = [server.url(path) for path in [*FEEDS, "/gone.xml"]]
    for url in urls:
        await first.add(url)

    async with aiohttp.ClientSession() as http:
        polls = asyncio.gather(first.fetch_all(http), second.fetch_all(http))
        await wait_until(lambda: all(server.count(path) for path in FEEDS), "a request for every feed")
        # both processes hold claims now, each on the feeds it fetches
        assert set((await claims(sessions)).values()) - {None} <= {first.holder, second.holder}
        release.set()
        outcomes_a, outcomes_b = await polls

    for path in [*FEEDS, "/gone.xml"]:
        assert server.count(path) == 1, path
    fetched: dict[str, list[FeedOutcome]] = {url: [] for url in urls}
    for outcome in [*outcomes_a, *outcomes_b]:
        fetched[outcome.url].append(outcome)
    for url, outcomes in fetched.items():
        statuses = sorted(o.status for o in outcomes)
        # one process fetched it; the other found it claimed (busy) or already fetched (not due)
        assert len(statuses) == 2, url
        expected = "error" if url.endswith("/gone.xml") else "ok"
        assert expected in statuses, url
        assert {s for s in statuses if s != expected} <= {BUSY, NOT_DUE}, url
    assert sum(o.result.imported for o in [*outcomes_a, *outcomes_b]) == len(FEEDS)
    # every claim ended with its fetch, the failed one too
    assert set((await claims(sessions)).values()) == {None}

    # the next tick of either process, a minute later: fetched a minute ago, so not due
    clock.current += timedelta(minutes=1)
    async with aiohttp.ClientSession() as http:
        again = await second.fetch_all(http)
    assert {o.status for o in again} == {NOT_DUE}
    assert all(server.count(path) == 1 for path in FEEDS)


async def test_a_claim_left_by_a_dead_process_is_taken_over_once_it_runs_out(
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    server: FeedServer,
) -> None:
    server.add_feed("/feed.xml", rss("orphan"), content_type=RSS)
    clock = Clock()
    survivor = make_service(other_process, holder="host-b:2:bbbb", now=clock.now)
    feed = await survivor.add(server.url("/feed.xml"))
    # a process claimed the feed and was killed mid-fetch: its claim stays behind
    async with sessions() as session, session.begin():
        await session.execute(
            update(Source)
            .where(Source.id == feed.id)
            .values(fetch_claimed_by="host-a:1:dead", fetch_claim_until=START + CLAIM_TTL)
        )

    async with aiohttp.ClientSession() as http:
        clock.current = START + CLAIM_TTL - timedelta(seconds=1)
        waiting = await survivor.fetch_all(http)
        assert [o.status for o in waiting] == [BUSY]
        assert server.count("/feed.xml") == 0

        clock.current = START + CLAIM_TTL + timedelta(seconds=1)
        taken_over = await survivor.fetch_all(http)
    assert [o.status for o in taken_over] == ["ok"]
    assert taken_over[0].result.imported == 1
    assert server.count("/feed.xml") == 1
    async with sessions() as session:
        stored = await session.get(Source, feed.id)
    assert stored is not None
    assert stored.fetch_claimed_by is None
    assert stored.fetch_claim_until is None
    assert stored.last_fetch_at == clock.current


async def test_a_feed_is_due_again_after_an_interval_and_force_fetches_at_once(
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    server: FeedServer,
) -> None:
    server.add_feed("/feed.xml", rss("steady"), content_type=RSS, etag='"v1"')
    clock = Clock()
    first = make_service(sessions, holder="host-a:1:aaaa", now=clock.now)
    second = make_service(other_process, holder="host-b:2:bbbb", now=clock.now)
    await first.add(server.url("/feed.xml"))

    async with aiohttp.ClientSession() as http:
        assert [o.status for o in await first.fetch_all(http)] == ["ok"]
        clock.current += INTERVAL / 2  # the other process ticks half an interval later
        assert [o.status for o in await second.fetch_all(http)] == [NOT_DUE]
        assert server.count("/feed.xml") == 1

        # `newsbot fetch` asks for it now: fetched, conditionally, with the validators the first fetch stored
        forced = await second.fetch_all(http, force=True)
        assert [o.status for o in forced] == ["not modified"]
        assert server.count("/feed.xml") == 2
        assert server.last_headers("/feed.xml").get("If-None-Match") == '"v1"'

        clock.current += INTERVAL  # an interval after the last fetch: due for whichever process ticks first
        assert [o.status for o in await first.fetch_all(http)] == ["not modified"]
        assert [o.status for o in await second.fetch_all(http)] == [NOT_DUE]
    assert server.count("/feed.xml") == 3
