"""Digests: choosing and grouping the items of a digest, and the daily digest run.

The daily run is exactly-once per chat and local date, even with several processes running it on one
database. Digests are stored in batches of chats, one transaction each: it locks the batch's subscriber rows
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite has no row locks, so there the transaction takes the database's
write lock first), skips the chats served today, and writes the others' Delivery rows (unique per
subscriber, kind and date), outbox messages and `last_digest_at`. Another process waits for the lock and
then finds those chats served. A batch that still meets a unique violation (a digest stored without that
lock, e.g. by an older newsbot during an upgrade) is stored again chat by chat, so that one chat never holds
back the others. A crash before a commit leaves nothing of that batch (the next run does it); after the
commit the outbox owns the sending. After downtime the next run sends one digest covering everything since
the previous one, never one per missed day.

Most chats differ in a few settings only, so a run shares its work between them: each topic or muted word is
matched against the candidates once, the items are chosen once per window, topics, mutes and size, and the
writer renders once per choice, writer style (language, time zone) and date. Items are chosen from lean
candidates (`DigestCandidate`: what matching, ranking and grouping need); the full views are read once, for
the items some chat got.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.callback_values import KEEP_FOR
from bot.services.ingest import utc_now
from bot.services.subscriptions import (
    DROPPED,
    MUTE,
    PUBLISHER,
    TOPIC,
    from_the_future,
    served_on_local_day,
)
from db.callback_values import CallbackValueRepo
from db.engine import take_sqlite_write_lock
from db.models import Delivery, OutboxMessage, Subscriber, Subscription
from db.outbox import PENDING
from db.repositories import (
    StoredStories,
    StoryStart,
    SubscriberRepo,
    article_views,
    subscriber_view,
    translated_summaries,
)
from db.stories import lock_stories
from readmodels import ArticleView, DigestCandidate, DigestGroup, ReaderFilter, SubscriberView
from summarizer.matching import IndexedText, index_text, matches_topic

log = logging.getLogger(__name__)

FIRST_DIGEST_WINDOW = timedelta(hours=24)
# A story first stored after a chat's last digest is in its next one unless it is dated this long before
# that digest: a feed polled late, a post dropped into the inbox an hour after its date are news; an
# archive imported today is not.
LATE_NEWS = timedelta(hours=24)
MAX_CANDIDATES = 1000
# chats stored per transaction: big enough that a run of 10,000 chats is a few dozen transactions, small
# enough that the rows locked meanwhile (PostgreSQL) and a batch redone chat by chat stay small
BATCH_SIZE = 200
# the outbox serves replies (0) before scheduled messages such as digests (1)
DIGEST_PRIORITY = 1


class TokenCache:
    """jieba tokens of an item's title and summary, computed once per item and kept for the next digests."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        # keyed by id and summary: an LLM summary replacing the extractive one gets its own tokens
        self._tokens: OrderedDict[tuple[int, str], IndexedText] = OrderedDict()

    def get(self, view: ArticleView | DigestCandidate) -> IndexedText:
        """The tokens of the article's title and summary."""
        key = (view.id, view.summary)
        cached = self._tokens.get(key)
        if cached is None:
            text = view.title if view.summary == view.title else f"{view.title}\n{view.summary}"
            cached = index_text(text)
            self._tokens[key] = cached
            if len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(key)
        return cached


def _matches(word: str, view: ArticleView | DigestCandidate, cache: TokenCache) -> bool:
    return matches_topic(word, tags=view.tags, text=cache.get(view))


class _Candidates:
    """A list of articles prepared for choosing the digests of many chats from it: which articles each word
    matches (found once per word: topics and muted words repeat across chats) and each one's tags."""

    def __init__(self, articles: Sequence[DigestCandidate], cache: TokenCache) -> None:
        self._articles = articles
        self._cache = cache
        self._matching: dict[str, frozenset[int]] = {}
        self._tags: dict[int, _Tags] = {}

    def matching(self, word: str) -> frozenset[int]:
        """The ids of the articles `word` matches."""
        found = self._matching.get(word)
        if found is None:
            found = frozenset(v.id for v in self._articles if _matches(word, v, self._cache))
            self._matching[word] = found
        return found

    def tags(self, view: DigestCandidate) -> _Tags:
        found = self._tags.get(view.id)
        if found is None:
            keyed = tuple((tag, tag.casefold()) for tag in view.tags)
            found = self._tags[view.id] = _Tags(keyed, tuple(dict(keyed).values()))
        return found


