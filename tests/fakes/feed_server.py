"""A real local HTTP server that serves feeds to tests: the corpus feeds plus misbehaving routes.

No mocks: tests point the real `fetch_feed` (or the ingest service) at `server.url(path)`.
Every request is recorded per path, with its headers, so tests can check what the client sent.

    server = FeedServer()
    server.add_feed("/a.xml", body, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    base = await server.start()        # "http://127.0.0.1:<free port>"
    ...
    await server.close()

`add_corpus_feeds()` serves every file of ../shared/corpus/feeds at "/corpus/<file name>";
`add_misbehaving_routes()` adds the error cases listed in its docstring.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDictProxy

from tests.fakes.local_server import LocalServer

CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FEEDS_DIR = CORPUS_DIR / "feeds"

RSS = "application/rss+xml"
GBK_FEED_TITLE = "中文新闻频道"
GBK_ITEM_TITLES = (
    "朱镕基在清华大学经济管理学院发表讲话",
    "国家统计局发布前三季度国民经济运行情况",
    "科技企业加大研发投入推动产业升级",
    "气象台发布寒潮预警，北方地区明显降温",
)
ATOM = "application/atom+xml"
CONDITIONAL_ETAG = '"v1"'
CONDITIONAL_LAST_MODIFIED = "Wed, 31 Jan 2018 20:15:15 GMT"
CONDITIONAL_FEED_TITLE = "Conditional GET test feed"
CONDITIONAL_FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{CONDITIONAL_FEED_TITLE}</title><link>https://cond.example.com/</link>
<item><title>First post</title><link>https://cond.example.com/1</link><guid>cond-1</guid>
<pubDate>Wed, 31 Jan 2018 20:15:15 GMT</pubDate><description>Hello &amp; welcome.</description></item>
</channel></rss>
""".encode()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MANY_ITEMS_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def many_items_feed(count: int) -> bytes:
    """An RSS feed of `count` small items, oldest first; item i ("Item i", guid many-i) is dated i minutes
    after MANY_ITEMS_EPOCH."""
    items = "".join(
        f"<item><title>Item {i}</title><guid>many-{i}</guid>"
        f"<pubDate>{format_datetime(MANY_ITEMS_EPOCH + timedelta(minutes=i), usegmt=True)}</pubDate></item>"
        for i in range(count)
    )
    return f'<rss version="2.0"><channel><title>Many items</title>{items}</channel></rss>'.encode()


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    method: str
    headers: CIMultiDictProxy[str]


def content_type_for(name: str) -> str:
    if name.endswith(".atom"):
        return ATOM
    if name.endswith(".rss"):
        return RSS
    return "application/xml"


