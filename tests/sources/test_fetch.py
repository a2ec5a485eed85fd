"""fetch_feed and HostLimiter against a real local aiohttp server (tests/fakes/feed_server.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from typing import Any

import aiohttp
import pytest

from bot.sources.feeds import USER_AGENT, FetchResult, HostLimiter, fetch_feed, parse_feed
from bot.sources.types import FeedFetchError, FeedParseError
from tests.fakes.feed_server import (
    CONDITIONAL_ETAG,
    CONDITIONAL_FEED,
    CONDITIONAL_FEED_TITLE,
    CONDITIONAL_LAST_MODIFIED,
    GBK_FEED_TITLE,
    GBK_ITEM_TITLES,
    FeedServer,
)

FAST = 0.5  # client timeout for the slow route; keeps the suite fast


async def fetch_local(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> FetchResult:
    """fetch_feed from the local feed server: it listens on 127.0.0.1, so private addresses are allowed."""
    return await fetch_feed(http, url, allow_private=True, **kwargs)


async def fetch_error(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> FeedFetchError:
    with pytest.raises(FeedFetchError) as caught:
        await fetch_local(http, url, **kwargs)
    assert caught.value.where == url
    assert "\n" not in str(caught.value)
    return caught.value


async def test_every_corpus_feed_over_http(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    for name in ("rss-parser__guardian.rss", "rss-parser__heise.atom", "rss-parser__encoding-gb2312.xml"):
        url = feed_server.url(f"/corpus/{name}")
        result = await fetch_local(http, url)
        assert result.status == 200
        assert not result.not_modified
        feed = parse_feed(result.content, origin=result.url, default_tz=UTC, content_type=result.content_type)
        assert feed.entries


async def test_200_then_304_with_conditional_headers(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    url = feed_server.url("/conditional.xml")
    first = await fetch_local(http, url)
    assert first.status == 200
    assert not first.not_modified
    assert first.etag == CONDITIONAL_ETAG
    assert first.last_modified == CONDITIONAL_LAST_MODIFIED
    assert first.content_type == "application/rss+xml"
    assert first.content == CONDITIONAL_FEED
    sent = feed_server.last_headers("/conditional.xml")
    assert sent["User-Agent"] == USER_AGENT
    assert "application/rss+xml" in sent["Accept"]
    assert "If-None-Match" not in sent
    assert "If-Modified-Since" not in sent

    second = await fetch_local(http, url, etag=first.etag, last_modified=first.last_modified)
    assert second.status == 304
    assert second.not_modified
    assert second.url == url
    assert second.content == b""
    assert second.etag == CONDITIONAL_ETAG
    assert second.last_modified == CONDITIONAL_LAST_MODIFIED
    sent = feed_server.last_headers("/conditional.xml")
    assert sent["If-None-Match"] == CONDITIONAL_ETAG
    assert sent["If-Modified-Since"] == CONDITIONAL_LAST_MODIFIED
    assert feed_server.count("/conditional.xml") == 2


async def test_last_modified_alone_gives_304(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    result = await fetch_local(
        http, feed_server.url("/conditional.xml"), last_modified=CONDITIONAL_LAST_MODIFIED
    )
    assert result.not_modified
    assert result.status == 304
    assert result.last_modified == CONDITIONAL_LAST_MODIFIED


async def test_stale_etag_gets_full_body(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    result = await fetch_local(http, feed_server.url("/conditional.xml"), etag='"v0"')
    assert result.status == 200
    assert result.content
    assert result.etag == CONDITIONAL_ETAG


@pytest.mark.parametrize(
    ("path", "reason"), [("/404", "HTTP 404 Not Found"), ("/500", "HTTP 500 Internal Server Error")]
)
async def test_http_errors(
    feed_server: FeedServer, http: aiohttp.ClientSession, path: str, reason: str
) -> None:
    error = await fetch_error(http, feed_server.url(path))
    assert error.reason == reason


async def test_unknown_path_is_404(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/nope.xml"))
    assert error.reason == "HTTP 404 Not Found"


async def test_timeout(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    error = await fetch_error(http, feed_server.url("/slow"), timeout=FAST)
    assert error.reason == "timed out after 0.5s"
    assert isinstance(error.__cause__, TimeoutError)
    assert time.monotonic() - started < 3


async def test_redirect_loop(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/loop"))
    assert error.reason == "too many redirects (more than 5)"
    assert isinstance(error.__cause__, aiohttp.TooManyRedirects)


async def test_redirect_chain_limit(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/hop1"), max_redirects=3)
    assert error.reason == "too many redirects (more than 3)"
    # Three redirects followed (hop1 -> hop4), the fourth refused.
    assert feed_server.count("/hop4") == 1
    assert feed_server.count("/hop5") == 0


async def test_redirects_within_limit_are_followed(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    error = await fetch_error(http, feed_server.url("/hop8"), max_redirects=3)  # hop11 does not exist
    assert error.reason == "HTTP 404 Not Found"
    assert feed_server.count("/hop11") == 1


async def test_no_redirects_allowed(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/moved"), max_redirects=0)
    assert error.reason == "too many redirects (more than 0)"


async def test_single_redirect_reports_final_url(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    result = await fetch_local(http, feed_server.url("/moved"))
    assert result.status == 200
    assert result.url == feed_server.url("/conditional.xml")
    feed = parse_feed(result.content, origin=result.url, default_tz=UTC, content_type=result.content_type)
    assert feed.title == CONDITIONAL_FEED_TITLE
    assert feed.entries[0].guid == "cond-1"
    assert "welcome" in feed.entries[0].body


async def test_redirect_to_a_corpus_feed(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    feed_server.add_redirect("/old-guardian", "/corpus/rss-parser__guardian.rss", status=308)
    result = await fetch_local(http, feed_server.url("/old-guardian"))
    assert result.url == feed_server.url("/corpus/rss-parser__guardian.rss")
    feed = parse_feed(result.content, origin=result.url, default_tz=UTC, content_type=result.content_type)
    assert feed.title == "The Guardian"


async def test_huge_feed_keeps_the_newest_items(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    feed_server.add_many_items("/many.xml", 5_000)
    result = await fetch_local(http, feed_server.url("/many.xml"))
    # as the feed service does it: parsing thousands of items takes a while, so not on the event loop
    feed = await asyncio.to_thread(
        parse_feed,
        result.content,
        origin=result.url,
        default_tz=UTC,
        content_type=result.content_type,
        max_items=200,
    )
    assert [e.title for e in feed.entries] == [f"Item {i}" for i in range(4_800, 5_000)]


async def test_oversized_streamed_body(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/big"), max_bytes=100_000)
    assert error.reason == "response larger than 100000 bytes"


async def test_oversized_declared_body(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    error = await fetch_error(http, feed_server.url("/big-declared"), max_bytes=100_000)
    assert error.reason == "response larger than 100000 bytes"


async def test_body_under_cap_is_read_whole(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    result = await fetch_local(http, feed_server.url("/big"), max_bytes=3_000_000)
    assert len(result.content) > 2_000_000
    assert result.content.endswith(b"</channel></rss>\n")


async def test_connection_refused(http: aiohttp.ClientSession) -> None:
    server = FeedServer()
    url = (await server.start()) + "/gone.xml"
    await server.close()  # nothing listens on that port any more
    error = await fetch_error(http, url)
    assert error.reason.startswith("ClientConnectorError: ")


@pytest.mark.parametrize("url", ["ftp://example.com/feed.xml", "http://[::1/feed", "not a url"])
async def test_bad_urls_are_fetch_errors(http: aiohttp.ClientSession, url: str) -> None:
    await fetch_error(http, url)


@pytest.mark.parametrize("name", ["declared.xml", "undeclared.xml", "header.xml", "lying-utf8.xml"])
async def test_gbk_variants(feed_server: FeedServer, http: aiohttp.ClientSession, name: str) -> None:
    result = await fetch_local(http, feed_server.url(f"/gbk/{name}"))
    feed = parse_feed(result.content, origin=result.url, default_tz=UTC, content_type=result.content_type)
    assert feed.title == GBK_FEED_TITLE
    assert tuple(e.title for e in feed.entries) == GBK_ITEM_TITLES
    assert feed.entries[0].link == "https://news.example.cn/0"


async def test_html_instead_of_xml_is_a_parse_error(
    feed_server: FeedServer, http: aiohttp.ClientSession
) -> None:
    result = await fetch_local(http, feed_server.url("/html"))
    assert result.status == 200
    assert result.content_type == "text/html; charset=utf-8"
    with pytest.raises(FeedParseError, match="an HTML page, not a feed"):
        parse_feed(result.content, origin=result.url, default_tz=UTC, content_type=result.content_type)


# --- HostLimiter ----------------------------------------------------------------------------------


async def test_host_limiter_caps_concurrency_per_host() -> None:
    limiter = HostLimiter(2)
    active: dict[str, int] = {"a.example": 0, "b.example": 0}
    peak: dict[str, int] = {"a.example": 0, "b.example": 0}

    async def job(url: str) -> None:
        host = HostLimiter.host_of(url)
        async with limiter.slot(url):
            active[host] += 1
            peak[host] = max(peak[host], active[host])
            await asyncio.sleep(0.01)
            active[host] -= 1

    urls = [f"https://{h}/feed/{i}" for h in ("a.example", "B.example") for i in range(6)]
    await asyncio.gather(*(job(u) for u in urls))
    assert peak == {"a.example": 2, "b.example": 2}


def test_host_limiter_knows_one_host_however_it_is_spelled() -> None:
    spellings = [
        "https://blog.example/a.xml",
        "https://blog.example:443/b.xml",
        "https://x@blog.example/c.xml",
        "https://BLOG.example./d.xml",
        "http://user:pw@Blog.Example:8080/e.xml",
    ]
    assert {HostLimiter.host_of(url) for url in spellings} == {"blog.example"}


async def test_host_limiter_with_real_fetches(feed_server: FeedServer, http: aiohttp.ClientSession) -> None:
    limiter = HostLimiter(1)

    async def one(path: str) -> FetchResult:
        async with limiter.slot(feed_server.url(path)):
            return await fetch_local(http, feed_server.url(path))

    results = await asyncio.gather(
        *(one(p) for p in ("/gbk/declared.xml", "/gbk/header.xml", "/conditional.xml"))
    )
    assert [r.status for r in results] == [200, 200, 200]


def test_host_limiter_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HostLimiter(0)