@dataclass(frozen=True, slots=True)
class _Tags:
    """An article's tags with their case-folded keys, worked out once for every chat."""

    keyed: tuple[tuple[str, str], ...]  # (tag, key), in the article's order
    shared_keys: tuple[str, ...]  # the key of each distinct tag: what counts towards the most shared tags


@dataclass(frozen=True, slots=True)
class ChosenGroup:
    """The items of one group of a digest as chosen, before their full views are read (`with_views`)."""

    topic: str
    items: list[DigestCandidate]
    plain: bool = False  # `topic` is a heading in words ("Other"), not a tag to show as a hashtag


def select_digest(
    candidates: Sequence[DigestCandidate],
    *,
    topics: Sequence[str],
    mutes: Sequence[str],
    size: int,
    other_label: str,
    cache: TokenCache,
    offset: int = 0,
) -> list[ChosenGroup]:
    """Pick at most `size` items: with topics, grouped by the chat's topics in turn; without, the most
    important items (see `importance`), grouped where two or more share a tag. `offset`: the items after
    the first `offset` of that order (the digest's next page).
    """
    prepared = _Candidates(candidates, cache)
    groups = _group(candidates, topics=topics, mutes=mutes, other_label=other_label, prepared=prepared)
    return _pick(groups, size=size, other_label=other_label, prepared=prepared, offset=offset)


def chosen_ids(chosen: Iterable[ChosenGroup]) -> list[int]:
    return [item.id for group in chosen for item in group.items]


def with_views(chosen: Sequence[ChosenGroup], views: Mapping[int, ArticleView]) -> list[DigestGroup]:
    """The chosen groups as readers see them: each item's full view, with the summary it was chosen by (the
    one its topics and muted words were matched in). An item no longer stored is left out, and a group it
    leaves empty."""
    groups = []
    for group in chosen:
        items = [
            replace(views[item.id], summary=item.summary, summary_method=item.summary_method)
            for item in group.items
            if item.id in views
        ]
        if items:
            groups.append(DigestGroup(topic=group.topic, items=items, plain=group.plain))
    return groups


def importance(view: DigestCandidate) -> int:
    """How many publishers carry the story: a story several outlets report matters more than one only one
    reports."""
    return view.publishers


def _by_importance(views: Iterable[DigestCandidate]) -> list[DigestCandidate]:
    """Most publishers first; of equals, the newest first (the order `views` come in)."""
    return sorted(views, key=lambda view: -importance(view))


# (label, items), in the order their turns come; one group labelled "" is the chat's whole choice, ranked
_Groups = list[tuple[str, list[DigestCandidate]]]
RANKED = ""


def _group(
    candidates: Sequence[DigestCandidate],
    *,
    topics: Sequence[str],
    mutes: Sequence[str],
    other_label: str,
    prepared: _Candidates,
) -> _Groups:
    """The candidates not muted: by the chat's first topic they match, biggest group first; or, for a chat
    without topics, one group (RANKED) of them all, most important first. `prepared` holds at least the
    candidates."""
    muted: set[int] = set()
    for word in mutes:
        muted |= prepared.matching(word)
    if not topics:
        return [(RANKED, _by_importance(v for v in candidates if v.id not in muted))]
    groups: dict[str, list[DigestCandidate]] = {}
    matching = [(tp, prepared.matching(tp)) for tp in topics]
    # most candidates match none of the chat's topics: one look-up rules each of those out
    wanted: set[int] = set()
    for _, ids in matching:
        wanted |= ids
    wanted -= muted
    for view in [v for v in candidates if v.id in wanted]:
        topic = next(tp for tp, ids in matching if view.id in ids)
        groups.setdefault(topic, []).append(view)
    ranked = [(label, _by_importance(items)) for label, items in groups.items()]
    return sorted(ranked, key=lambda item: -len(item[1]))


