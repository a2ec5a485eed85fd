"""What readers and operators ask for: latest items, search, topics, on-demand digests, sources
and statistics.

The bot's commands and the `newsbot` command line both read through this service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.digests import TokenCache, _matches, chosen_ids, select_digest, with_views
from bot.services.ingest import utc_now
from db.llm import llm_stats
from db.repositories import (
    SourceRepo,
    article_views,
    digest_candidates_since,
    feed_view,
    latest_articles,
    publisher_counts,
    search_articles,
    stats,
    top_tags,
    translated_summaries,
)
from readmodels import ArticleView, BotStats, DigestGroup, FeedView, LlmStats, ReaderFilter, TagCount
from summarizer.matching import query_words

ON_DEMAND_WINDOW = timedelta(hours=24)
TOPICS_WINDOW = timedelta(days=7)
# /topics widens to these when the last week is thin (a new install, a quiet source)
TOPICS_WINDOWS = (TOPICS_WINDOW, timedelta(days=30), timedelta(days=365))
MIN_TOPIC_COUNT = 2  # a tag one item carries is not a topic yet
EVERYTHING = ReaderFilter()


def _pieces(text: str) -> set[str]:
    """What two topics may share to be near: words, or for Chinese (no spaces) pairs of characters."""
    if " " in text or text.isascii():
        return set(text.split())
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[ArticleView]
    # offset of the next page in the unfiltered listing; None when there is nothing older
    next_offset: int | None


class ReadingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache: TokenCache,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._now = now

    async def latest(
        self,
        *,
        limit: int,
        offset: int = 0,
        reader: ReaderFilter = EVERYTHING,
        tag: str | None = None,
        publisher: str | None = None,
    ) -> Page:
        """The newest items `reader` keeps, newest first; optionally only those with a tag or from one
        publisher."""

        async def fetch(session: AsyncSession, size: int, at: int) -> list[ArticleView]:
            return await latest_articles(
                session, limit=size, offset=at, tag=tag, publisher=publisher, reader=reader
            )

        return await self._page(fetch, limit=limit, offset=offset, mutes=reader.mutes)

    async def search(
        self, query: str, *, limit: int, offset: int = 0, reader: ReaderFilter = EVERYTHING
    ) -> Page:
        words = query_words(query)

        async def fetch(session: AsyncSession, size: int, at: int) -> list[ArticleView]:
            return await search_articles(session, words, limit=size, offset=at, reader=reader)

        return await self._page(fetch, limit=limit, offset=offset, mutes=reader.mutes)

    async def _page(
        self,
        fetch: Callable[[AsyncSession, int, int], Awaitable[list[ArticleView]]],
        *,
        limit: int,
        offset: int,
        mutes: Sequence[str],
    ) -> Page:
        """Up to `limit` items not muted, reading further while muted ones are skipped (bounded)."""
        kept: list[ArticleView] = []
        position = offset
        async with self._sessions() as session:
            for _ in range(5):
                batch = await fetch(session, limit + 1, position)
                for view in batch:
                    if len(kept) == limit:
                        return Page(kept, position)
                    position += 1
                    if not any(_matches(word, view, self._cache) for word in mutes):
                        kept.append(view)
                if len(batch) <= limit:
                    return Page(kept, None)
        return Page(kept, position)

    async def digest(
        self,
        *,
        topics: Sequence[str],
        reader: ReaderFilter,
        size: int,
        other_label: str,
        offset: int = 0,
    ) -> list[DigestGroup]:
        """The last day's digest of `topics` (none: of everything); `offset`: its items after the first
        `offset`."""
        async with self._sessions() as session:
            candidates = await digest_candidates_since(session, self._now() - ON_DEMAND_WINDOW)
            if reader.summary_language is not None:
                translated = await translated_summaries(
                    session, [candidate.id for candidate in candidates], reader.summary_language
                )
                candidates = [
                    replace(c, summary=translated[c.id], summary_method="llm") if c.id in translated else c
                    for c in candidates
                ]
        chosen = select_digest(
            [candidate for candidate in candidates if reader.keeps_source(candidate)],
            topics=list(topics),
            mutes=reader.mutes,
            size=size,
            other_label=other_label,
            cache=self._cache,
            offset=offset,
        )
        if not chosen:
            return []
        # the full views of the ten or so items shown, not of the hundreds chosen from
        async with self._sessions() as session:
            views = await article_views(session, chosen_ids(chosen))
        return with_views(chosen, views)

    async def topics(self, *, limit: int = 12, window: timedelta = TOPICS_WINDOW) -> list[TagCount]:
        """The most used tags of the last `window`, most used first."""
        async with self._sessions() as session:
            return await top_tags(session, since=self._now() - window, limit=limit)

    async def popular_topics(self, *, limit: int = 12) -> tuple[timedelta, list[TagCount]]:
        """The tags worth offering: carried by two or more items, from the last 7 days, or from a wider window
        (30, then 365 days) when the last 7 days have fewer than `limit` of them. Returns the window used."""
        found: list[TagCount] = []
        for window in TOPICS_WINDOWS:
            found = [c for c in await self.topics(limit=limit, window=window) if c.count >= MIN_TOPIC_COUNT]
            if len(found) >= limit:
                break
        return window, found

    async def recent_matches(self, topic: str, *, window: timedelta = TOPICS_WINDOW, cap: int = 99) -> int:
        """How many stories of the last `window` a topic finds (as /search would), up to `cap`+1."""
        since = self._now() - window
        page = await self.search(topic, limit=cap + 1)
        return sum(1 for view in page.items if view.listed_at >= since)

    async def near_topics(self, topic: str, *, limit: int = 5) -> list[str]:
        """Popular tags of the last 30 days that look like `topic`: one contains the other, or they share two
        characters in a row (Chinese) or a word (other languages); most used first."""
        key = topic.casefold()
        parts = _pieces(key)
        near = []
        for count in await self.topics(limit=200, window=TOPICS_WINDOWS[1]):
            name = count.name.casefold()
            if name == key:
                continue
            if key in name or name in key or parts & _pieces(name):
                near.append(count.name)
            if len(near) == limit:
                break
        return near

    async def publishers(self, *, limit: int = 20, window: timedelta = TOPICS_WINDOW) -> list[TagCount]:
        """Who published the last `window`'s articles, with how many each, most first."""
        async with self._sessions() as session:
            return await publisher_counts(session, since=self._now() - window, limit=limit)

    async def sources(self) -> list[FeedView]:
        async with self._sessions() as session:
            return [feed_view(s) for s in await SourceRepo(session).feeds()]

    async def stats(self) -> BotStats:
        async with self._sessions() as session:
            return await stats(session, since=self._now() - ON_DEMAND_WINDOW)

    async def llm_stats(self, *, window: timedelta) -> LlmStats:
        """LLM requests, failures, fallbacks, cache hits and tokens of the last `window`."""
        async with self._sessions() as session:
            return await llm_stats(session, since=self._now() - window)
