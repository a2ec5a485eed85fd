"""Feed management and polling against a real local HTTP server and real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.feeds import FeedError, FeedService, FetchLimits
from bot.services.ingest import IngestService
from bot.sources.opml import parse_opml
from db.models import Article, Source
from tests.fakes.feed_server import FeedServer

FIXED_NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
async def server(corpus: Path) -> AsyncIterator[FeedServer]:
    fake = FeedServer()
    fake.add_misbehaving_routes()
    guardian = (corpus / "feeds" / "rss-parser__guardian.rss").read_bytes()
    fake.add_feed("/guardian", guardian, content_type="application/rss+xml", etag='"v1"')
    fake.add_feed(
        "/gb2312",
        (corpus / "feeds" / "rss-parser__encoding-gb2312.orig-77ffd78.xml").read_bytes(),
        content_type="text/xml",
        last_modified="Wed, 01 Jul 2020 10:00:00 GMT",
    )
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def make_service(sessions: async_sessionmaker[AsyncSession]) -> FeedService:
    ingest = IngestService(
        sessions, default_tz=ZoneInfo("Asia/Shanghai"), summary_max_chars=150, max_file_bytes=10_000_000
    )
    # the feeds are on the local feed server, 127.0.0.1: private addresses allowed
    limits = FetchLimits(
        timeout=1.0, max_bytes=1_000_000, max_redirects=3, per_host=2, concurrency=8, allow_private=True
    )
    return FeedService(sessions, ingest, limits=limits, now=lambda: FIXED_NOW)


async def test_poll_stores_new_entries_then_uses_conditional_get(
    sessions: async_sessionmaker[AsyncSession], server: FeedServer
) -> None:
    feeds = make_service(sessions)
    await feeds.add(server.url("/guardian"))
    await feeds.add(server.url("/gb2312"), name="腾讯新闻")
    for path in ("/404", "/500", "/slow", "/loop", "/html", "/big"):
        await feeds.add(server.url(path))

    async with aiohttp.ClientSession() as http:
        first = await feeds.fetch_all(http)
        by_url = {o.url: o for o in first}
        guardian = by_url[server.url("/guardian")]
        assert guardian.status == "ok"
        assert guardian.result.imported > 10
        assert guardian.name == "The Guardian"  # named after the feed's own title
        tencent = by_url[server.url("/gb2312")]
        assert tencent.status == "ok"
        assert tencent.result.imported > 0
        paths = ("/404", "/500", "/slow", "/loop", "/html", "/big")
        errors = {path: by_url[server.url(path)].error or "" for path in paths}
        assert "404" in errors["/404"]
        assert "500" in errors["/500"]
        assert "timed out" in errors["/slow"]
        assert "redirect" in errors["/loop"]
        assert "larger than" in errors["/big"]
        assert errors["/html"]  # an HTML page is not a feed

        second = await feeds.fetch_all(http)
    by_url = {o.url: o for o in second}
    assert by_url[server.url("/guardian")].status == "not modified"
    assert server.last_headers("/guardian").get("If-None-Match") == '"v1"'
    assert by_url[server.url("/gb2312")].status == "not modified"

    listed = {s.url: s for s in await feeds.list_feeds()}
    assert listed[server.url("/404")].error_streak == 2
    assert listed[server.url("/404")].last_status == "error"
    assert listed[server.url("/guardian")].error_streak == 0
    assert listed[server.url("/guardian")].last_success_at == FIXED_NOW
    async with sessions() as session:
        stored = await session.scalar(select(func.count(Article.id)))
        publishers = set(await session.scalars(select(Article.publisher).distinct()))
    assert stored == guardian.result.imported + tencent.result.imported
    assert publishers == {"The Guardian", "腾讯新闻"}


async def test_add_remove_and_opml_round_trip(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    feeds = make_service(sessions)
    first = await feeds.add("https://example.com/rss", name="Example")
    await feeds.add("https://news.example.org/atom.xml")
    with pytest.raises(FeedError, match="already following"):
        await feeds.add("https://example.com/rss")
    with pytest.raises(FeedError, match="not an http"):
        await feeds.add("ftp://example.com/rss")

    document = await feeds.export_opml()
    exported = parse_opml(document.encode("utf-8"), origin="export")
    assert [f.url for f in exported] == ["https://example.com/rss", "https://news.example.org/atom.xml"]

    removed = await feeds.remove(str(first.id))
    assert removed.url == "https://example.com/rss"
    with pytest.raises(FeedError, match="no feed"):
        await feeds.remove("https://example.com/rss")

    added, skipped = await feeds.import_opml(document.encode("utf-8"), origin="subs.opml")
    assert [s.url for s in added] == ["https://example.com/rss"]
    assert skipped == ["https://news.example.org/atom.xml"]


async def test_an_opml_title_or_category_longer_than_the_columns_is_cut_not_fatal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """PostgreSQL refused a 300-character OPML title (or folder, the category) and the import of every feed
    after it was lost."""
    long_title, long_category = "T" * 300, "C" * 300
    document = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>subs</title></head><body>'
        f'<outline text="{long_category}"><outline text="{long_title}" type="rss" xmlUrl="https://a.example/feed"/>'
        '</outline><outline text="B" type="rss" xmlUrl="https://b.example/feed"/>'
        "</body></opml>"
    ).encode()
    added, skipped = await make_service(sessions).import_opml(document, origin="subs.opml")
    assert ([f.url for f in added], skipped) == (["https://a.example/feed", "https://b.example/feed"], [])
    async with sessions() as session:
        first = (await session.scalars(select(Source).order_by(Source.id))).first()
    assert first is not None
    assert (first.name, first.category) == ("T" * 256, "C" * 256)


async def test_new_validators_on_a_304_are_kept(sessions: async_sessionmaker[AsyncSession]) -> None:
    body = (
        b'<rss version="2.0"><channel><title>Rotating</title><item><title>One</title>'
        b"<link>https://news.example.com/1</link><description>Words.</description></item></channel></rss>"
    )
    asked: list[str | None] = []

    async def rotating(request: web.Request) -> web.Response:
        asked.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match"):
            return web.Response(status=304, headers={"ETag": f'"v{len(asked)}"'})
        return web.Response(body=body, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    server = FeedServer()
    server.add_route("/rotating.xml", rotating)
    await server.start()
    try:
        feeds = make_service(sessions)
        await feeds.add(server.url("/rotating.xml"))
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                await feeds.fetch_all(http, force=True)
        assert asked == [None, '"v1"', '"v2"']
        async with sessions() as session:
            assert (await session.scalars(select(Source.etag))).one() == '"v3"'
    finally:
        await server.close()


class StopAfter(asyncio.Event):
    """A stop that is set once it has been looked at `looks` times: a SIGTERM in the middle of storing a feed,
    at a known article."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self.looks = looks

    def is_set(self) -> bool:
        self.looks -= 1
        return self.looks < 0 or super().is_set()