def _pick(
    groups: _Groups, *, size: int, other_label: str, prepared: _Candidates, offset: int = 0
) -> list[ChosenGroup]:
    """At most `size` items, after the first `offset`. Each candidate is a story already (its lead,
    db.stories), so the digest needs no duplicate check of its own: it agrees with /latest and /search."""
    if len(groups) == 1 and groups[0][0] == RANKED:
        ranked = groups[0][1][offset : offset + size]
        return _by_shared_tags(ranked, other_label=other_label, prepared=prepared)
    # the chat's topics take turns, so that one busy topic cannot fill the digest
    chosen: dict[str, list[DigestCandidate]] = {label: [] for label, _ in groups}
    queues = [(label, list(items)) for label, items in groups]
    picked = 0
    while picked < offset + size and any(queue for _, queue in queues):
        for label, queue in queues:
            if queue and picked < offset + size:
                view = queue.pop(0)
                if picked >= offset:
                    chosen[label].append(view)
                picked += 1
    return [ChosenGroup(topic=label, items=items) for label, items in chosen.items() if items]


def _by_shared_tags(
    chosen: Sequence[DigestCandidate], *, other_label: str, prepared: _Candidates
) -> list[ChosenGroup]:
    """The chosen items grouped only where two or more share a tag: the tag most of them share first (of
    equals, the one the most important item has first), again for what is left. The rest follow as one
    flat list, under `other_label` when there are groups, without a heading when there are none."""
    left = list(chosen)
    groups: list[ChosenGroup] = []
    while len(left) >= 2:
        counts: Counter[str] = Counter(key for view in left for key in prepared.tags(view).shared_keys)
        order = {key: i for i, key in enumerate(k for v in left for k in prepared.tags(v).shared_keys)}
        best = min(counts, key=lambda key: (-counts[key], order[key]), default=None)
        if best is None or counts[best] < 2:
            break
        members = [view for view in left if best in prepared.tags(view).shared_keys]
        label = next(tag for tag, key in prepared.tags(members[0]).keyed if key == best)
        groups.append(ChosenGroup(topic=label, items=members))
        left = [view for view in left if best not in prepared.tags(view).shared_keys]
    if left:
        groups.append(ChosenGroup(topic=other_label if groups else "", items=left, plain=True))
    return groups


@dataclass(frozen=True, slots=True)
class DigestDraft:
    """A digest's messages as the writer words them: Telegram HTML chunks; the first goes as the caption of
    `photo_url` when there is one; `reply_markup` (Bot API JSON) goes with the last. `callback_values`
    ({key: value}) are the values its buttons carry as keys, stored with the digest for their presses."""

    chunks: list[str]
    photo_url: str | None = None
    reply_markup: str | None = None
    callback_values: Mapping[str, str] = field(default_factory=dict)


NO_DIGEST = DigestDraft([])


class DigestWriter(Protocol):
    """The words of a digest in the chat's language: the presentation layer provides it
    (bot/digest_messages.py).
    """

    def style(self, subscriber: SubscriberView) -> Hashable:
        """What the words depend on besides the groups and the date (the language, the time zone): chats of
        one style get the same `other_label` and the same messages for the same groups and date, so a run
        asks once per style."""
        ...

    def other_label(self, subscriber: SubscriberView) -> str:
        """The heading of the items that share no topic."""
        ...

    def messages(
        self, subscriber: SubscriberView, groups: Sequence[DigestGroup], local_date: date
    ) -> DigestDraft:
        """The digest's messages, ready for the outbox."""
        ...


def local_now(subscriber: SubscriberView, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(subscriber.timezone))


def is_due(subscriber: SubscriberView, now: datetime) -> bool:
    """The chat's local digest time has come today, today's digest has not been decided yet, the chat is not
    paused, and the digest was not moved (time or time zone) after today's digest time had passed (a move
    never sends a digest by itself: at 23:00, moving the digest time to 08:00 means tomorrow's). Other
    settings do not count: a reader who turns on link previews at 08:00:30 still gets the 08:00 digest."""
    if is_paused(subscriber, now):
        return False
    local = local_now(subscriber, now)
    if local.time() < subscriber.digest_time:
        return False
    changed = subscriber.schedule_changed_at
    # (a move stamped by a clock that was ahead happened before now, when exactly is not known: not after)
    today_at = _first_moment(local.date(), subscriber.digest_time, local.tzinfo)
    if changed is not None and not from_the_future(changed, now) and changed >= today_at:
        return False
    return not had_digest_today(subscriber, now)


