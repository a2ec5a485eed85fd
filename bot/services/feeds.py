"""Feed management and polling: add/list/remove feeds, OPML exchange, and one poll of every feed.

Fetches run concurrently (a global limit and a per-host limit) on one shared aiohttp.ClientSession; results
are stored one feed at a time as they arrive, so the articles of two feeds are never written at once.

Several processes may poll one database. A process fetches a feed only under its claim on the feed's row
(`fetch_claimed_by` until `fetch_claim_until`), taken by one conditional UPDATE just before the fetch and
ended in the transaction that records the fetch, so no two processes fetch a feed at once. With a poll
interval, a feed any process fetched less than most of an interval ago is not due, so each feed is fetched
about once per interval however many processes poll. A claim runs out: the feeds of a process that died
mid-fetch are fetched again once its claims have expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import FeedError
from bot.numbers import MAX_ROW_ID, parse_bounded_int
from bot.services.ingest import Failure, ImportResult, IngestService, process_name, utc_now
from bot.sources.types import FeedFetchError, SourceError
from bot.urls import is_http_url, url_host_refusal
from db.models import Source
from db.repositories import SourceRepo, feed_view
from readmodels import FeedView, without_credentials
from summarizer.clean import one_line

if TYPE_CHECKING:
    import aiohttp

    from bot.sources.feeds import FetchResult

# The feed parser, fetcher and OPML modules are imported where feeds are fetched or listed: every command
# builds this service, and a read command such as `newsbot latest` should not wait for them.

log = logging.getLogger(__name__)

# How long a claim on a feed lasts. It covers the fetch and the wait until this process stores the result, and
# is renewed each time the process stores a result of the same poll, so only a process that stopped working
# loses its claims; another one fetches those feeds once they have run out.
CLAIM_TTL = timedelta(minutes=5)
NAME_CHARS = 256  # sources.name and sources.category
# A feed fetched less than this share of the poll interval ago is not due. The slack absorbs the time a poll
# takes (the fetch time is recorded when its result is stored), so the process that fetched a feed at its
# last tick finds it due again at its next one.
DUE_SHARE = 0.8

# why a feed was not fetched (FeedOutcome.status)
BUSY = "busy"  # another process (or another poll of this one) is fetching it
NOT_DUE = "not due"  # some process fetched it less than DUE_SHARE of the poll interval ago
_GONE = "gone"  # removed or deactivated since the poll began


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host: int = 2
    concurrency: int = 16
    allow_private: bool = False  # fetch from loopback/private/link-local addresses too (an intranet's feeds)
    max_items: int = 200  # newest entries kept from one fetch


@dataclass(slots=True)
class FeedOutcome:
    source_id: int
    name: str
    url: str
    status: str  # "ok" | "not modified" | "error", or not fetched: BUSY | NOT_DUE
    result: ImportResult = field(default_factory=ImportResult)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A claim this process took, with the feed's validators as they are now (another process may have
    fetched the feed since this poll listed the feeds)."""

    etag: str | None
    last_modified: str | None


# what the database stores of a feed URL (sources.url)
MAX_URL_CHARS = 2048


def validate_feed_url(url: str) -> str:
    """`url` trimmed, when it is an http(s) URL a fetch can use; FeedError saying why not (never with the
    URL's credentials)."""
    url = url.strip()
    shown = without_credentials(url)[:200]
    if len(url) > MAX_URL_CHARS:
        raise FeedError(f"URL longer than {MAX_URL_CHARS} characters: {shown}…")
    if not is_http_url(url):
        raise FeedError(f"not an http(s) URL: {shown!r}")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it checks it: ValueError past 65535 or when not a number
    except ValueError:
        raise FeedError(f"not a port number in {shown!r}") from None
    host = parts.hostname or ""
    if not host.startswith("[") and ":" not in host and not all(ch.isalnum() or ch in "-._" for ch in host):
        raise FeedError(f"not a host name: {host!r}")
    return url


