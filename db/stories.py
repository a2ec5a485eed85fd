"""Stories: the stored articles that report on one event, found through the lookup keys of their fingerprints.

An article's `story_id` is the id of the story's first article. Joining a story happens in the transaction
that stores the article, after `lock_stories`, so that two processes storing two reports of one event at once
cannot both start a story: the second one waits, then finds the first. Like the repositories, every function
takes a session owned by the caller and never opens, commits or closes one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, String, Text, bindparam, column, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect

from db.engine import lock_transaction
from db.models import Article, StoryCopy, StoryKey, StoryPublisher
from db.types import UTCDateTime

# how far apart in listing time two reports of one story may be
STORY_WINDOW = timedelta(hours=72)
# the most candidates one lookup compares with: the newest sharing a key, at most PER_KEY of each key
MAX_CANDIDATES = 200
PER_KEY = 50
# the PostgreSQL advisory lock that story assignment holds ("stories" in ASCII)
STORY_LOCK_KEY = 0x73746F72696573
# the type of the window's bounds, converted to what the driver is sent once per lookup on SQLite
_WINDOW_TYPE = UTCDateTime()


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A stored article that shares a lookup key with a new one."""

    article_id: int
    story_id: int
    listed_at: datetime
    fingerprint: str | None
    origin: str | None  # the file or feed it came from


async def lock_stories(session: AsyncSession) -> None:
    """Make the caller's transaction the only one assigning stories until it ends: PostgreSQL by an advisory
    transaction lock, SQLite by taking its write lock before the candidates are read."""
    await lock_transaction(session, STORY_LOCK_KEY)


@lru_cache(maxsize=64)
def _candidates_statement(key_count: int, *, excluding: bool, window_converted: bool) -> TextualSelect:
    """The candidate query for `key_count` keys, written once per count: building it with select() and
    union() on every call cost more than running it (~3 ms of Python for 24 keys). `window_converted`: the
    window's bounds are given as the driver takes them (see `_driver_window`) and sent as they are."""
    # each key's newest PER_KEY articles, through the (key, listed_at) index: a common keyword ("美国") costs
    # no more than a rare one, whatever the number of articles
    per_key = " UNION ".join(
        "SELECT article_id FROM (SELECT article_id FROM story_keys "
        f"WHERE key = :k{i} AND listed_at >= :since AND listed_at <= :until "
        f"ORDER BY listed_at DESC LIMIT {PER_KEY}) AS k{i}"
        for i in range(key_count)
    )
    sql = (
        "SELECT id, story_id, listed_at, story_fingerprint, origin FROM articles "
        f"WHERE id IN ({per_key}) AND story_id IS NOT NULL"
        + (" AND id != :exclude" if excluding else "")
        + f" ORDER BY listed_at DESC, id DESC LIMIT {MAX_CANDIDATES}"
    )
    params: list[BindParameter[Any]] = [bindparam(f"k{i}", type_=String()) for i in range(key_count)]
    window_type = String() if window_converted else UTCDateTime()
    params += [bindparam("since", type_=window_type), bindparam("until", type_=window_type)]
    if excluding:
        params.append(bindparam("exclude", type_=Integer()))
    return (
        text(sql)
        .bindparams(*params)
        .columns(
            column("id", Integer),
            column("story_id", Integer),
            column("listed_at", UTCDateTime),
            column("story_fingerprint", Text),
            column("origin", String),
        )
    )


def _driver_window(dialect: Dialect, since: datetime, until: datetime) -> tuple[object, object] | None:
    """The window's bounds as SQLAlchemy would send them to SQLite (UTC text), converted once; None elsewhere.

    SQLite's parameters are positional: `:since` and `:until`, written once per key, are sent once per key,
    and SQLAlchemy converts each copy through UTCDateTime and SQLite's DateTime, 48 conversions for 24 keys,
    a quarter of the lookup's time on the corpus. Converted here once, the same values go as they are: the
    same SQL and the same parameters, so the same rows and plans. PostgreSQL (asyncpg) numbers its
    parameters and sends each once, as the datetime it takes."""
    if dialect.name != "sqlite":
        return None
    convert = _WINDOW_TYPE.dialect_impl(dialect).bind_processor(dialect)  # what SQLAlchemy applies
    return (convert(since), convert(until)) if convert else (since, until)