def _first_moment(day: date, at: time, tz: tzinfo | None) -> datetime:
    """When the local time `at` of `day` first comes: in the hour repeated in autumn, its first pass; in the
    hour skipped in spring, before the clocks jump (so a move made after the jump waits for tomorrow, as on
    any other day: 02:30 read as 03:30 once sent a digest moved at 03:10 at once)."""
    return min(datetime.combine(day, at.replace(fold=fold), tz).astimezone(UTC) for fold in (0, 1))


def _window_start(last_digest_at: datetime | None, now: datetime) -> datetime:
    """Where a chat's next digest begins: at its last one; a day back for its first, or when its last one
    was stamped by a clock that was ahead (begun there, the window was empty)."""
    if last_digest_at is None or from_the_future(last_digest_at, now):
        return now - FIRST_DIGEST_WINDOW
    return last_digest_at


def is_paused(subscriber: SubscriberView, now: datetime) -> bool:
    return subscriber.paused_until is not None and now < subscriber.paused_until


def had_digest_today(subscriber: SubscriberView, now: datetime) -> bool:
    return served_on_local_day(subscriber.last_digest_at, subscriber.timezone, now)


@dataclass(frozen=True, slots=True)
class PlannedDigest:
    """One chat's digest, built but not stored. Chats with the same choice and style share `groups` and
    `chunks` (the same lists): read them, never change them."""

    subscriber: SubscriberView
    local_date: date
    since: datetime
    groups: list[DigestGroup]
    draft: DigestDraft

    @property
    def chunks(self) -> list[str]:
        return self.draft.chunks

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


# what a chat's grouping of the candidates depends on: the candidates (an id of their list), its topics and
# mutes, and the label of the items without a shared topic; its choice adds the size of its digest
_GroupsKey = tuple[int, tuple[str, ...], tuple[str, ...], str]
_ChoiceKey = tuple[_GroupsKey, int]


