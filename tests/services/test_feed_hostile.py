"""One publisher's hostile document or headers cost that feed a failure, never the poll of every feed.

Each case once made `FeedService.fetch_all` raise: the poll ended, feeds still in flight were never stored,
the bad feed recorded nothing and stayed due, so every later poll ended the same way. The server is a raw
socket server: the cases include header bytes aiohttp's own server would not send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.feeds import FeedOutcome, FeedService, FetchLimits
from bot.services.ingest import IngestService
from bot.sources.types import FeedFetchError
from db.models import Article, Source

FIXED_NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def rss(items: str, *, head: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"{head}<link>https://example.com/</link>{items}</channel></rss>"
    ).encode()


def item(key: str, *, date: str = "Wed, 31 Jan 2018 20:15:15 GMT", title: str = "") -> str:
    return (
        f"<item><title>{title or 'Story ' + key} about something</title><link>https://example.com/{key}</link>"
        f"<guid>{key}</guid><pubDate>{date}</pubDate><description>Body of story {key}.</description></item>"
    )


def response(body: bytes, *, headers: bytes = b"", status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/rss+xml" + headers
        + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    )


# (served, the bad feed's status after the poll)
CASES: dict[str, tuple[bytes, str]] = {
    # no UTC time exists for these in the feed's zone (Asia/Shanghai) or their own offset
    "date 0001-01-01": (response(rss(item("d1", date="0001-01-01"))), "ok"),
    "date 0001-01-01 +01:00": (response(rss(item("d2", date="0001-01-01T00:00:00+01:00"))), "ok"),
    "date 0000-01-01": (response(rss(item("d3", date="0000-01-01"))), "ok"),
    "date 9999-12-31 -1200": (response(rss(item("d4", date="Sat, 31 Dec 9999 23:59:59 -1200"))), "ok"),
    "lastBuildDate 0001-01-01": (
        response(rss(item("d5"), head="<lastBuildDate>0001-01-01</lastBuildDate>")), "ok"
    ),
    # character references to no character
    "&#xD800;": (response(rss(item("c1", title="A &#xD800; B"))), "ok"),
    "&#x110000;": (response(rss(item("c2", title="A &#x110000; B"))), "ok"),
    "&#99999999999;": (response(rss(item("c3", title="A &#99999999999; B"))), "ok"),
    "&#0; in a guid": (response(rss(item("c4&#0;x"))), "ok"),
    # a codec that is not of text, on a body that is not UTF-8
    "charset=hex": (
        response(rss(item("h1")) + b"<!--" + bytes(range(256)) * 4 + b"-->", headers=b"; charset=hex"),
        "ok",
    ),
    # header bytes past ASCII: aiohttp hands them over as lone surrogates no database stores
    "ETag \\xff\\xfe": (response(rss(item("e1")), headers=b'\r\nETag: "\xff\xfe"'), "ok"),
    "GBK reason phrase": (response(b"", status=b"503 Service \xb2\xbb\xbf\xc9\xd3\xc3"), "error"),
}
GOOD = response(rss(item("good-1") + item("good-2")))


@pytest.fixture
async def hostile_server() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """(base URL, what each path answers); /good answers a moment after the others."""
    answers: dict[str, bytes] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        if path == "/good":
            await asyncio.sleep(0.3)  # still in flight when the bad feed's answer is stored
            writer.write(GOOD)
        else:
            writer.write(answers[path])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", answers
    finally:
        server.close()
        await server.wait_closed()


def make_service(
    sessions: async_sessionmaker[AsyncSession], cls: type[FeedService] = FeedService
) -> FeedService:
    ingest = IngestService(
        sessions, default_tz=ZoneInfo("Asia/Shanghai"), summary_max_chars=150, max_file_bytes=10_000_000
    )
    limits = FetchLimits(timeout=5.0, max_redirects=3, per_host=4, concurrency=8, allow_private=True)
    return cls(sessions, ingest, limits=limits, now=lambda: FIXED_NOW)


async def feeds_by_path(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Source]:
    async with sessions() as session:
        return {s.url.rsplit("/", 1)[1]: s for s in await session.scalars(select(Source))}


async def links(sessions: async_sessionmaker[AsyncSession]) -> set[str | None]:
    async with sessions() as session:
        return set(await session.scalars(select(Article.link)))


@pytest.mark.parametrize("case", list(CASES))
async def test_a_hostile_feed_fails_alone_and_the_poll_goes_on(
    sessions: async_sessionmaker[AsyncSession], hostile_server: tuple[str, dict[str, bytes]], case: str
) -> None:
    base, answers = hostile_server
    answers["/bad"], expected = CASES[case]
    feeds = make_service(sessions)
    await feeds.add(base + "/good")
    await feeds.add(base + "/bad")
    async with aiohttp.ClientSession() as http:
        outcomes = await feeds.fetch_all(http)
        assert sorted(o.status for o in outcomes) == sorted(["ok", expected])
        stored = await feeds_by_path(sessions)
        assert stored["good"].last_status == "ok"
        assert stored["bad"].last_status == expected
        assert stored["bad"].fetch_claimed_by is None
        assert {"https://example.com/good-1", "https://example.com/good-2"} <= await links(sessions)
        if expected == "ok":
            assert len(await links(sessions)) == 3  # the bad feed's story is kept too
            assert stored["bad"].etag is None  # "\xff\xfe" is no ETag to send back
        else:
            assert stored["bad"].last_error is not None
            assert stored["bad"].last_error.startswith("HTTP 503 Service ")
        # and the next poll is a poll, not the same crash
        again = await feeds.fetch_all(http, force=True)
        assert len(again) == 2


class _FailingOnBad(FeedService):
    """A fault injected into our own service: storing the /bad feed's document fails in a way nobody
    foresaw (the role the cases above played before their fixes)."""

    async def _store_fetch(  # type: ignore[override]
        self, source: Source, fetched: object, claimed: set[int], stop: asyncio.Event | None = None
    ) -> FeedOutcome:
        if source.url.endswith("/bad") and not isinstance(fetched, FeedFetchError):
            raise KeyError("unforeseen")
        return await super()._store_fetch(source, fetched, claimed, stop)  # type: ignore[arg-type]


async def test_an_unforeseen_error_in_one_feed_is_that_feed_s_failure(
    sessions: async_sessionmaker[AsyncSession],
    hostile_server: tuple[str, dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, answers = hostile_server
    answers["/bad"] = response(rss(item("b1")), headers=b'\r\nETag: "v1"')
    feeds = make_service(sessions, _FailingOnBad)
    await feeds.add(base + "/good")
    await feeds.add(base + "/bad")
    async with aiohttp.ClientSession() as http:
        outcomes = {o.url.rsplit("/", 1)[1]: o for o in await feeds.fetch_all(http)}
    assert outcomes["good"].status == "ok"
    assert outcomes["bad"].status == "error"
    assert outcomes["bad"].error == "internal error (KeyError), see the log"
    stored = await feeds_by_path(sessions)
    assert (stored["bad"].last_status, stored["bad"].error_streak, stored["bad"].etag) == ("error", 1, None)
    assert stored["bad"].fetch_claimed_by is None
    assert "storing what it served failed" in caplog.text
    assert await links(sessions) == {"https://example.com/good-1", "https://example.com/good-2"}
