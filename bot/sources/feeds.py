"""RSS/Atom feeds: parse a document into a ParsedFeed, fetch one over HTTP, limit requests per host.

`parse_feed` is pure (bytes in, ParsedFeed out) and CPU-bound: callers on the event loop run it in a thread.
`fetch_feed` does one conditional GET with the caller's aiohttp.ClientSession and turns every network failure
into FeedFetchError. The loop that polls many feeds, and anything touching the database, belongs to the ingest
service.

Feeds are fetched only from public addresses unless `allow_private` (operators polling their intranet):
`fetch_feed` follows redirects itself and checks every hop's host, and `feed_http_session` builds a session
whose resolver refuses private answers at connect time, so a name that resolves (or rebinds) to 127.0.0.1 is
refused too. The address policy itself lives in bot.urls.

Errors (see bot.sources.types): FeedParseError for a document that is not a usable feed,
FeedFetchError for HTTP trouble; both one line.
"""

from __future__ import annotations

import asyncio
import calendar
import io
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from bot.sources.charset import charset_from_content_type, decode_document
from bot.sources.dates import parse_date
from bot.sources.feed_trim import newest_entries_only
from bot.sources.posts import title_from_body
from bot.sources.types import BodyFormat, FeedFetchError, FeedParseError, ParsedFeed, RawArticle
from bot.urls import address_refusal, is_http_url, literal_host_address, url_host_refusal
from summarizer.clean import one_line

if TYPE_CHECKING:
    import aiohttp
    from aiohttp.abc import AbstractResolver
    from yarl import URL

# feedparser is imported where a feed is parsed, aiohttp (and bot.sources.feed_http, built on it) where one is
# fetched: every command imports this module, few parse or fetch a feed (start-up time of `newsbot latest`).

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
# A character reference to no XML character (&#0;, &#xD800;, &#x110000;, &#99999999999;) stops feedparser,
# or reaches the database as a NUL that PostgreSQL refuses: it becomes a space or U+FFFD before parsing.
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,24}));")
_SNIFF_BYTES = 4096
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml"})


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


def _one_line(text: object) -> str:
    return one_line(str(text))


class _TextOfMarkup(HTMLParser):
    """The text of an HTML fragment: tags dropped, entities decoded once, scripts and styles skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_title(value: object, kind: object) -> str:
    """A feed or entry title as one line of plain text. feedparser hands Atom type="html"/"xhtml" titles (and
    RSS titles, which it takes for HTML) over as markup, `kind` being the title_detail type: their tags are
    dropped and entities decoded once. Text titles stay as they are, a literal `<blink>` included."""
    text = str(value or "")
    if kind in _MARKUP_TYPES and ("<" in text or "&" in text):
        parser = _TextOfMarkup()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    return _one_line(text)


def _title(item: Any) -> str:
    return plain_title(item.get("title"), (item.get("title_detail") or {}).get("type"))


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
    text = _CHAR_REF.sub(_legal_char_ref, text)
    # The declaration would make feedparser re-decode the UTF-8 we hand it with the original charset.
    text = _XML_DECLARATION.sub("", text, count=1)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip()


def _legal_char_ref(match: re.Match[str]) -> str:
    hex_digits, decimal = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(decimal)
    legal = (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
    if legal:
        return match.group(0)
    return " " if code < 0x20 else "\ufffd"  # a control character reads as a space, as in our cleaning


def _published(entry: Any, default_tz: tzinfo) -> datetime | None:
    # Our own parser first: it honours default_tz for zone-less dates, which feedparser reads as UTC.
    # `key in entry` first: feedparser's get("updated") of an entry with only "published" answers that,
    # with a DeprecationWarning
    for key in ("published", "updated", "created"):
        parsed = parse_date(entry.get(key) if key in entry else None, default_tz=default_tz)
        if parsed is not None:
            return parsed
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        struct = entry.get(key) if key in entry else None
        if isinstance(struct, time.struct_time):
            try:
                parsed = datetime.fromtimestamp(calendar.timegm(struct), UTC)
            except (OverflowError, ValueError, OSError):  # feedparser reads "0000-01-01" as year 0
                continue
            return parse_date(parsed, default_tz=default_tz)  # within the years of news, or None
    return None


def _date_undated(articles: list[RawArticle], feed_date: datetime | None) -> list[RawArticle]:
    """Undated entries marked with the newest date the document knows: its own (<updated>, <lastBuildDate>)
    or its newest dated entry's. An old feed's undated item is then listed as old, not as news of today."""
    known = [a.published for a in articles if a.published is not None]
    if feed_date is not None:
        known.append(feed_date)
    if not known or all(a.published is not None for a in articles):
        return articles
    newest = max(known)
    return [a if a.published is not None else replace(a, dated_no_later_than=newest) for a in articles]


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

    title = _title(entry) or (title_from_body(body) if body else None)
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


def _newest(articles: list[RawArticle], max_items: int) -> list[RawArticle]:
    """The `max_items` newest articles, in document order. Undated ones count as older than any dated one;
    among themselves the document's order decides (feeds list the newest first)."""
    if len(articles) <= max_items:
        return articles
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(range(len(articles)), key=lambda i: articles[i].published or oldest, reverse=True)
    return [articles[i] for i in sorted(ranked[:max_items])]