class _DigestBuilder:
    """Builds the digests of one run from what it read once: the candidates (newest first) and every due
    chat's subscriptions. Work is shared between chats: see the module docstring. Every chat's items are
    chosen first (`choose`), then the full views of the items chosen are read once (`views`) for `build`."""

    def __init__(
        self,
        stories: Sequence[tuple[DigestCandidate, StoryStart]],
        following: dict[int, list[Subscription]],
        *,
        writer: DigestWriter,
        cache: TokenCache,
        now: datetime,
        translations: dict[str, dict[int, str]] | None = None,
    ) -> None:
        articles = [candidate for candidate, _ in stories]
        self._starts = {candidate.id: start for candidate, start in stories}
        self._articles = articles
        # {language: {article id: summary}}: the LLM's summaries in the languages due chats asked for
        self._translations = translations or {}
        self._following = following
        self._writer = writer
        self._now = now
        self._prepared = _Candidates(articles, cache)
        self._windows: dict[tuple[datetime, ReaderFilter], tuple[int, list[DigestCandidate]]] = {}
        self._window_ids: dict[tuple[str | None | int, ...], int] = {}
        self._labels: dict[Hashable, str] = {}
        self._groups: dict[_GroupsKey, _Groups] = {}
        self._choices: dict[_ChoiceKey, list[ChosenGroup]] = {}
        self._chosen: dict[int, tuple[_ChoiceKey, Hashable]] = {}  # {subscriber id: its choice, style}
        # the full views of the items chosen, read once every chat's items are chosen
        self.views: Mapping[int, ArticleView] = {}
        self._shown: dict[_ChoiceKey, list[DigestGroup]] = {}
        self._messages: dict[tuple[_ChoiceKey, Hashable, date], DigestDraft] = {}
        self._built: dict[int, PlannedDigest] = {}

    def _window(self, since: datetime, sources: ReaderFilter) -> tuple[int, list[DigestCandidate]]:
        """The stories first stored after `since` and dated after `since - LATE_NEWS` (as
        `stories_stored_between` chose them for the earliest window of the run), in the languages and from
        the publishers `sources` keeps, and an id for that list (equal lists, equal ids)."""
        found = self._windows.get((since, sources))
        if found is None:
            candidates = [
                a
                for a in self._articles
                if self._starts[a.id].stored_at > since
                and self._starts[a.id].listed_at > since - LATE_NEWS
                and sources.keeps_source(a)
            ]
            # the same articles with other summaries are another list: the summaries' language is in its key
            language = None
            if sources.summary_language is not None:
                translated = self._translations.get(sources.summary_language, {})
                if any(a.id in translated for a in candidates):
                    language = sources.summary_language
                candidates = [
                    replace(a, summary=translated[a.id], summary_method="llm") if a.id in translated else a
                    for a in candidates
                ]
            key = (language, *(a.id for a in candidates))
            found = (self._window_ids.setdefault(key, len(self._window_ids)), candidates)
            self._windows[since, sources] = found
        return found

    def choose(self, subscriber: SubscriberView, since: datetime) -> list[ChosenGroup]:
        """The chat's items; the same ones when asked again."""
        found = self._chosen.get(subscriber.id)
        if found is not None:
            return self._choices[found[0]]
        style = self._writer.style(subscriber)
        other_label = self._labels.get(style)
        if other_label is None:
            other_label = self._labels[style] = self._writer.other_label(subscriber)
        rows = self._following[subscriber.id]
        topics = tuple(r.value for r in rows if r.kind == TOPIC)
        mutes = tuple(r.value for r in rows if r.kind == MUTE)
        sources = ReaderFilter(
            languages=subscriber.article_languages,
            publishers=tuple(r.value for r in rows if r.kind == PUBLISHER),
            dropped=tuple(r.value for r in rows if r.kind == DROPPED),
            summary_language=subscriber.summary_language,
        )
        window, candidates = self._window(since, sources)
        grouping: _GroupsKey = (window, topics, mutes, other_label)
        groups = self._groups.get(grouping)
        if groups is None:
            groups = self._groups[grouping] = _group(
                candidates, topics=topics, mutes=mutes, other_label=other_label, prepared=self._prepared
            )
        choice: _ChoiceKey = (grouping, subscriber.digest_size)
        chosen = self._choices.get(choice)
        if chosen is None:
            chosen = _pick(
                groups, size=subscriber.digest_size, other_label=other_label, prepared=self._prepared
            )
            self._choices[choice] = chosen
        self._chosen[subscriber.id] = (choice, style)
        return chosen

    def chosen_ids(self) -> set[int]:
        """The items chosen for any chat so far."""
        return {item_id for chosen in self._choices.values() for item_id in chosen_ids(chosen)}

    def build(self, subscriber: SubscriberView, since: datetime) -> PlannedDigest:
        """The chat's digest; the same one when asked again (a batch stored again chat by chat)."""
        built = self._built.get(subscriber.id)
        if built is not None:
            return built
        chosen = self.choose(subscriber, since)
        choice, style = self._chosen[subscriber.id]
        groups = self._shown.get(choice)
        if groups is None:
            groups = self._shown[choice] = with_views(chosen, self.views)
        local_date = local_now(subscriber, self._now).date()
        draft = NO_DIGEST
        if groups:
            words = (choice, style, local_date)
            found = self._messages.get(words)
            if found is None:
                found = self._messages[words] = self._writer.messages(subscriber, groups, local_date)
            draft = found
        built = PlannedDigest(subscriber, local_date, since, groups, draft)
        self._built[subscriber.id] = built
        return built