class FeedServer(LocalServer):
    """An aiohttp.web server on 127.0.0.1 and a free port.

    Routes may be added or replaced at any time, also after `start()` (e.g. to publish a new version
    of a feed between two polls). Unknown paths answer 404.
    """

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._app = web.Application()
        self._app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.requests: dict[str, list[RecordedRequest]] = defaultdict(list)

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- bookkeeping -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests[request.path].append(RecordedRequest(request.path, request.method, request.headers))
        method = "GET" if request.method == "HEAD" else request.method
        handler = self._routes.get((method, request.path))
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    def count(self, path: str) -> int:
        return len(self.requests.get(path, []))

    def last_headers(self, path: str) -> CIMultiDictProxy[str]:
        return self.requests[path][-1].headers

    # --- routes ------------------------------------------------------------------------------------

    def add_route(self, path: str, handler: Handler, method: str = "GET") -> None:
        """Serve `path` (exact match, no query string) with `handler`, replacing any earlier one."""
        self._routes[(method.upper(), path)] = handler

    def add_feed(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/xml",
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve `body` at `path`. With `etag`/`last_modified` the route sends them and answers 304
        when the request's If-None-Match / If-Modified-Since match them exactly.

        `content_type` is sent verbatim (include "; charset=..." yourself if you want one).
        """

        async def handler(request: web.Request) -> web.Response:
            validators: dict[str, str] = {}
            if etag is not None:
                validators["ETag"] = etag
            if last_modified is not None:
                validators["Last-Modified"] = last_modified
            etag_matches = etag is not None and request.headers.get("If-None-Match") == etag
            date_matches = (
                last_modified is not None and request.headers.get("If-Modified-Since") == last_modified
            )
            if etag_matches or (date_matches and "If-None-Match" not in request.headers):
                return web.Response(status=304, headers=validators)
            response = web.Response(body=body, headers={**validators, **(headers or {})})
            response.headers["Content-Type"] = content_type
            return response

        self.add_route(path, handler)

    def add_corpus_feeds(self, prefix: str = "/corpus/") -> list[str]:
        """Serve every corpus feed file at prefix + file name; returns the paths. Needs the corpus."""
        paths = []
        for file in sorted(FEEDS_DIR.iterdir()):
            path = prefix + file.name
            self.add_feed(path, file.read_bytes(), content_type=content_type_for(file.name))
            paths.append(path)
        return paths

    def add_many_items(self, path: str, count: int) -> None:
        """Serve an RSS feed of `count` small items at `path`, oldest first: item i is dated i minutes after
        2024-01-01 00:00 UTC, so the newest are the last ones."""
        self.add_feed(path, many_items_feed(count), content_type=RSS)

    def add_status(self, path: str, status: int, body: str = "") -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, text=body or f"status {status}")

        self.add_route(path, handler)

    def add_redirect(self, path: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": location})

        self.add_route(path, handler)

    def add_slow(self, path: str, delay: float, body: bytes = b"<rss/>") -> None:
        """Wait `delay` seconds before answering; the client should give up first."""

        async def handler(request: web.Request) -> web.Response:
            await asyncio.sleep(delay)
            return web.Response(body=body, content_type="application/xml")

        self.add_route(path, handler)

    def add_stream(
        self, path: str, total_bytes: int, chunk: bytes = b"<!-- " + b"padding " * 2048 + b"-->\n"
    ) -> None:
        """Stream `total_bytes` of XML comment padding without a Content-Length (chunked)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": RSS})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'<?xml version="1.0"?>\n<rss version="2.0"><channel>\n')
            sent = 0
            try:
                while sent < total_bytes:
                    await response.write(chunk)
                    sent += len(chunk)
                await response.write(b"</channel></rss>\n")
                await response.write_eof()
            except (ConnectionResetError, ConnectionError):
                pass  # the client hung up once it had read enough; that is what we are testing
            return response

        self.add_route(path, handler)

    def add_gbk_feeds(self, prefix: str = "/gbk/") -> None:
        """The same Chinese RSS (GBK_FEED_TITLE, GBK_ITEM_TITLES; 镕 is outside GB2312) as GBK bytes:

        declared.xml  XML declaration says gb2312, no charset header
        undeclared.xml  no declaration, no charset header (the client must guess)
        header.xml  no declaration, Content-Type charset=gbk
        lying-utf8.xml  declaration and Content-Type both say utf-8
        """
        items = "".join(
            f"<item><title>{t}</title><link>https://news.example.cn/{i}</link>"
            f"<description>{t}。{t}。</description></item>"
            for i, t in enumerate(GBK_ITEM_TITLES)
        )
        body = f'<rss version="2.0"><channel><title>{GBK_FEED_TITLE}</title>{items}</channel></rss>'

        def gbk(declaration: str) -> bytes:
            return (declaration + body).encode("gb18030")

        self.add_feed(prefix + "declared.xml", gbk('<?xml version="1.0" encoding="gb2312"?>\n'))
        self.add_feed(prefix + "undeclared.xml", gbk(""))
        self.add_feed(prefix + "header.xml", gbk(""), content_type="application/rss+xml; charset=gbk")
        self.add_feed(
            prefix + "lying-utf8.xml",
            gbk('<?xml version="1.0" encoding="utf-8"?>\n'),
            content_type="application/rss+xml; charset=utf-8",
        )

    def add_misbehaving_routes(self) -> None:
        """Routes for fetch error tests:

        /404, /500, /slow (sleeps 5 s), /loop (redirects to itself), /hop1 -> /hop2 -> ... (10 hops),
        /html (an HTML page with status 200), /big (streams about 2 MB, no Content-Length),
        /big-declared (2 MB with a Content-Length), /moved -> /conditional.xml (301),
        /conditional.xml (CONDITIONAL_FEED with ETag CONDITIONAL_ETAG and Last-Modified
        CONDITIONAL_LAST_MODIFIED; 304 when matched). None of them needs the corpus.
        """
        self.add_status("/404", 404, "no such feed")
        self.add_status("/500", 500, "server exploded")
        self.add_slow("/slow", 5.0)
        self.add_redirect("/loop", "/loop")
        for hop in range(1, 11):
            self.add_redirect(f"/hop{hop}", f"/hop{hop + 1}")
        self.add_feed(
            "/html",
            b"<!DOCTYPE html>\n<html><head><title>Moved</title></head><body><p>Not a feed</p></body></html>",
            content_type="text/html; charset=utf-8",
        )
        self.add_stream("/big", 2_000_000)
        self.add_feed("/big-declared", b"<rss>" + b" " * 2_000_000 + b"</rss>", content_type=RSS)
        self.add_redirect("/moved", "/conditional.xml", status=301)
        self.add_feed(
            "/conditional.xml",
            CONDITIONAL_FEED,
            content_type=RSS,
            etag=CONDITIONAL_ETAG,
            last_modified=CONDITIONAL_LAST_MODIFIED,
        )
