"""Feed management and polling: add/list/remove feeds, OPML exchange, and one poll of every feed.

Fetches run concurrently (a global limit and a per-host limit) on one shared aiohttp.ClientSession; results
are stored one feed at a time as they arrive, so SQLite never sees competing writers from this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import FeedError
from bot.services.ingest import Failure, ImportResult, IngestService, utc_now
from bot.sources.feeds import FetchResult, HostLimiter, fetch_feed, parse_feed
from bot.sources.opml import OpmlFeed, parse_opml, render_opml
from bot.sources.types import FeedFetchError, SourceError
from bot.urls import is_http_url
from db.models import Source
from db.repositories import SourceRepo, feed_view
from readmodels import FeedView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host: int = 2
    concurrency: int = 16


@dataclass(slots=True)
class FeedOutcome:
    source_id: int
    name: str
    url: str
    status: str  # "ok" | "not modified" | "error"
    result: ImportResult = field(default_factory=ImportResult)
    error: str | None = None


def validate_feed_url(url: str) -> str:
    url = url.strip()
    if not is_http_url(url):
        raise FeedError(f"not an http(s) URL: {url!r}")
    return url


class FeedService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ingest: IngestService,
        *,
        limits: FetchLimits,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._ingest = ingest
        self._limits = limits
        self._now = now

    async def add(self, url: str, *, name: str | None = None, category: str | None = None) -> FeedView:
        url = validate_feed_url(url)
        async with self._sessions() as session, session.begin():
            repo = SourceRepo(session)
            if await repo.by_url(url) is not None:
                raise FeedError(f"already following {url}")
            source = Source(
                kind="feed",
                url=url,
                # until the first fetch tells us the feed's own title
                name=(name or "").strip() or url,
                category=category,
                active=True,
                created_at=self._now(),
                error_streak=0,
            )
            session.add(source)
            await session.flush()
            return feed_view(source)

    async def list_feeds(self) -> list[FeedView]:
        async with self._sessions() as session:
            return [feed_view(s) for s in await SourceRepo(session).feeds()]

    async def remove(self, id_or_url: str) -> FeedView:
        async with self._sessions() as session, session.begin():
            repo = SourceRepo(session)
            source = await repo.by_id(int(id_or_url)) if id_or_url.isdigit() else await repo.by_url(id_or_url)
            if source is None or source.kind != "feed":
                raise FeedError(f"no feed {id_or_url!r}")
            removed = feed_view(source)
            await repo.delete(source)
        return removed

    async def import_opml(self, data: bytes, *, origin: str) -> tuple[list[FeedView], list[str]]:
        """Add every feed of an OPML document; returns the added feeds and the URLs already followed."""
        added: list[FeedView] = []
        skipped: list[str] = []
        for entry in parse_opml(data, origin=origin):
            try:
                added.append(await self.add(entry.url, name=entry.title, category=entry.category))
            except FeedError:
                skipped.append(entry.url)
        return added, skipped

    async def export_opml(self) -> str:
        feeds = [
            OpmlFeed(url=s.url, title=s.name, html_url=s.site_url, category=s.category)
            for s in await self.list_feeds()
        ]
        return render_opml(feeds, now=self._now())

    async def fetch_all(self, http: aiohttp.ClientSession) -> list[FeedOutcome]:
        """Poll every active feed once and store what is new."""
        async with self._sessions() as session:
            feeds = await SourceRepo(session).feeds(active_only=True)
        gate = asyncio.Semaphore(self._limits.concurrency)
        hosts = HostLimiter(self._limits.per_host)

        async def fetch(source: Source) -> tuple[Source, FetchResult | FeedFetchError]:
            async with gate, hosts.slot(source.url):
                try:
                    return source, await fetch_feed(
                        http,
                        source.url,
                        etag=source.etag,
                        last_modified=source.last_modified,
                        timeout=self._limits.timeout,
                        max_bytes=self._limits.max_bytes,
                        max_redirects=self._limits.max_redirects,
                    )
                except FeedFetchError as exc:
                    return source, exc

        outcomes = []
        for finished in asyncio.as_completed([fetch(s) for s in feeds]):
            source, fetched = await finished
            outcomes.append(await self._store_fetch(source, fetched))
        outcomes.sort(key=lambda o: o.source_id)
        return outcomes

    async def _store_fetch(self, source: Source, fetched: FetchResult | FeedFetchError) -> FeedOutcome:
        outcome = FeedOutcome(source.id, source.name, source.url, status="ok")
        title = None
        if isinstance(fetched, FeedFetchError):
            outcome.status, outcome.error = "error", fetched.reason
        elif fetched.not_modified:
            outcome.status = "not modified"
        else:
            try:
                feed = parse_feed(
                    fetched.content,
                    origin=source.url,
                    default_tz=self._ingest.default_tz,
                    content_type=fetched.content_type,
                )
            except SourceError as exc:
                outcome.status, outcome.error = "error", exc.reason
            else:
                title = feed.title
                publisher = source.name if source.name != source.url else (feed.title or source.url)
                outcome.result = await self._ingest.store_articles(
                    feed.entries, source_id=source.id, publisher=publisher
                )
        if outcome.error:
            outcome.result.failed.append(Failure(source.url, outcome.error))
        await self._record(source, outcome, fetched, title)
        return outcome

    async def _record(
        self, source: Source, outcome: FeedOutcome, fetched: FetchResult | FeedFetchError, title: str | None
    ) -> None:
        now = self._now()
        async with self._sessions() as session, session.begin():
            stored = await session.get(Source, source.id)
            if stored is None:  # removed while we were fetching
                return
            stored.last_fetch_at = now
            stored.last_status = outcome.status
            if outcome.error:
                stored.last_error = outcome.error
                stored.error_streak += 1
                if stored.error_streak in (1, 5, 20):  # log the streak's growth, not every failure
                    log.warning(
                        "feed %s failing (%d in a row): %s", stored.url, stored.error_streak, outcome.error
                    )
                return
            stored.last_error = None
            stored.error_streak = 0
            stored.last_success_at = now
            if isinstance(fetched, FetchResult) and not fetched.not_modified:
                stored.etag = fetched.etag
                stored.last_modified = fetched.last_modified
                if title and stored.name == stored.url:
                    stored.name = title[:256]
                    outcome.name = stored.name