def _batches(items: Sequence[SubscriberView], size: int) -> Iterable[Sequence[SubscriberView]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        writer: DigestWriter,
        now: Callable[[], datetime] = utc_now,
        cache: TokenCache | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._now = now
        self.cache = cache or TokenCache()
        self._batch_size = batch_size

    async def _due(
        self, now: datetime, *, force: bool
    ) -> tuple[list[SubscriberView], dict[int, datetime], _DigestBuilder | None]:
        """The chats due now (with `force`, every digest chat not served today), the start of each one's
        window, and a builder for their digests (None when none is due)."""
        async with self._sessions() as session:
            repo = SubscriberRepo(session)
            candidates = [subscriber_view(s) for s in await repo.digest_candidates()]
            due = [
                s
                for s in candidates
                if (not had_digest_today(s, now) and not is_paused(s, now) if force else is_due(s, now))
            ]
            if not due:
                return [], {}, None
            following = await repo.subscriptions([s.id for s in due])
        windows = {s.id: _window_start(s.last_digest_at, now) for s in due}
        earliest = min(windows.values())
        async with self._sessions() as session, session.begin():
            # under the lock ingestion stamps and stores under: what is stored by `now` is all committed
            # now, and what is not yet stamped will be stamped after `now` (this chat's next window)
            # (only which stories: their summaries, tags and other reports are read after it, so that the
            # write lock SQLite takes for it is held for one query)
            await lock_stories(session)
            found = await StoredStories.between(
                session, earliest, now, dated_after=earliest - LATE_NEWS, limit=MAX_CANDIDATES
            )
        async with self._sessions() as session:
            stories = await found.candidates(session)
            ids = [candidate.id for candidate, _ in stories]
            translations = {
                language: await translated_summaries(session, ids, language)
                for language in {s.summary_language for s in due if s.summary_language}
            }
        builder = _DigestBuilder(
            stories, following, writer=self._writer, cache=self.cache, now=now, translations=translations
        )
        for subscriber in due:
            builder.choose(subscriber, windows[subscriber.id])
        async with self._sessions() as session:
            builder.views = await article_views(session, list(builder.chosen_ids()))
        return due, windows, builder

    async def plan(self, *, force: bool = False) -> list[PlannedDigest]:
        """The digests due now (with `force`, every digest subscriber not served today),
        built but not stored.
        """
        now = self._now()
        due, windows, builder = await self._due(now, force=force)
        if builder is None:
            return []
        return [builder.build(s, windows[s.id]) for s in due]

    async def run(self, *, force: bool = False) -> DigestRunReport:
        """Build and store every due digest with its outbox messages, batch by batch; nothing is sent here.

        A chat another process served meanwhile counts as `already_done`, never as an error.
        """
        report = DigestRunReport()
        now = self._now()
        due, windows, builder = await self._due(now, force=force)
        if builder is None:
            return report

        def build(subscriber: SubscriberView) -> PlannedDigest:
            return builder.build(subscriber, windows[subscriber.id])

        for batch in _batches(due, self._batch_size):
            try:
                stored = await self._store(batch, build, now)
            except IntegrityError:
                # one of these was stored without the lock (see the module docstring): the others one by one
                stored = []
                for subscriber in batch:
                    stored += await self._store_alone(subscriber, build, now)
            report.already_done += len(batch) - len(stored)
            for digest in stored:
                report.planned.append(digest)
                if digest.chunks:
                    report.enqueued += 1
                    report.messages += len(digest.chunks)
                else:
                    report.empty += 1
        if any(digest.draft.callback_values for digest in report.planned):
            async with self._sessions() as session, session.begin():
                await CallbackValueRepo(session).forget(before=now - KEEP_FOR)
        if report.enqueued or report.empty:
            log.info(
                "digests: %d enqueued (%d messages), %d empty, %d already done",
                report.enqueued,
                report.messages,
                report.empty,
                report.already_done,
            )
        return report

    async def _store_alone(
        self, subscriber: SubscriberView, build: Callable[[SubscriberView], PlannedDigest], now: datetime
    ) -> list[PlannedDigest]:
        """`_store` for one chat; nothing when its digest for today was stored meanwhile."""
        try:
            return await self._store([subscriber], build, now)
        except IntegrityError:
            return []

    async def _store(
        self,
        batch: Sequence[SubscriberView],
        build: Callable[[SubscriberView], PlannedDigest],
        now: datetime,
    ) -> list[PlannedDigest]:
        """Build and store the digests of the chats of `batch` still active and not served today, in one
        transaction holding their lock; returns them. Raises IntegrityError when one of them has today's
        Delivery row already."""
        async with self._sessions() as session, session.begin():
            # SQLite: another process waits here, then finds these chats served
            await take_sqlite_write_lock(session)
            # locked in id order, so that two processes locking overlapping batches cannot deadlock
            rows = await session.execute(
                select(
                    Subscriber.id,
                    Subscriber.chat_id,
                    Subscriber.kind,
                    Subscriber.active,
                    Subscriber.wants_digest,
                    Subscriber.paused_until,
                    Subscriber.timezone,
                    Subscriber.last_digest_at,
                    Subscriber.schedule_changed_at,
                    Subscriber.thread_id,
                )
                .where(Subscriber.id.in_([s.id for s in batch]))
                .order_by(Subscriber.id)
                .with_for_update()
            )
            # read again under the lock: a chat that unsubscribed or paused while the run was building its
            # digest (a run of many batches takes a while) was told so, and gets none
            fresh = {
                row.id: row
                for row in rows
                if row.active
                and row.wants_digest
                and not (row.paused_until is not None and now < row.paused_until)
                and not served_on_local_day(row.last_digest_at, row.timezone, now)
            }
            # and a chat that moved its digest meanwhile is left to the next run, which judges the move (its
            # digest would be dated in the zone it left, after the move freed that date for the new one)
            digests = [
                build(s)
                for s in batch
                if s.id in fresh and fresh[s.id].schedule_changed_at == s.schedule_changed_at
            ]
            if not digests:
                return []
            repo = SubscriberRepo(session)
            for digest in digests:
                if from_the_future(fresh[digest.subscriber.id].last_digest_at, now):
                    # a digest stored while the clock was ahead holds the date of a day still to come
                    tomorrow = digest.local_date + timedelta(days=1)
                    await repo.release_digest_dates(digest.subscriber.id, since=tomorrow)
            # bulk inserts: one statement for the batch's deliveries (their ids come back with their chats)
            # and one for their messages, where adding ORM objects would insert (and on SQLite, return the
            # id of) one row at a time
            inserted = await session.execute(
                insert(Delivery).returning(Delivery.subscriber_id, Delivery.id),
                [
                    {
                        "subscriber_id": digest.subscriber.id,
                        "chat_id": fresh[digest.subscriber.id].chat_id,
                        "kind": "digest",
                        "digest_date": digest.local_date,
                        "article_ids": ",".join(str(i) for i in digest.article_ids),
                        "status": "pending" if digest.chunks else "empty",
                        "attempts": 0,
                        "created_at": now,
                    }
                    for digest in digests
                ],
            )
            delivery_ids = dict(inserted.tuples().all())
            messages = [
                # the fields OutboxRepo.enqueue sets
                {
                    "delivery_id": delivery_ids[digest.subscriber.id],
                    "subscriber_id": digest.subscriber.id,
                    "chat_id": fresh[digest.subscriber.id].chat_id,
                    "chat_kind": fresh[digest.subscriber.id].kind,
                    "thread_id": fresh[digest.subscriber.id].thread_id,
                    "priority": DIGEST_PRIORITY,
                    "seq": seq,
                    "text": chunk,
                    "photo_url": digest.draft.photo_url if seq == 0 else None,
                    "reply_markup": digest.draft.reply_markup if seq == len(digest.chunks) - 1 else None,
                    "silent": digest.subscriber.silent,
                    "link_preview": digest.subscriber.link_previews,
                    "status": PENDING,
                    "attempts": 0,
                    "not_before": now,
                    "as_plain_text": False,
                    "created_at": now,
                }
                for digest in digests
                for seq, chunk in enumerate(digest.chunks)
            ]
            if messages:
                await session.execute(insert(OutboxMessage), messages)
            # with the messages whose buttons carry their keys: a digest is never sent without them
            kept = {key: value for d in digests if d.chunks for key, value in d.draft.callback_values.items()}
            await CallbackValueRepo(session).keep(kept, now=now)
            await session.execute(
                update(Subscriber)
                .where(Subscriber.id.in_([d.subscriber.id for d in digests]))
                .values(last_digest_at=now)
                .execution_options(synchronize_session=False)
            )
        return digests
