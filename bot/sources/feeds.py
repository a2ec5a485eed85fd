"""RSS/Atom feeds: parse a document into a ParsedFeed, fetch one over HTTP, limit requests per host.

`parse_feed` is pure (bytes in, ParsedFeed out). `fetch_feed` does one conditional GET with the
caller's aiohttp.ClientSession and turns every network failure into FeedFetchError. The loop that
polls many feeds, and anything touching the database, belongs to the ingest service.

Errors (see bot.sources.types): FeedParseError for a document that is not a usable feed,
FeedFetchError for HTTP trouble; both one line.
"""

from __future__ import annotations

import asyncio
import calendar
import io
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import feedparser

from bot.sources.charset import charset_from_content_type, decode_document
from bot.sources.dates import parse_date
from bot.sources.posts import title_from_body
from bot.sources.types import BodyFormat, FeedFetchError, FeedParseError, ParsedFeed, RawArticle
from bot.urls import is_http_url

log = logging.getLogger(__name__)

USER_AGENT = "newsbot/0.1 (+feed reader)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# What may precede the root element of a feed: BOM, whitespace, XML declaration, processing
# instructions (xml-stylesheet), comments and a DOCTYPE.
_PROLOGUE = re.compile(r"\A(?:\ufeff|\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.DOTALL | re.IGNORECASE)
_FEED_ROOT = re.compile(r"<(?:[A-Za-z][\w.-]*:)?(?:rss|feed|RDF)[\s>/]")
_HTML_ROOT = re.compile(r"<(?:!DOCTYPE\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
# C0 controls other than tab/newline/CR are illegal in XML 1.0 and make the strict parser give up.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SNIFF_BYTES = 4096
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


# --- sniffing -------------------------------------------------------------------------------------


def _feed_root_text(text: str) -> bool:
    start = _PROLOGUE.match(text)
    rest = text[start.end() if start else 0 :]
    return _FEED_ROOT.match(rest) is not None


def looks_like_feed(data: bytes) -> bool:
    """True when `data` starts (after BOM, XML declaration, comments, PIs) with <rss, <feed or <rdf:RDF."""
    head = data[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return _feed_root_text(head[2:].decode(codec, errors="ignore"))
    # The markup we look for is ASCII in every ASCII-compatible charset; other bytes don't matter.
    return _feed_root_text(head.decode("latin-1"))


# --- parsing --------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _http_url(value: object, base: str | None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    if base:
        url = urljoin(base, url)
    return url if is_http_url(url) else None


def _prepare_text(data: bytes, content_type: str | None) -> str:
    """Decode and clean the document so that feedparser reads it as UTF-8 without second-guessing."""
    text = decode_document(data, declared=charset_from_content_type(content_type))
    text = text.lstrip("\ufeff")
    text = _XML_ILLEGAL.sub("", text)
    # The declaration would make feedparser re-decode the UTF-8 we hand it with the original charset.
    text = _XML_DECLARATION.sub("", text, count=1)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip()


def _published(entry: Any, default_tz: tzinfo) -> datetime | None:
    # Our own parser first: it honours default_tz for zone-less dates, which feedparser reads as UTC.
    for key in ("published", "updated", "created"):
        parsed = parse_date(entry.get(key), default_tz=default_tz)
        if parsed is not None:
            return parsed
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        struct = entry.get(key)
        if isinstance(struct, time.struct_time):
            return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    return None


def _is_image_media(media: Any) -> bool:
    kind = str(media.get("type") or "")
    medium = str(media.get("medium") or "")
    if medium or kind:
        return medium == "image" or kind.startswith("image/")
    # Untyped media:content (The Guardian's) is a picture when its path says so.
    return urlsplit(str(media.get("url") or "")).path.lower().endswith(_IMAGE_SUFFIXES)


def _width(media: Any) -> int:
    try:
        return int(media.get("width") or 0)
    except (TypeError, ValueError):
        return 0


def _image(entry: Any, base: str | None) -> str | None:
    for thumb in entry.get("media_thumbnail") or []:
        url = _http_url(thumb.get("url"), base)
        if url:
            return url
    # Feeds list several sizes of one picture; keep the widest.
    pictures = sorted(
        (m for m in entry.get("media_content") or [] if _is_image_media(m)), key=_width, reverse=True
    )
    for media in pictures:
        url = _http_url(media.get("url"), base)
        if url:
            return url
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type") or "").startswith("image/"):
            url = _http_url(enclosure.get("href") or enclosure.get("url"), base)
            if url:
                return url
    return None


def _categories(entry: Any) -> tuple[str, ...]:
    terms: list[str] = []
    for tag in entry.get("tags") or []:
        term = _one_line(tag.get("term") or tag.get("label") or "")
        if term:
            terms.append(term)
    return tuple(dict.fromkeys(terms))


def _entry_article(entry: Any, *, origin: str, base: str | None, default_tz: tzinfo) -> RawArticle | None:
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    summary = entry.get("summary") or ""
    if contents:
        body, is_excerpt, kind = contents[0]["value"].strip(), False, contents[0].get("type")
    else:
        detail = entry.get("summary_detail") or {}
        body, is_excerpt, kind = summary.strip(), bool(summary.strip()), detail.get("type")
    # Atom type="text" arrives unescaped; calling it HTML would let "<" and "&" be misread.
    body_format: BodyFormat = "text" if kind == "text/plain" else "html"

    title = _one_line(entry.get("title") or "") or (title_from_body(body) if body else None)
    if not title:
        return None

    author = _one_line(entry.get("author") or "") or None
    guid = (entry.get("id") or "").strip() or None
    return RawArticle(
        title=title,
        body=body,
        body_format=body_format,
        origin=origin,
        link=_http_url(entry.get("link"), base),
        guid=guid,
        author=author,
        published=_published(entry, default_tz),
        categories=_categories(entry),
        image_url=_image(entry, base),
        is_excerpt=is_excerpt,
    )


def parse_feed(
    data: bytes, *, origin: str, default_tz: tzinfo, content_type: str | None = None
) -> ParsedFeed:
    """Parse an RSS/Atom document. `origin` (URL or path) names it in errors and is the base for
    relative links when it is an http(s) URL; `content_type` is the HTTP header, for its charset.

    Raises FeedParseError for an empty document, a non-XML or HTML document, or one where
    feedparser finds neither a feed title nor any entry. Malformed feeds that still yield entries
    (bozo) are accepted.
    """
    if not data.strip():
        raise FeedParseError(origin, "empty document")

    text = _prepare_text(data, content_type)
    body = text.split("?>", 1)[1].lstrip()
    if not _feed_root_text(body):
        # feedparser happily "parses" an HTML error page into an empty feed; say what it really is.
        if _HTML_ROOT.search(body[:_SNIFF_BYTES]):
            raise FeedParseError(origin, "an HTML page, not a feed")
        if not body.startswith("<"):
            raise FeedParseError(origin, "not XML")

    # No content-location: feedparser would resolve relative links against the document URL,
    # but the feed's own <link> is the better base (feeds are often served from a feed proxy).
    result = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )

    origin_base = origin if is_http_url(origin) else None
    feed = result.get("feed", {})
    feed_title = _one_line(feed.get("title") or "")
    feed_link = _http_url(feed.get("link"), origin_base)
    base = feed_link or origin_base
    articles = [
        article
        for entry in result.get("entries") or []
        if (article := _entry_article(entry, origin=origin, base=base, default_tz=default_tz)) is not None
    ]
    if not articles and not feed_title:
        if result.get("bozo"):
            problem = _one_line(str(result.get("bozo_exception") or "malformed"))
            raise FeedParseError(origin, f"not a feed ({problem})")
        raise FeedParseError(origin, "no feed title and no entries")
    if result.get("bozo"):
        log.debug("%s: malformed feed read leniently: %s", origin, result.get("bozo_exception"))
    return ParsedFeed(title=feed_title, link=feed_link, entries=articles)


# --- fetching -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response for a feed. `url` is the final URL after redirects; on 304 `content` is empty
    and etag/last_modified repeat the validators we sent when the server did not resend them."""

    url: str
    status: int
    not_modified: bool
    content: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


async def _read_capped(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise FeedFetchError(url, f"response larger than {max_bytes} bytes")
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        buffer.extend(chunk)
        if len(buffer) > max_bytes:
            raise FeedFetchError(url, f"response larger than {max_bytes} bytes")
    return bytes(buffer)


async def fetch_feed(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,  # noqa: ASYNC109 - one budget for connect, redirects and the capped read
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
) -> FetchResult:
    """GET `url` conditionally. Raises FeedFetchError (and nothing else) for HTTP errors, redirect loops,
    timeouts, bodies over `max_bytes` and network failures."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            async with session.get(
                url,
                headers=headers,
                # aiohttp refuses the max_redirects-th redirect (and 0 means unlimited), so ask it to
                # follow one more than we allow, or none at all.
                allow_redirects=max_redirects > 0,
                max_redirects=max_redirects + 1,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                final_url = str(response.url)
                if response.status in _REDIRECTS and max_redirects == 0:
                    raise FeedFetchError(url, "too many redirects (more than 0)")
                if response.status == 304:
                    return FetchResult(
                        url=final_url,
                        status=304,
                        not_modified=True,
                        content=b"",
                        content_type=response.headers.get("Content-Type"),
                        etag=response.headers.get("ETag") or etag,
                        last_modified=response.headers.get("Last-Modified") or last_modified,
                    )
                if response.status >= 300:
                    # 3xx here means a redirect aiohttp could not follow (no Location header).
                    raise FeedFetchError(url, _one_line(f"HTTP {response.status} {response.reason or ''}"))
                content = await _read_capped(response, url, max_bytes)
                return FetchResult(
                    url=final_url,
                    status=response.status,
                    not_modified=False,
                    content=content,
                    content_type=response.headers.get("Content-Type"),
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
    except aiohttp.TooManyRedirects as exc:
        raise FeedFetchError(url, f"too many redirects (more than {max_redirects})") from exc
    except TimeoutError as exc:
        raise FeedFetchError(url, f"timed out after {timeout:g}s") from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise FeedFetchError(url, _one_line(f"{type(exc).__name__}: {exc}")) from exc


# --- politeness -----------------------------------------------------------------------------------


class HostLimiter:
    """At most `per_host` concurrent requests to one host: `async with limiter.slot(url): ...`.

    Polling hundreds of feeds concurrently is fine; hitting one small blog with twenty at once is not.
    Create it inside the running event loop that uses it.
    """

    def __init__(self, per_host: int = 2) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self._per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @staticmethod
    def host_of(url: str) -> str:
        parts = urlsplit(url)
        return (parts.netloc or parts.path).lower()

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = self.host_of(url)
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            semaphore = self._semaphores[host] = asyncio.Semaphore(self._per_host)
        async with semaphore:
            yield