def parse_feed(
    data: bytes,
    *,
    origin: str,
    default_tz: tzinfo,
    content_type: str | None = None,
    max_items: int | None = None,
) -> ParsedFeed:
    """Parse an RSS/Atom document. `origin` (URL or path) names it in errors and is the base for
    relative links when it is an http(s) URL; `content_type` is the HTTP header, for its charset;
    `max_items` keeps only that many of the newest entries (None: all of them).

    Parsing a big feed takes a while: on the event loop, call it through `asyncio.to_thread`.

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

    if max_items is not None:
        # feedparser is slow per entry: hand it only the entries that can be kept
        text = newest_entries_only(text, max_items=max_items, default_tz=default_tz)

    import feedparser

    # No content-location: feedparser would resolve relative links against the document URL,
    # but the feed's own <link> is the better base (feeds are often served from a feed proxy).
    try:
        result = feedparser.parse(
            io.BytesIO(text.encode("utf-8")),
            response_headers={"content-type": "application/xml; charset=utf-8"},
        )
    except (ValueError, OverflowError, LookupError, RecursionError) as exc:
        # feedparser's own errors on hostile text (&#xD800;, &#99999999999;): this document, not the poll
        raise FeedParseError(origin, f"cannot parse ({exc.__class__.__name__})") from None

    origin_base = origin if is_http_url(origin) else None
    feed = result.get("feed", {})
    feed_title = _title(feed)
    feed_link = _http_url(feed.get("link"), origin_base)
    base = feed_link or origin_base
    articles = [
        article
        for entry in result.get("entries") or []
        if (article := _entry_article(entry, origin=origin, base=base, default_tz=default_tz)) is not None
    ]
    articles = _date_undated(articles, _published(feed, default_tz))
    if max_items is not None:
        articles = _newest(articles, max_items)
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


class AddressRefused(OSError):  # noqa: N818 - reads as what happened: "AddressRefused: refused: ..."
    """A host resolved to an address feeds may not be fetched from. An OSError, so that aiohttp's connector
    hands it on (wrapped in ClientConnectorError) like any other failure to resolve."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = f"refused: {reason}"


