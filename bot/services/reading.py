"""What readers and operators ask for: latest items, search, topics, on-demand digests, sources
and statistics.

The bot's commands and the `newsbot` command line both read through this service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.digests import TokenCache, _matches, select_digest
from bot.services.ingest import utc_now
from db.llm import llm_stats
from db.repositories import (
    SourceRepo,
    articles_since,
    feed_view,
    latest_articles,
    search_articles,
    stats,
    top_tags,
)
from readmodels import ArticleView, BotStats, DigestGroup, FeedView, LlmStats, TagCount
from summarizer.matching import query_words

ON_DEMAND_WINDOW = timedelta(hours=24)
TOPICS_WINDOW = timedelta(days=7)


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
        mutes: Sequence[str] = (),
        tag: str | None = None,
        publisher: str | None = None,
    ) -> Page:
        """The newest items, newest first; optionally only those with a tag or from one publisher."""

        async def fetch(session: AsyncSession, size: int, at: int) -> list[ArticleView]:
            return await latest_articles(session, limit=size, offset=at, tag=tag, publisher=publisher)

        return await self._page(fetch, limit=limit, offset=offset, mutes=mutes)

    async def search(self, query: str, *, limit: int, offset: int = 0, mutes: Sequence[str] = ()) -> Page:
        words = query_words(query)

        async def fetch(session: AsyncSession, size: int, at: int) -> list[ArticleView]:
            return await search_articles(session, words, limit=size, offset=at)

        return await self._page(fetch, limit=limit, offset=offset, mutes=mutes)

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
        self, *, topic: str | None, mutes: Sequence[str], size: int, other_label: str
    ) -> list[DigestGroup]:
        async with self._sessions() as session:
            candidates = await articles_since(session, self._now() - ON_DEMAND_WINDOW)
        return select_digest(
            candidates,
            topics=[topic] if topic else [],
            mutes=mutes,
            size=size,
            other_label=other_label,
            cache=self._cache,
        )

    async def topics(self, *, limit: int = 12, window: timedelta = TOPICS_WINDOW) -> list[TagCount]:
        """The most used tags of the last `window`, most used first."""
        async with self._sessions() as session:
            return await top_tags(session, since=self._now() - window, limit=limit)

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
