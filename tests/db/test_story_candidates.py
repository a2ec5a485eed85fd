"""`story_candidates` on real SQLite and PostgreSQL databases: the 72-hour window to the microsecond, at both
ends, whatever the number of keys (SQLite is sent the window once per key, converted once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article
from db.stories import STORY_WINDOW, add_many_story_keys, story_candidates

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
# listed at (from NOW) -> inside the window around NOW
OFFSETS = {
    -STORY_WINDOW - US: False,
    -STORY_WINDOW: True,
    -STORY_WINDOW + US: True,
    timedelta(0): True,
    STORY_WINDOW - US: True,
    STORY_WINDOW: True,
    STORY_WINDOW + US: False,
}


async def store(sessions: async_sessionmaker[AsyncSession], keys: list[str]) -> dict[int, datetime]:
    """One article per offset, each with all `keys` and its id as its fingerprint; id -> listed_at."""
    listed: dict[int, datetime] = {}
    async with sessions() as session, session.begin():
        for i, offset in enumerate(OFFSETS):
            at = NOW + offset
            article = Article(
                title=f"t{i}",
                publisher="p",
                listed_at=at,
                ingested_at=NOW,
                text="x",
                html="",
                content_hash=f"{i:064d}",
                language="zh",
                origin=f"o{i}",
            )
            session.add(article)
            await session.flush()
            article.story_id = article.id
            article.story_fingerprint = str(article.id)
            listed[article.id] = at
        await session.flush()
        await add_many_story_keys(session, [(article_id, keys, at) for article_id, at in listed.items()])
    return listed


@pytest.mark.parametrize("key_count", [1, 24])
async def test_the_window_holds_both_ends_to_the_microsecond(
    sessions: async_sessionmaker[AsyncSession], key_count: int
) -> None:
    keys = [f"k{i}" for i in range(key_count)]
    listed = await store(sessions, keys)
    inside = [i for i, at in listed.items() if OFFSETS[at - NOW]]
    newest_first = sorted(inside, key=lambda i: listed[i], reverse=True)
    async with sessions() as session:
        # any time zone: the window is the same instants
        for at in (NOW, NOW.astimezone(ZoneInfo("Asia/Shanghai"))):
            found = await story_candidates(session, [*keys, "unknown", keys[0]], listed_at=at)
            assert [c.article_id for c in found] == newest_first
            assert [c.listed_at for c in found] == [listed[i] for i in newest_first]
            assert all(c.listed_at.tzinfo is UTC for c in found)
            assert [c.fingerprint for c in found] == [str(i) for i in newest_first]
        excluded = await story_candidates(session, keys, listed_at=NOW, exclude=newest_first[0])
        assert [c.article_id for c in excluded] == newest_first[1:]
        assert await story_candidates(session, ["unknown"], listed_at=NOW) == []
        assert await story_candidates(session, [], listed_at=NOW) == []