async def test_a_stop_ends_the_poll_after_the_article_in_hand_and_the_next_poll_stores_the_rest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    server = FeedServer()
    server.add_many_items("/many.xml", 2_000)
    await server.start()
    try:
        feeds = make_service(sessions)
        feed = await feeds.add(server.url("/many.xml"))
        async with aiohttp.ClientSession() as http:
            (stopped,) = await feeds.fetch_all(http, stop=StopAfter(looks=5))
            assert (stopped.result.imported, stopped.result.left) == (
                5,
                195,
            )  # FETCH_MAX_ITEMS 200 by default
            (listed,) = await feeds.list_feeds()
            assert listed.last_fetch_at is None  # as if not fetched: the next poll is due at once
            assert listed.name == server.url("/many.xml")

            (resumed,) = await feeds.fetch_all(http)
        assert (resumed.result.imported, resumed.result.duplicates, resumed.result.left) == (195, 5, 0)
        assert resumed.name == "Many items"
        assert server.count("/many.xml") == 2
        async with sessions() as session:
            assert await session.scalar(select(func.count(Article.id))) == 200
        assert feed.id == resumed.source_id
    finally:
        await server.close()


async def test_validators_and_links_longer_than_the_database_keeps_are_dropped_not_fatal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A 1,000-character ETag once failed the fetch's record (PostgreSQL: value too long), and a link of
    3,000 characters the article's insert."""
    long_link = "https://news.example.com/" + "a" * 3000
    body = (
        '<rss version="2.0"><channel><title>Long</title>'
        f"<item><title>Long link</title><link>{long_link}</link><description>Words.</description></item>"
        "</channel></rss>"
    ).encode()
    server = FeedServer()
    server.add_feed("/long.xml", body, etag='"' + "e" * 1000 + '"', last_modified="x" * 200)
    await server.start()
    try:
        feeds = make_service(sessions)
        await feeds.add(server.url("/long.xml"))
        async with aiohttp.ClientSession() as http:
            (outcome,) = await feeds.fetch_all(http)
            assert (outcome.status, outcome.result.imported, outcome.result.failed) == ("ok", 1, [])
            await feeds.fetch_all(http, force=True)  # no validators kept: fetched whole again, a duplicate
        assert "If-None-Match" not in server.last_headers("/long.xml")
        async with sessions() as session:
            source = (await session.scalars(select(Source))).one()
            article = (await session.scalars(select(Article))).one()
        assert (source.etag, source.last_modified, source.error_streak) == (None, None, 0)
        assert article.link is None
    finally:
        await server.close()