def feed_http_session(
    allow_private: bool, *, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """The aiohttp session to fetch feeds with: no overall timeout (`fetch_feed` sets one per request) and,
    unless `allow_private`, a connector that refuses private addresses at connect time. `resolver` replaces
    the default DNS resolver (tests map public-looking names to 127.0.0.1 with it). The caller closes it."""
    import aiohttp

    from bot.sources.feed_http import FeedConnector

    return aiohttp.ClientSession(
        connector=FeedConnector(allow_private=allow_private, resolver=resolver),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def _check_host(session: aiohttp.ClientSession, url: URL) -> None:
    """Refuse `url` unless its host is public: literal addresses (any form) and localhost here; names are
    resolved here too unless the session's connector checks them at connect time anyway."""
    from bot.sources.feed_http import FeedConnector

    reason = url_host_refusal(str(url))
    if reason is not None:
        raise AddressRefused(reason)
    host = url.raw_host
    connector = session.connector
    if host is None or literal_host_address(host) is not None:
        return
    if isinstance(connector, FeedConnector) and not connector.allow_private:
        return
    # A plain session: resolve once here. The connection resolves again, so only a FeedConnector also
    # covers DNS rebinding.
    infos = await asyncio.get_running_loop().getaddrinfo(host, url.port, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        address = literal_host_address(str(sockaddr[0]))
        reason = address_refusal(address) if address is not None else None
        if reason is not None:
            raise AddressRefused(reason)


def _refusal(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind an aiohttp error, if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        os_error = getattr(seen, "os_error", None)
        if isinstance(os_error, AddressRefused):
            return os_error
        seen = seen.__cause__
    return None


async def fetch_feed(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,  # noqa: ASYNC109 - one budget for connect, redirects and the capped read
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
    allow_private: bool = False,
) -> FetchResult:
    """GET `url` conditionally, following up to `max_redirects` redirects. Raises FeedFetchError (and nothing
    else) for HTTP errors, redirect loops, timeouts, bodies over `max_bytes`, network failures and, unless
    `allow_private`, any hop whose host is not a public address ("refused: 127.0.0.1 is a loopback address").

    Redirects are followed here rather than by aiohttp so that every hop's host is checked before we
    connect. For connect-time checks on resolved names too, pass a session from `feed_http_session`.
    """
    import aiohttp
    from yarl import URL

    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            current = URL(url)
            history: list[aiohttp.ClientResponse] = []
            while True:
                if not allow_private and current.scheme in ("http", "https"):  # aiohttp refuses the others
                    await _check_host(session, current)
                async with session.get(
                    current,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        if len(history) >= max_redirects:
                            raise aiohttp.TooManyRedirects(response.request_info, (*history, response))
                        history.append(response)
                        current = response.url.join(URL(location)).with_fragment(None)
                        if current.scheme not in ("http", "https"):
                            raise FeedFetchError(url, f"redirected to a non-http URL: {current.scheme}:")
                        continue
                    return await _result(response, url, etag, last_modified, max_bytes)
    except AddressRefused as exc:
        raise FeedFetchError(url, exc.reason) from exc
    except aiohttp.TooManyRedirects as exc:
        raise FeedFetchError(url, f"too many redirects (more than {max_redirects})") from exc
    except TimeoutError as exc:
        raise FeedFetchError(url, f"timed out after {timeout:g}s") from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        refused = _refusal(exc)
        if refused is not None:
            raise FeedFetchError(url, refused.reason) from exc
        raise FeedFetchError(url, _one_line(f"{type(exc).__name__}: {exc}")) from exc


# the longest validators kept (what the database stores of them); a longer one is not sent back: the feed
# is then fetched whole each time, rather than the fetch failing when it is recorded
_MAX_ETAG, _MAX_LAST_MODIFIED = 512, 128


def _validator(value: str | None, max_chars: int) -> str | None:
    # printable ASCII only: aiohttp hands other header bytes over as lone surrogates no database stores
    return value if value and len(value) <= max_chars and value.isascii() and value.isprintable() else None


def _header_text(value: str) -> str:
    """A header's text as aiohttp gives it (bytes past ASCII as lone surrogates), made storable: read as
    UTF-8, anything else replaced."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


async def _result(
    response: aiohttp.ClientResponse, url: str, etag: str | None, last_modified: str | None, max_bytes: int
) -> FetchResult:
    final_url = str(response.url)
    if response.status == 304:
        return FetchResult(
            url=final_url,
            status=304,
            not_modified=True,
            content=b"",
            content_type=response.headers.get("Content-Type"),
            etag=_validator(response.headers.get("ETag"), _MAX_ETAG) or etag,
            last_modified=_validator(response.headers.get("Last-Modified"), _MAX_LAST_MODIFIED)
            or last_modified,
        )
    if response.status >= 300:
        # 3xx here means a redirect without a Location header.
        raise FeedFetchError(url, _one_line(f"HTTP {response.status} {_header_text(response.reason or '')}"))
    content = await _read_capped(response, url, max_bytes)
    return FetchResult(
        url=final_url,
        status=response.status,
        not_modified=False,
        content=content,
        content_type=response.headers.get("Content-Type"),
        etag=_validator(response.headers.get("ETag"), _MAX_ETAG),
        last_modified=_validator(response.headers.get("Last-Modified"), _MAX_LAST_MODIFIED),
    )


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
        """The host a URL asks, in one spelling: user info, port, case and a trailing dot each made another
        host of one blog, with a limit of its own."""
        parts = urlsplit(url)
        return (parts.hostname or parts.path.lower()).rstrip(".")

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = self.host_of(url)
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            semaphore = self._semaphores[host] = asyncio.Semaphore(self._per_host)
        async with semaphore:
            yield