class FeedService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ingest: IngestService,
        *,
        limits: FetchLimits,
        now: Callable[[], datetime] = utc_now,
        holder: str | None = None,
        poll_interval: timedelta | None = None,
        claim_ttl: timedelta = CLAIM_TTL,
    ) -> None:
        """`holder` names this process in its claims (one name per process); `poll_interval` is how often
        the processes poll (None: every poll fetches every feed no other process is fetching)."""
        self._sessions = sessions
        self._ingest = ingest
        self._limits = limits
        self._now = now
        self.holder = holder or process_name()
        self._poll_interval = poll_interval
        # a claim must outlast the longest fetch, or a slow fetch could be started a second time elsewhere
        self._claim_ttl = max(claim_ttl, timedelta(seconds=2 * limits.timeout))

    async def add(self, url: str, *, name: str | None = None, category: str | None = None) -> FeedView:
        url = validate_feed_url(url)
        if not self._limits.allow_private and (why := url_host_refusal(url)):
            raise FeedError(f"refused: {why}")  # a literal private address or localhost; names at fetch time
        async with self._sessions() as session, session.begin():
            repo = SourceRepo(session)
            if await repo.by_url(url) is not None:
                raise FeedError(f"already following {without_credentials(url)}")
            source = Source(
                kind="feed",
                url=url,
                # until the first fetch tells us the feed's own title; cut to the columns (PostgreSQL refuses
                # longer: one long OPML title once ended the import of the rest)
                name=(one_line(name or "") or url)[:NAME_CHARS],
                category=one_line(category or "")[:NAME_CHARS] or None,
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
            if id_or_url.isdigit():
                # digits name a feed by id: ASCII ones within what the database holds ('²', 10**20 are none)
                feed_id = parse_bounded_int(id_or_url, low=1, high=MAX_ROW_ID)
                source = await repo.by_id(feed_id) if feed_id is not None else None
            else:
                source = await repo.by_url(id_or_url)
            if source is None or source.kind != "feed":
                raise FeedError(f"no feed {id_or_url!r}")
            removed = feed_view(source)
            await repo.delete(source)
        return removed

    async def import_opml(self, data: bytes, *, origin: str) -> tuple[list[FeedView], list[str]]:
        """Add every feed of an OPML document; returns the added feeds and the URLs already followed."""
        from bot.sources.opml import parse_opml

        added: list[FeedView] = []
        skipped: list[str] = []
        for entry in parse_opml(data, origin=origin):
            try:
                added.append(await self.add(entry.url, name=entry.title, category=entry.category))
            except FeedError:
                skipped.append(entry.url)
        return added, skipped

    async def export_opml(self) -> str:
        from bot.sources.opml import OpmlFeed, render_opml

        feeds = [
            OpmlFeed(url=s.url, title=s.name, html_url=s.site_url, category=s.category)
            for s in await self.list_feeds()
        ]
        return render_opml(feeds, now=self._now())

    async def add_and_fetch(self, url: str) -> FeedOutcome:
        """Follow a feed and fetch it at once (`/addfeed`): the feed is named by its own title and its items
        are stored now. A URL that does not answer with a feed is not followed: FeedError says why, and
        nothing is kept."""
        from bot.sources.feeds import feed_http_session

        feed = await self.add(url)
        async with feed_http_session(self._limits.allow_private) as http:
            outcomes = await self.fetch_all(http, force=True, only={feed.id})
        outcome = next((o for o in outcomes if o.source_id == feed.id), None)
        # "not modified" is no answer to a first request, which names no version: nothing shows it is a feed
        if outcome is None or outcome.status != "ok":
            async with self._sessions() as session, session.begin():
                await session.execute(delete(Source).where(Source.id == feed.id))
            why = (
                "it was removed meanwhile"
                if outcome is None
                else outcome.error or f"no feed in its answer ({outcome.status})"
            )
            raise FeedError(f"not added: {without_credentials(feed.url)}: {why}")
        return outcome

    async def fetch_all(
        self,
        http: aiohttp.ClientSession,
        *,
        force: bool = False,
        stop: asyncio.Event | None = None,
        only: Collection[int] | None = None,
        on_feed: Callable[[int, int], None] | None = None,
    ) -> list[FeedOutcome]:
        """Poll every active feed that is due (`only`: of these ids) and store what is new.

        A feed another process is fetching comes back BUSY; with a poll interval, one fetched recently (by
        any process) comes back NOT_DUE, unless `force` (a fetch asked for by hand). Once `stop` is set the
        poll ends after the article in hand. `on_feed(done, total)` hears of each feed done (for a progress
        display).
        """
        from bot.sources.feeds import HostLimiter, fetch_feed

        async with self._sessions() as session:
            feeds = await SourceRepo(session).feeds(active_only=True)
        if only is not None:
            feeds = [source for source in feeds if source.id in only]
        gate = asyncio.Semaphore(self._limits.concurrency)
        hosts = HostLimiter(self._limits.per_host)
        claimed: set[int] = set()  # feeds this poll holds claims on: fetching, or waiting to be stored

        async def fetch(source: Source) -> tuple[Source, FetchResult | FeedFetchError | str]:
            async with gate, hosts.slot(source.url):
                # claimed at the last moment, so that the claim's lifetime starts with the fetch
                claim = await self._claim(source.id, force=force)
                if not isinstance(claim, _Claimed):
                    return source, claim
                claimed.add(source.id)
                try:
                    return source, await fetch_feed(
                        http,
                        source.url,
                        etag=claim.etag,
                        last_modified=claim.last_modified,
                        timeout=self._limits.timeout,
                        max_bytes=self._limits.max_bytes,
                        max_redirects=self._limits.max_redirects,
                        allow_private=self._limits.allow_private,
                    )
                except FeedFetchError as exc:
                    return source, exc

        outcomes = []
        fetches = [asyncio.ensure_future(fetch(s)) for s in feeds]
        try:
            for finished in asyncio.as_completed(fetches):
                source, fetched = await finished
                if isinstance(fetched, str):
                    if fetched != _GONE:
                        outcomes.append(
                            FeedOutcome(
                                source.id,
                                without_credentials(source.name),
                                without_credentials(source.url),
                                status=fetched,
                            )
                        )
                else:
                    outcomes.append(await self._store_fetch_or_fail(source, fetched, claimed, stop))
                if on_feed is not None:
                    on_feed(len(outcomes), len(feeds))
                if stop is not None and stop.is_set():
                    break
        finally:
            # stopped midway (an error, or cancelled): give back the claims still held, so that those feeds
            # are fetched at the next poll, here or elsewhere, rather than once the claims have run out
            for pending in fetches:
                pending.cancel()
            await asyncio.gather(*fetches, return_exceptions=True)
            if claimed:
                async with self._sessions() as session, session.begin():
                    await _end_claims(session, claimed, holder=self.holder)
        outcomes.sort(key=lambda o: o.source_id)
        return outcomes

    async def _claim(self, source_id: int, *, force: bool) -> _Claimed | str:
        """Claim the feed for this process in one conditional UPDATE; if it is not ours: BUSY, NOT_DUE or
        _GONE."""
        now = self._now()
        conditions = [
            Source.id == source_id,
            Source.active.is_(True),
            or_(Source.fetch_claim_until.is_(None), Source.fetch_claim_until <= now),
        ]
        if self._poll_interval is not None and not force:
            fetched_before = now - self._poll_interval * DUE_SHARE
            conditions.append(or_(Source.last_fetch_at.is_(None), Source.last_fetch_at <= fetched_before))
        async with self._sessions() as session, session.begin():
            got = (
                await session.execute(
                    update(Source)
                    .where(*conditions)
                    .values(fetch_claimed_by=self.holder, fetch_claim_until=now + self._claim_ttl)
                    .returning(Source.etag, Source.last_modified)
                    .execution_options(synchronize_session=False)
                )
            ).one_or_none()
            if got is not None:
                return _Claimed(etag=got.etag, last_modified=got.last_modified)
            # not ours: say why (only for the report; the UPDATE above decided)
            row = (
                await session.execute(
                    select(Source.active, Source.fetch_claim_until).where(Source.id == source_id)
                )
            ).one_or_none()
        if row is None or not row.active:
            return _GONE
        if row.fetch_claim_until is not None and row.fetch_claim_until > now:
            return BUSY
        return NOT_DUE

    async def _store_fetch_or_fail(
        self,
        source: Source,
        fetched: FetchResult | FeedFetchError,
        claimed: set[int],
        stop: asyncio.Event | None,
    ) -> FeedOutcome:
        """`_store_fetch`, with an unforeseen error in one feed's document recorded as that feed's failure:
        one publisher's content must not end the poll of every feed, at every poll."""
        try:
            return await self._store_fetch(source, fetched, claimed, stop)
        except Exception as exc:
            url = without_credentials(source.url)
            log.exception("feed %s: storing what it served failed", url)
            failure = FeedFetchError(url, f"internal error ({exc.__class__.__name__}), see the log")
            # recorded without the document's validators: the next poll fetches it whole again
            return await self._store_fetch(source, failure, claimed, stop)

    async def _store_fetch(
        self,
        source: Source,
        fetched: FetchResult | FeedFetchError,
        claimed: set[int],
        stop: asyncio.Event | None = None,
    ) -> FeedOutcome:
        from bot.sources.feeds import parse_feed

        outcome = FeedOutcome(
            source.id, without_credentials(source.name), without_credentials(source.url), status="ok"
        )
        title = None
        if isinstance(fetched, FeedFetchError):
            outcome.status, outcome.error = "error", fetched.reason
        elif fetched.not_modified:
            outcome.status = "not modified"
        else:
            try:
                feed = await asyncio.to_thread(  # a big feed takes a while to parse: not on the event loop
                    parse_feed,
                    fetched.content,
                    origin=outcome.url,  # stored with each article and named in failures: no credentials
                    default_tz=self._ingest.default_tz,
                    content_type=fetched.content_type,
                    max_items=self._limits.max_items,
                )
            except SourceError as exc:
                outcome.status, outcome.error = "error", exc.reason
            else:
                title = feed.title
                publisher = outcome.name if not _unnamed(source) else (feed.title or outcome.url)
                outcome.result = await self._ingest.store_articles(
                    feed.entries, source_id=source.id, publisher=publisher, stop=stop
                )
        if outcome.error:
            outcome.result.failed.append(Failure(outcome.url, outcome.error))
        await self._record(source, outcome, fetched, title, claimed)
        return outcome

    async def _record(
        self,
        source: Source,
        outcome: FeedOutcome,
        fetched: FetchResult | FeedFetchError,
        title: str | None,
        claimed: set[int],
    ) -> None:
        """Record the fetch on the feed and end this process's claim on it, in one transaction."""
        now = self._now()
        async with self._sessions() as session, session.begin():
            await _end_claims(session, [source.id], holder=self.holder)
            others = claimed - {source.id}
            if others:
                # the poll is making progress: keep the claims on the feeds still in flight
                await _extend_claims(session, others, holder=self.holder, until=now + self._claim_ttl)
            stored = await session.get(Source, source.id)
            # None: removed while we were fetching. Stored in part (a stop): left as if not fetched, so that
            # the next poll, here or elsewhere, fetches it at once and stores the rest
            if stored is not None and not outcome.result.left:
                self._apply(stored, outcome, fetched, title, now)
        claimed.discard(source.id)

    def _apply(
        self,
        stored: Source,
        outcome: FeedOutcome,
        fetched: FetchResult | FeedFetchError,
        title: str | None,
        now: datetime,
    ) -> None:
        stored.last_fetch_at = now
        stored.last_status = outcome.status
        if outcome.error:
            stored.last_error = outcome.error
            stored.error_streak += 1
            if stored.error_streak in (1, 5, 20):  # log the streak's growth, not every failure
                log.warning(
                    "feed %s failing (%d in a row): %s", outcome.url, stored.error_streak, outcome.error
                )
            return
        stored.last_error = None
        stored.error_streak = 0
        stored.last_success_at = now
        if not isinstance(fetched, FeedFetchError):
            # a 304 may bring new validators too (RFC 9110 15.4.5); sending the old ones forever costs a
            # full answer each time from a server that rotates them
            stored.etag = fetched.etag
            stored.last_modified = fetched.last_modified
            if title and _unnamed(stored):
                stored.name = one_line(title)[:NAME_CHARS]
                outcome.name = stored.name


def _unnamed(source: Source) -> bool:
    """Named after its URL (the operator gave no name): the feed's own title is shown once known."""
    return source.name == source.url[:NAME_CHARS]


async def _end_claims(session: AsyncSession, source_ids: Collection[int], *, holder: str) -> None:
    """End `holder`'s claims on these feeds; a claim another process took over in the meantime stays."""
    await session.execute(
        update(Source)
        .where(Source.id.in_(source_ids), Source.fetch_claimed_by == holder)
        .values(fetch_claimed_by=None, fetch_claim_until=None)
        .execution_options(synchronize_session=False)
    )


async def _extend_claims(
    session: AsyncSession, source_ids: Collection[int], *, holder: str, until: datetime
) -> None:
    await session.execute(
        update(Source)
        .where(Source.id.in_(source_ids), Source.fetch_claimed_by == holder)
        .values(fetch_claim_until=until)
        .execution_options(synchronize_session=False)
    )
