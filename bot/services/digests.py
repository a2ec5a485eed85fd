"""Digests: choosing and grouping the items of a digest, and the daily digest run.

The daily run is exactly-once per chat and local date: the Delivery row (unique per subscriber, kind and
date), its outbox messages and the subscriber's `last_digest_at` are written in one transaction. A crash
before the commit leaves nothing (the next run does it); after the commit the outbox owns the sending. After
downtime the next run sends one digest covering everything since the previous one, never one per missed day.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import utc_now
from bot.services.subscriptions import MUTE, TOPIC
from db.models import Delivery, Subscriber
from db.outbox import OutboxRepo
from db.repositories import SubscriberRepo, articles_since, subscriber_view
from readmodels import ArticleView, DigestGroup, SubscriberView
from summarizer.matching import IndexedText, index_text, matches_topic, tokens

log = logging.getLogger(__name__)

FIRST_DIGEST_WINDOW = timedelta(hours=24)
MAX_CANDIDATES = 1000
# two titles sharing this much of their words are the same story told twice
SAME_STORY_OVERLAP = 0.6


class TokenCache:
    """jieba tokens of an item's title and summary, computed once per item and kept for the next digests."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        # keyed by id and summary: an LLM summary replacing the extractive one gets its own tokens
        self._tokens: OrderedDict[tuple[int, str], tuple[IndexedText, frozenset[str]]] = OrderedDict()

    def get(self, view: ArticleView) -> tuple[IndexedText, frozenset[str]]:
        """(tokens of title + summary, set of title tokens)."""
        key = (view.id, view.summary)
        cached = self._tokens.get(key)
        if cached is None:
            title_tokens = tokens(view.title)
            text = view.title if view.summary == view.title else f"{view.title}\n{view.summary}"
            cached = (index_text(text), frozenset(title_tokens))
            self._tokens[key] = cached
            if len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(key)
        return cached


def _matches(word: str, view: ArticleView, cache: TokenCache) -> bool:
    return matches_topic(word, tags=view.tags, text=cache.get(view)[0])