async def story_candidates(
    session: AsyncSession, keys: Sequence[str], *, listed_at: datetime, exclude: int | None = None
) -> list[StoryCandidate]:
    """The articles listed within STORY_WINDOW of `listed_at` that share one of `keys`, newest first."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return []
    values: dict[str, object] = {f"k{i}": key for i, key in enumerate(unique)}
    since, until = listed_at - STORY_WINDOW, listed_at + STORY_WINDOW
    converted = _driver_window(session.bind.dialect, since, until)
    values["since"], values["until"] = converted or (since, until)
    if exclude is not None:
        values["exclude"] = exclude
    statement = _candidates_statement(
        len(unique), excluding=exclude is not None, window_converted=converted is not None
    )
    rows = await session.execute(statement, values)
    return [
        StoryCandidate(article_id, story_id, listed, fingerprint, origin)
        for article_id, story_id, listed, fingerprint, origin in rows.tuples()
    ]


async def add_many_story_keys(
    session: AsyncSession, articles: Sequence[tuple[int, Sequence[str], datetime]]
) -> None:
    """The lookup keys of many new articles ((id, keys, listed_at) each) in one executemany."""
    rows = [
        {"key": key, "article_id": article_id, "listed_at": listed_at}
        for article_id, keys, listed_at in articles
        for key in dict.fromkeys(keys)
    ]
    if rows:
        await session.execute(insert(StoryKey), rows)


async def story_leads(session: AsyncSession, story_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """Each stored story's lead: story id -> (the lead's id, its text length in characters)."""
    if not story_ids:
        return {}
    rows = await session.execute(
        select(Article.story_id, Article.id, func.length(Article.text))
        .where(Article.story_id.in_(sorted(story_ids)), Article.is_story_lead.is_(True))
        .order_by(Article.id)
    )
    leads: dict[int, tuple[int, int]] = {}
    for story_id, lead_id, chars in rows.tuples():
        if story_id is not None:
            leads.setdefault(story_id, (lead_id, chars or 0))
    return leads


async def demote_leads(session: AsyncSession, article_ids: Collection[int]) -> None:
    """Stored articles stop being their stories' leads (fuller reports joined)."""
    if article_ids:
        await session.execute(
            update(Article).where(Article.id.in_(sorted(article_ids))).values(is_story_lead=False)
        )


async def write_story_links(session: AsyncSession, articles: Sequence[Article]) -> None:
    """Store the story links (story_id, is_story_lead) set on `articles`, in one executemany.

    A flush would send an UPDATE per article wherever neighbours changed different columns (one starts a
    story, the next joins one as a member); the objects are marked as stored, so it sends none."""
    if not articles:
        return
    links = [{"id": a.id, "story_id": a.story_id, "is_story_lead": a.is_story_lead} for a in articles]
    for article in articles:
        set_committed_value(article, "story_id", article.story_id)
        set_committed_value(article, "is_story_lead", article.is_story_lead)
    await session.execute(update(Article), links)


async def add_copy(session: AsyncSession, copy: StoryCopy) -> bool:
    """Record an exact copy of a stored article carried by another publisher; False when it is known."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(StoryCopy)
        .values(
            article_id=copy.article_id,
            source_id=copy.source_id,
            publisher=copy.publisher,
            title=copy.title,
            link=copy.link,
            published_at=copy.published_at,
            ingested_at=copy.ingested_at,
        )
        .on_conflict_do_nothing(index_elements=["article_id", "publisher", "title"])
        .returning(StoryCopy.id)
    )
    return (await session.scalar(statement)) is not None


async def add_story_publishers(session: AsyncSession, pairs: Collection[tuple[int, str]]) -> None:
    """Record that these (story id, publisher) pairs carry their stories; a known pair adds nothing."""
    if not pairs:
        return
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    # in one order, so that two transactions adding the same pairs wait for each other rather than deadlock
    rows = [{"story_id": story_id, "publisher": publisher} for story_id, publisher in sorted(set(pairs))]
    await session.execute(insert(StoryPublisher).on_conflict_do_nothing(), rows)