def _same_story(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= SAME_STORY_OVERLAP


def select_digest(
    candidates: Sequence[ArticleView],
    *,
    topics: Sequence[str],
    mutes: Sequence[str],
    size: int,
    other_label: str,
    cache: TokenCache,
) -> list[DigestGroup]:
    """Pick at most `size` items, grouped by topic: the chat's topics, or else the period's most shared tags.

    Groups are taken in turn, biggest first, so one busy topic cannot fill the digest; a story already picked
    under another title is skipped; items stay newest first within their group.
    """
    kept = [v for v in candidates if not any(_matches(m, v, cache) for m in mutes)]
    groups: dict[str, list[ArticleView]] = {}
    if topics:
        for view in kept:
            topic = next((tp for tp in topics if _matches(tp, view, cache)), None)
            if topic is not None:
                groups.setdefault(topic, []).append(view)
    else:
        shared = Counter(tag.casefold() for view in kept for tag in set(view.tags))
        for view in kept:
            best = max(view.tags, key=lambda tag: shared[tag.casefold()], default=None)
            label = best if best is not None and shared[best.casefold()] >= 2 else other_label
            groups.setdefault(label, []).append(view)
    ordered = sorted(groups.items(), key=lambda item: (item[0] == other_label, -len(item[1])))
    chosen: dict[str, list[ArticleView]] = {label: [] for label, _ in ordered}
    seen_titles: list[frozenset[str]] = []
    queues = [(label, list(items)) for label, items in ordered]
    picked = 0
    while picked < size and any(queue for _, queue in queues):
        for label, queue in queues:
            while queue and picked < size:
                view = queue.pop(0)
                title_tokens = cache.get(view)[1]
                if any(_same_story(title_tokens, seen) for seen in seen_titles):
                    continue
                seen_titles.append(title_tokens)
                chosen[label].append(view)
                picked += 1
                break
    return [DigestGroup(topic=label, items=items) for label, items in chosen.items() if items]


class DigestWriter(Protocol):
    """The words of a digest in the chat's language: the presentation layer provides it
    (bot/digest_messages.py).
    """

    def other_label(self, subscriber: SubscriberView) -> str:
        """The heading of the items that share no topic."""
        ...

    def messages(
        self, subscriber: SubscriberView, groups: Sequence[DigestGroup], local_date: date
    ) -> list[str]:
        """The digest as Telegram HTML chunks, ready for the outbox."""
        ...


def local_now(subscriber: SubscriberView, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(subscriber.timezone))


def is_due(subscriber: SubscriberView, now: datetime) -> bool:
    """The chat's local digest time has come today and today's digest has not been decided yet."""
    local = local_now(subscriber, now)
    if local.time() < subscriber.digest_time:
        return False
    return not had_digest_today(subscriber, now)


def had_digest_today(subscriber: SubscriberView, now: datetime) -> bool:
    last = subscriber.last_digest_at
    tz = ZoneInfo(subscriber.timezone)
    return last is not None and last.astimezone(tz).date() >= now.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class PlannedDigest:
    subscriber: SubscriberView
    local_date: date
    since: datetime
    groups: list[DigestGroup]
    chunks: list[str]

    @property
    def article_ids(self) -> list[int]:
        return [view.id for group in self.groups for view in group.items]


@dataclass(slots=True)
class DigestRunReport:
    enqueued: int = 0
    empty: int = 0
    already_done: int = 0
    messages: int = 0
    planned: list[PlannedDigest] = field(default_factory=list)


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        writer: DigestWriter,
        now: Callable[[], datetime] = utc_now,
        cache: TokenCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._now = now
        self.cache = cache or TokenCache()

    async def plan(self, *, force: bool = False) -> list[PlannedDigest]:
        """The digests due now (with `force`, every digest subscriber not served today),
        built but not stored.
        """
        now = self._now()
        async with self._sessions() as session:
            repo = SubscriberRepo(session)
            candidates = [subscriber_view(s) for s in await repo.digest_candidates()]
            due = [s for s in candidates if (not had_digest_today(s, now) if force else is_due(s, now))]
            if not due:
                return []
            following = await repo.subscriptions([s.id for s in due])
            windows = {s.id: s.last_digest_at or now - FIRST_DIGEST_WINDOW for s in due}
            articles = await articles_since(session, min(windows.values()), limit=MAX_CANDIDATES)
        planned = []
        for subscriber in due:
            since = windows[subscriber.id]
            rows = following[subscriber.id]
            groups = select_digest(
                [a for a in articles if a.listed_at > since],
                topics=[r.value for r in rows if r.kind == TOPIC],
                mutes=[r.value for r in rows if r.kind == MUTE],
                size=subscriber.digest_size,
                other_label=self._writer.other_label(subscriber),
                cache=self.cache,
            )
            local = local_now(subscriber, now)
            chunks = self._writer.messages(subscriber, groups, local.date()) if groups else []
            planned.append(PlannedDigest(subscriber, local.date(), since, groups, chunks))
        return planned

    async def run(self, *, force: bool = False) -> DigestRunReport:
        """Store every due digest with its outbox messages; nothing is sent here."""
        report = DigestRunReport()
        now = self._now()
        for digest in await self.plan(force=force):
            if await self._commit(digest, now):
                report.planned.append(digest)
                if digest.chunks:
                    report.enqueued += 1
                    report.messages += len(digest.chunks)
                else:
                    report.empty += 1
            else:
                report.already_done += 1
        if report.enqueued or report.empty:
            log.info(
                "digests: %d enqueued (%d messages), %d empty", report.enqueued, report.messages, report.empty
            )
        return report

    async def _commit(self, digest: PlannedDigest, now: datetime) -> bool:
        subscriber = digest.subscriber
        try:
            async with self._sessions() as session, session.begin():
                stored = await session.get(Subscriber, subscriber.id, with_for_update=True)
                if stored is None or not stored.active or had_digest_today(subscriber_view(stored), now):
                    return False
                delivery = Delivery(
                    subscriber_id=stored.id,
                    chat_id=stored.chat_id,
                    kind="digest",
                    digest_date=digest.local_date,
                    article_ids=",".join(str(i) for i in digest.article_ids),
                    status="pending" if digest.chunks else "empty",
                    attempts=0,
                    created_at=now,
                )
                session.add(delivery)
                await session.flush()
                if digest.chunks:
                    await OutboxRepo(session).enqueue(
                        subscriber=stored, chunks=digest.chunks, delivery_id=delivery.id, now=now
                    )
                stored.last_digest_at = now
        except IntegrityError:
            return False  # another run stored this chat's digest for today first
        return True
