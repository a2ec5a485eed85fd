"""Queries. Each repository takes a session owned by the caller; none opens, commits or closes one.

Reads return read models (`readmodels`), never ORM objects, to anything outside `db/` and the services' own
transactions: `feed_view` and `subscriber_view` are the one place a row becomes a read model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import insert as insert_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.sqltypes import NullType

from db.models import (
    Article,
    ArticleTag,
    ArticleTerms,
    Delivery,
    OutboxMessage,
    Source,
    StoryCopy,
    StoryPublisher,
    Subscriber,
    Subscription,
    Summary,
    Tag,
    TagDayCount,
)
from readmodels import (
    AlsoCarried,
    ArticleView,
    BotStats,
    DigestCandidate,
    FeedView,
    ReaderFilter,
    SubscriberView,
    TagCount,
    without_credentials,
)


def tag_key(name: str) -> str:
    """The lookup key of a tag: case-folded, without a leading '#'."""
    return name.strip().lstrip("#").casefold()


def feed_view(source: Source) -> FeedView:
    return FeedView(
        id=source.id,
        name=without_credentials(source.name),  # the URL until the first fetch names the feed
        url=without_credentials(source.url),
        site_url=source.site_url,
        category=source.category,
        active=source.active,
        last_fetch_at=source.last_fetch_at,
        last_success_at=source.last_success_at,
        last_status=source.last_status,
        last_error=without_credentials(source.last_error) if source.last_error else None,
        error_streak=source.error_streak,
    )


def subscriber_view(subscriber: Subscriber) -> SubscriberView:
    return SubscriberView(
        id=subscriber.id,
        chat_id=subscriber.chat_id,
        kind=subscriber.kind,
        title=subscriber.title,
        language=subscriber.language,
        telegram_language=subscriber.telegram_language,
        timezone=subscriber.timezone,
        digest_time=subscriber.digest_time,
        digest_size=subscriber.digest_size,
        wants_digest=subscriber.wants_digest,
        active=subscriber.active,
        last_digest_at=subscriber.last_digest_at,
        article_languages=tuple(filter(None, (subscriber.article_languages or "").split(","))),
        silent=subscriber.silent,
        link_previews=subscriber.link_previews,
        paused_until=subscriber.paused_until,
        settings_changed_at=subscriber.settings_changed_at,
        schedule_changed_at=subscriber.schedule_changed_at,
        summary_language=subscriber.summary_language,
    )


class ArticleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def stored_matches(
        self,
        *,
        links: Sequence[str],
        content_hashes: Sequence[str],
        guids: Sequence[str],
        source_id: int | None,
    ) -> list[StoredMatch]:
        """The stored articles that share a link, a normalized-text hash or (in the same feed) a guid with any
        of a batch's new ones: one query for the batch."""
        conditions: list[ColumnElement[bool]] = [Article.content_hash.in_(list(content_hashes))]
        if links:
            conditions.append(Article.link.in_(list(links)))
        if guids and source_id is not None:
            conditions.append((Article.source_id == source_id) & Article.guid.in_(list(guids)))
        rows = await self._session.execute(
            select(Article.id, Article.content_hash, Article.link, Article.source_id, Article.guid).where(
                or_(*conditions)
            )
        )
        return [StoredMatch(*row) for row in rows.tuples()]

    async def add_all(self, rows: Sequence[dict[str, object]]) -> dict[str, Article]:
        """Insert new articles (their columns' values) in the caller's transaction, in one statement: the
        stored articles, by text hash, in the session. Their summaries, tags and search terms follow with
        `add_extras`."""
        if not rows:
            return {}
        # every row with the same columns (None as NULL) is one INSERT for the batch; RETURNING gives back
        # the stored objects, in no particular order
        stored = await self._session.scalars(
            insert_rows(Article).returning(Article), list(rows), execution_options={"render_nulls": True}
        )
        return {article.content_hash: article for article in stored}

    async def add_extras(self, added: Sequence[NewArticleExtras], *, tagger: str) -> None:
        """The current summary, ranked tags and search terms of newly added articles, written together: a
        batch costs a few statements here rather than a few per article."""
        if not added:
            return
        summaries = []
        for extras in added:
            extras.summary.article_id = extras.article.id
            summaries.append({c.key: getattr(extras.summary, c.key) for c in _SUMMARY_COLUMNS})
        # one executemany each, not an ORM insert per row (the ORM would fetch back every new id)
        await self._session.execute(insert_rows(Summary), summaries)
        await self._session.execute(
            insert_rows(ArticleTerms), [{"article_id": e.article.id, "terms": e.terms} for e in added]
        )
        await TagRepo(self._session).tag_new_articles(added, tagger=tagger)
        await self._session.flush()

    async def count(self) -> int:
        return await self._session.scalar(select(func.count(Article.id))) or 0


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """A stored article that may be the same as a new one: what `stored_matches` compares by."""

    id: int
    content_hash: str
    link: str | None
    source_id: int | None
    guid: str | None  # a feed's id of the entry: the same only within one feed


@dataclass(frozen=True, slots=True)
class NewArticleExtras:
    """What is stored with a new article besides its row: its current summary, ranked tags, search terms."""

    article: Article  # flushed: it has its id
    summary: Summary
    tags: Sequence[str]
    terms: str


_SUMMARY_COLUMNS = [c for c in Summary.__table__.columns if not c.primary_key]


def _tag_keys(names: Sequence[str]) -> dict[str, str]:
    """Each distinct tag key among `names`, in order, with the name it is first shown by."""
    wanted: dict[str, str] = {}
    for name in names:
        key = tag_key(name)
        if key and key not in wanted:
            wanted[key] = name.strip().lstrip("#")
    return wanted


class TagRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ensure(self, names: Sequence[str]) -> list[int]:
        """Ids of these tags in the given order, creating the missing ones (safe against
        concurrent writers)."""
        wanted = _tag_keys(names)
        ids = await self._ids(wanted)
        return [ids[key] for key in wanted]

    async def _ids(self, wanted: dict[str, str]) -> dict[str, int]:
        if not wanted:
            return {}
        dialect = self._session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # in key order: two writers creating the same tags take their locks in the same order
        await self._session.execute(
            insert(Tag)
            .values([{"name": wanted[key], "key": key} for key in sorted(wanted)])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = await self._session.execute(select(Tag.key, Tag.id).where(Tag.key.in_(wanted)))
        return {key: tag_id for key, tag_id in rows.tuples()}

    async def tag_new_articles(self, added: Sequence[NewArticleExtras], *, tagger: str) -> None:
        """The ranked tags of newly added articles (none had tags before), with the day counts they add:
        one tag lookup and one count update for all of them."""
        ids = await self._ids(_tag_keys([name for extras in added for name in extras.tags]))
        rows: list[dict[str, object]] = []
        counts: dict[tuple[date, int], int] = {}
        for extras in added:
            article = extras.article
            day = article.listed_at.astimezone(UTC).date()
            ranked = [ids[key] for key in _tag_keys(extras.tags)]
            for rank, tag_id in enumerate(ranked):
                rows.append(
                    {
                        "article_id": article.id,
                        "tag_id": tag_id,
                        "rank": rank,
                        "source": tagger,
                        "listed_at": article.listed_at,
                    }
                )
                counts[(day, tag_id)] = counts.get((day, tag_id), 0) + 1
        if rows:
            await self._session.execute(insert_rows(ArticleTag), rows)
        await self._add_counts(counts)

    async def set_article_tags(
        self,
        article_id: int,
        listed_at: datetime,
        names: Sequence[str],
        *,
        tagger: str,
    ) -> None:
        """Make `names` (strongest first) the article's tags, keeping the per-day tag counts in step."""
        day = listed_at.astimezone(UTC).date()
        old = list(
            await self._session.scalars(select(ArticleTag.tag_id).where(ArticleTag.article_id == article_id))
        )
        if old:
            await self._session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
            await self._count(old, day, -1)
        new = await self.ensure(names)
        self._session.add_all(
            ArticleTag(article_id=article_id, tag_id=tag_id, rank=rank, source=tagger, listed_at=listed_at)
            for rank, tag_id in enumerate(new)
        )
        await self._count(new, day, +1)

    async def _count(self, tag_ids: Sequence[int], day: date, delta: int) -> None:
        await self._add_counts({(day, tag_id): delta for tag_id in tag_ids})

    async def _add_counts(self, counts: dict[tuple[date, int], int]) -> None:
        """Add to the per-day tag counts, in (day, tag) order (two writers lock rows in the same order)."""
        if not counts:
            return
        dialect = self._session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(TagDayCount).values(
            [{"tag_id": tag_id, "day": day, "count": n} for (day, tag_id), n in sorted(counts.items())]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["day", "tag_id"], set_={"count": TagDayCount.count + statement.excluded.count}
            )
        )


class SourceRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_url(self, url: str) -> Source | None:
        found: Source | None = await self._session.scalar(select(Source).where(Source.url == url))
        return found

    async def by_id(self, source_id: int) -> Source | None:
        return await self._session.get(Source, source_id)

    async def feeds(self, *, active_only: bool = False) -> list[Source]:
        query = select(Source).where(Source.kind == "feed").order_by(Source.id)
        if active_only:
            query = query.where(Source.active.is_(True))
        return list(await self._session.scalars(query))

    async def delete(self, source: Source) -> None:
        await self._session.execute(delete(Source).where(Source.id == source.id))


_VIEW_COLUMNS = (
    Article.id,
    Article.title,
    Article.link,
    Article.publisher,
    Article.published_at,
    Article.listed_at,
    Article.image_url,
    func.length(Article.text),
    Article.story_id,
    Article.language,
)


async def latest_articles(
    session: AsyncSession,
    *,
    limit: int = 10,
    offset: int = 0,
    tag: str | None = None,
    publisher: str | None = None,
    reader: ReaderFilter | None = None,
) -> list[ArticleView]:
    """The newest stories, newest first: each its lead article with its current summary and tags and the
    story's other reports (four queries in all); only the languages and publishers `reader` keeps.

    With a tag, the walk goes down that tag's (listed_at, article_id) index instead of the articles'.
    """
    if tag:
        # the tag's id first: with a constant tag_id both planners walk (tag_id, listed_at) backwards to LIMIT
        tag_id = await session.scalar(select(Tag.id).where(Tag.key == tag_key(tag)))
        if tag_id is None:
            return []
        query = (
            select(Article.id, Article.listed_at)
            .select_from(ArticleTag)
            .join(Article, Article.id == ArticleTag.article_id)
            .where(ArticleTag.tag_id == tag_id)
            .order_by(ArticleTag.listed_at.desc(), ArticleTag.article_id.desc())
        )
    else:
        query = select(Article.id, Article.listed_at).order_by(Article.listed_at.desc(), Article.id.desc())
    if publisher:
        # one publisher's own reports, whichever report of its story is listed elsewhere
        query = query.where(Article.publisher == publisher.strip())
    else:
        query = query.where(Article.is_story_lead.is_(True))
    rows = (await session.execute(_page_rows(_kept_by(query, reader).limit(limit).offset(offset)))).all()
    return await _views(session, rows, summary_language=reader.summary_language if reader else None)


def _page_rows(page_query: Select[Any]) -> Select[Any]:
    """The view's columns of the page `page_query` chose (article id and listed_at, ordered and cut): the walk
    to the page reads narrow rows, and the text's length (a decompression on PostgreSQL when the text is long)
    is taken of the page's rows only, not of every row an offset or a sort passes over."""
    page = page_query.subquery("page")
    return (
        select(*_VIEW_COLUMNS)
        .join(page, page.c.id == Article.id)
        .order_by(page.c.listed_at.desc(), page.c.id.desc())
    )


def _kept_by(query: Select[Any], reader: ReaderFilter | None) -> Select[Any]:
    """`query` without the languages and publishers `reader` leaves out (muted words are matched later)."""
    if reader is None:
        return query
    if reader.languages:
        query = query.where(Article.language.in_(list(reader.languages)))
    if reader.publishers:
        query = query.where(Article.publisher.in_(list(reader.publishers)))
    if reader.dropped:
        query = query.where(Article.publisher.not_in(list(reader.dropped)))
    return query


# the columns of _VIEW_COLUMNS, in order
_ViewRow = tuple[
    int, str, str | None, str, datetime | None, datetime, str | None, int | None, int | None, str
]


def _among(
    session: AsyncSession,
    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    ids: Sequence[int],
) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter (an array; a JSON list on SQLite): a list of 1,000 ids
    written out as 1,000 parameters cost ~4 ms of Python per statement on SQLite and ~15 ms with
    PostgreSQL's casts, and each length was another prepared statement."""
    if session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    values: Select[Any] = select(literal_column("value")).select_from(func.json_each(json.dumps(list(ids))))
    return column.in_(values.scalar_subquery())


async def _views(
    session: AsyncSession, rows: Sequence[Any], *, summary_language: str | None = None
) -> list[ArticleView]:
    """The rows as views, each with its current summary: in `summary_language` where the LLM made one, else
    as written."""
    ids: list[int] = [row[0] for row in rows]
    if not ids:
        return []
    languages: list[ColumnElement[bool]] = [Summary.language.is_(None)]
    if summary_language is not None:
        languages.append(Summary.language == summary_language)
    summaries: dict[int, tuple[str, str]] = {}
    found = await session.execute(
        select(Summary.article_id, Summary.text, Summary.method, Summary.language).where(
            _among(session, Summary.article_id, ids), Summary.is_current.is_(True), or_(*languages)
        )
    )
    for article_id, summary, method, language in found.tuples():
        if language is not None or article_id not in summaries:  # the reader's language wins
            summaries[article_id] = (summary, method)
    tags: dict[int, list[str]] = {article_id: [] for article_id in ids}
    # each name looked up by its id: as a join, PostgreSQL hashed the whole `tags` table (100,000 rows,
    # ~17 ms) for a digest's 4,000 tags, where 4,000 index probes take ~4 ms
    tag_name = select(Tag.name).where(Tag.id == ArticleTag.tag_id).scalar_subquery()
    tag_rows = await session.execute(
        select(ArticleTag.article_id, tag_name)
        .where(_among(session, ArticleTag.article_id, ids))
        .order_by(ArticleTag.article_id, ArticleTag.rank)
    )
    for article_id, name in tag_rows.tuples():
        tags[article_id].append(name)
    also = await _also_carried(session, {row[8]: row[0] for row in rows if row[8] is not None})
    views = []
    for row in rows:
        values: _ViewRow = tuple(row)
        article_id, title, link, publisher, published_at, listed_at, image_url, chars, story_id, lang = values
        summary_text, method = summaries.get(article_id, (title, "title"))
        views.append(
            ArticleView(
                id=article_id,
                title=title,
                link=link,
                publisher=publisher,
                published_at=published_at,
                listed_at=listed_at,
                summary=summary_text,
                summary_method=method,
                tags=tags[article_id],
                image_url=image_url,
                chars=chars or 0,
                also=tuple(also.get(story_id, ())) if story_id is not None else (),
                language=lang,
            )
        )
    return views


async def _also_carried(session: AsyncSession, leads: dict[int, int]) -> dict[int, list[AlsoCarried]]:
    """The other reports of each story ({story id: lead id}): its other articles and every exact copy,
    earliest first (of equal times, articles before copies)."""
    if not leads:
        return {}
    lead_ids = list(leads.values())
    story_of = {lead: story for story, lead in leads.items()}
    found: dict[int, list[tuple[datetime, int, AlsoCarried]]] = {story: [] for story in leads}
    oldest = datetime.min.replace(tzinfo=UTC)
    members = await session.execute(
        select(
            Article.story_id, Article.id, Article.title, Article.link, Article.publisher, Article.published_at
        ).where(_among(session, Article.story_id, list(leads)), ~_among(session, Article.id, lead_ids))
    )
    for story_id, article_id, title, link, publisher, published_at in members.tuples():
        if story_id is None:  # never: it is one of `leads`
            continue
        story_of[article_id] = story_id
        found[story_id].append((published_at or oldest, 0, AlsoCarried(title, link, publisher, published_at)))
    # the copies of every member by its id (an index probe each): joined to the stories, PostgreSQL scanned
    # the whole `story_copies` table, which grows with the archive
    copies = await session.execute(
        select(
            StoryCopy.article_id, StoryCopy.title, StoryCopy.link, StoryCopy.publisher, StoryCopy.published_at
        ).where(_among(session, StoryCopy.article_id, list(story_of)))
    )
    for article_id, title, link, publisher, published_at in copies.tuples():
        carried = AlsoCarried(title, link, publisher, published_at)
        found[story_of[article_id]].append((published_at or oldest, 1, carried))
    # most stories have no other report: nothing to sort
    for items in found.values():
        if len(items) > 1:
            items.sort(key=lambda entry: entry[:2])
    return {story: [item for _, _, item in items] for story, items in found.items()}


async def top_tags(session: AsyncSession, *, since: datetime, limit: int = 20) -> list[TagCount]:
    """The most used tags on articles listed since `since` (by UTC day), most used first."""
    total = func.sum(TagDayCount.count).label("n")
    counts = (
        select(TagDayCount.tag_id, total)
        .where(TagDayCount.day >= since.astimezone(UTC).date())
        .group_by(TagDayCount.tag_id)
        .having(total > 0)
        .order_by(total.desc(), TagDayCount.tag_id)
        .limit(limit)
        .subquery()
    )
    rows = await session.execute(
        select(Tag.name, counts.c.n)
        .join(counts, counts.c.tag_id == Tag.id)
        .order_by(counts.c.n.desc(), Tag.name)
    )
    return [TagCount(name, int(n)) for name, n in rows.tuples()]


async def publisher_counts(session: AsyncSession, *, since: datetime, limit: int) -> list[TagCount]:
    """The publishers of the articles listed since `since`, with how many each, most first."""
    count = func.count().label("n")
    rows = await session.execute(
        select(Article.publisher, count)
        .where(Article.listed_at >= since)
        .group_by(Article.publisher)
        .order_by(count.desc(), Article.publisher)
        .limit(limit)
    )
    return [TagCount(name, int(n)) for name, n in rows.tuples() if name]


# a search ranks at most this many of the most recently stored matches by time, so a common word costs no more
# than a rare one; older matches are still reachable through a narrower search. 500 is a hundred pages of
# /search (five a page); on PostgreSQL a common word's cost grows with it (1,000: ~25% slower at 1M articles)
SEARCH_WINDOW = 500


def _fts5_query(words: Sequence[Sequence[str]]) -> str:
    """Each word a quoted phrase of its tokens, all required: no user text is FTS5 syntax."""
    phrases = []
    for tokens in words:
        quoted = " ".join('"' + token.replace('"', '""') + '"' for token in tokens)
        phrases.append(f"({quoted})")
    return " AND ".join(phrases)


async def search_articles(
    session: AsyncSession,
    words: Sequence[Sequence[str]],
    *,
    limit: int = 10,
    offset: int = 0,
    reader: ReaderFilter | None = None,
) -> list[ArticleView]:
    """Articles whose search terms (title, summary and tags, as tokens) contain every word, newest first;
    only the languages and publishers `reader` keeps.

    `words` are the query's words, each as its tokens (the caller tokenizes the way the terms were made).
    """
    words = [[t for t in tokens if t.strip()] for tokens in words]
    words = [tokens for tokens in words if tokens]
    if not words:
        return []
    # the matches stay in the database as a subquery: binding up to SEARCH_WINDOW ids cost ~6 ms of Python
    matches = _sqlite_matches(words) if session.bind.dialect.name == "sqlite" else _postgres_matches(words)
    # a match stands for its story: the story's lead is what is listed, once
    matched = aliased(Article)
    stories = select(matched.story_id).where(matched.id.in_(matches.scalar_subquery()))
    query = select(Article.id, Article.listed_at).where(Article.story_id.in_(stories.scalar_subquery()))
    query = _kept_by(query.where(Article.is_story_lead.is_(True)), reader)
    page = query.order_by(Article.listed_at.desc(), Article.id.desc()).limit(limit).offset(offset)
    rows = (await session.execute(_page_rows(page))).all()
    return await _views(session, rows, summary_language=reader.summary_language if reader else None)


def _sqlite_matches(words: Sequence[Sequence[str]]) -> Select[Any]:
    """The newest SEARCH_WINDOW matches by the FTS5 index (its rowid is the article's id)."""
    rowid: ColumnElement[int] = literal_column("article_terms_fts.rowid")
    return (
        select(rowid)
        .select_from(text("article_terms_fts"))
        .where(text("article_terms_fts MATCH :query").bindparams(query=_fts5_query(words)))
        .order_by(rowid.desc())
        .limit(SEARCH_WINDOW)
    )


def _postgres_matches(words: Sequence[Sequence[str]]) -> Select[Any]:
    """The newest SEARCH_WINDOW matches of the stored tsvector: for rare words the planner reads its GIN
    index, for common ones it walks the ids backwards checking each row until it has enough."""
    query: ColumnElement[Any] = func.plainto_tsquery("simple", " ".join(words[0]))
    for tokens in words[1:]:
        query = query.op("&&")(func.plainto_tsquery("simple", " ".join(tokens)))
    # a stored column with its GIN index (migration 0010), not to_tsvector computed per row
    vector: ColumnElement[Any] = literal_column("article_terms.terms_vector")
    return (
        select(ArticleTerms.article_id)
        .where(vector.op("@@")(query))
        .order_by(ArticleTerms.article_id.desc())
        .limit(SEARCH_WINDOW)
    )


async def set_terms(session: AsyncSession, article_id: int, terms: str) -> None:
    """Replace an article's search terms (after its summary or tags changed)."""
    await session.execute(
        update(ArticleTerms).where(ArticleTerms.article_id == article_id).values(terms=terms)
    )


async def translated_summaries(
    session: AsyncSession, article_ids: Sequence[int], language: str
) -> dict[int, str]:
    """The current summaries in `language` the LLM made of these articles (for a reader who asked for it)."""
    if not article_ids:
        return {}
    rows = await session.execute(
        select(Summary.article_id, Summary.text).where(
            _among(session, Summary.article_id, article_ids),
            Summary.language == language,
            Summary.is_current.is_(True),
        )
    )
    return dict(rows.tuples().all())


async def digest_candidates_since(
    session: AsyncSession, since: datetime, *, limit: int = 500
) -> list[DigestCandidate]:
    """The stories that began after `since` (their leads), newest first: the candidates of a digest. By
    when the story began, so that a story that grew after a digest carried it is not a candidate again."""
    statement = _candidates_since_statement(session.bind.dialect.name)
    rows = await session.execute(statement, {"since": since, "limit": limit})
    return [_candidate(row) for row in rows.tuples()]


async def digest_candidates(session: AsyncSession, ids: Sequence[int]) -> list[DigestCandidate]:
    """What choosing a digest needs of these articles, in the order of `ids`."""
    if not ids:
        return []
    statement = _candidate_select(session.bind.dialect.name).where(_among(session, Article.id, ids))
    rows = await session.execute(statement)
    found = {candidate.id: candidate for candidate in map(_candidate, rows.tuples())}
    return [found[article_id] for article_id in ids if article_id in found]


# What choosing a digest reads of each candidate, in one query: no link, image or other reports, only how
# many publishers carry its story (a day's candidates are hundreds; their full views cost ~50 µs each, more
# than twice this). The parts are built once: building them for every read was a third of its Python.
_OWN_SUMMARY = aliased(Summary, name="own_summary")
_TAG_NAME = select(Tag.name).where(Tag.id == ArticleTag.tag_id).scalar_subquery()
_TAG_NAMES = {
    # strongest first; SQLite's json_group_array has no ORDER BY before 3.44: [rank, name] pairs, sorted by
    # `_tag_list`
    # asyncpg gives the array as a list of str already: no ARRAY type, whose result processor walks each list
    "postgresql": select(
        func.array_agg(postgresql.aggregate_order_by(Tag.name, ArticleTag.rank), type_=NullType())
    )
    .select_from(ArticleTag)
    .join(Tag, Tag.id == ArticleTag.tag_id)
    .where(ArticleTag.article_id == Article.id)
    .correlate(Article)
    .scalar_subquery(),
    "sqlite": select(func.json_group_array(func.json_array(ArticleTag.rank, _TAG_NAME)))
    .where(ArticleTag.article_id == Article.id)
    .scalar_subquery(),
}
# its articles' and their exact copies' publishers, kept as the story grows (none for an article in no story:
# counted as one)
_PUBLISHER_COUNT = (
    select(func.count())
    .select_from(StoryPublisher)
    .where(StoryPublisher.story_id == Article.story_id)
    .correlate(Article)
    .scalar_subquery()
)
_CANDIDATE_COLUMNS = (
    Article.id,
    Article.title,
    Article.publisher,
    Article.language,
    _OWN_SUMMARY.text,
    _OWN_SUMMARY.method,
    _PUBLISHER_COUNT,
)
_OWN_SUMMARY_OF_ARTICLE = and_(
    _OWN_SUMMARY.article_id == Article.id, _OWN_SUMMARY.is_current.is_(True), _OWN_SUMMARY.language.is_(None)
)


def _candidate_select(dialect: str) -> Select[Any]:
    return select(*_CANDIDATE_COLUMNS, _TAG_NAMES[dialect]).outerjoin(_OWN_SUMMARY, _OWN_SUMMARY_OF_ARTICLE)


@lru_cache(maxsize=4)
def _candidates_since_statement(dialect: str) -> Select[Any]:
    """`digest_candidates_since`'s statement with `since` and `limit` bound at execution, built once: building
    it (its subquery's columns, then its cache key) was a tenth of the read on PostgreSQL."""
    first = aliased(Article)
    chosen = (
        select(Article.id, Article.listed_at)
        .join(first, first.id == Article.story_id)
        # the stories' leads are read from ix_articles_story_leads alone (its predicate is this IS TRUE)
        .where(Article.is_story_lead.is_(True), first.listed_at > bindparam("since"))
        .order_by(Article.listed_at.desc(), Article.id.desc())
        .limit(bindparam("limit", type_=Integer()))
        .subquery("chosen")
    )
    return (
        _candidate_select(dialect)
        .join(chosen, chosen.c.id == Article.id)
        .order_by(chosen.c.listed_at.desc(), chosen.c.id.desc())
    )


def _candidate(row: tuple[Any, ...]) -> DigestCandidate:
    article_id, title, publisher, language, summary, method, publishers, tags = row
    return DigestCandidate(
        id=article_id,
        title=title,
        summary=title if summary is None else summary,
        summary_method="title" if method is None else method,
        tags=_tag_list(tags),
        publisher=publisher,
        language=language,
        publishers=publishers or 1,
    )


def _tag_list(value: str | list[str] | None) -> list[str]:
    """`_TAG_NAMES`'s value as a list of names, strongest first."""
    if value is None:
        return []
    if isinstance(value, list):  # PostgreSQL's array
        return value
    return [name for _, name in sorted(json.loads(value))]  # SQLite's [rank, name] pairs


async def article_views(session: AsyncSession, ids: Sequence[int]) -> dict[int, ArticleView]:
    """The full views of these articles, by id, with their summaries as written (an article deleted
    meanwhile is not in it)."""
    if not ids:
        return {}
    rows = (await session.execute(select(*_VIEW_COLUMNS).where(_among(session, Article.id, ids)))).all()
    return {view.id: view for view in await _views(session, rows)}


@dataclass(frozen=True, slots=True)
class StoryStart:
    """A story's first report: when newsbot stored it, and the date it carries."""

    stored_at: datetime
    listed_at: datetime


async def stories_stored_between(
    session: AsyncSession, after: datetime, until: datetime, *, dated_after: datetime, limit: int = 500
) -> list[tuple[DigestCandidate, StoryStart]]:
    """The stories whose first report was stored in (after, until] and is dated after `dated_after`: their
    leads, newest first, with that first report's times. The candidates of daily digests.

    By when newsbot stored the story, not by its date: a report dated 07:55 and fetched at 08:05 is news
    to the 08:00 digest's readers (by date, it was in no digest). By the story's first report: a story that
    grew after a digest carried it is not a candidate again. And dated not long before: an archive imported
    today is not today's news."""
    found = await StoredStories.between(session, after, until, dated_after=dated_after, limit=limit)
    return await found.candidates(session)


# the daily digest's candidates are read this many at a time (StoredStories.candidates)
CANDIDATES_PER_READ = 250


@lru_cache(maxsize=1)
def _stories_between_statement() -> Select[tuple[int, datetime, datetime]]:
    """`StoredStories.between`'s statement, its bounds bound at execution, built once."""
    first = aliased(Article)
    return (
        select(Article.id, first.ingested_at, first.listed_at)
        .join(first, first.id == Article.story_id)
        .where(
            Article.is_story_lead.is_(True),  # read from ix_articles_story_leads alone on PostgreSQL
            first.ingested_at > bindparam("after"),
            first.ingested_at <= bindparam("until"),
            first.listed_at > bindparam("dated_after"),
        )
        .order_by(Article.listed_at.desc(), Article.id.desc())
        .limit(bindparam("limit", type_=Integer()))
    )


@dataclass(frozen=True, slots=True)
class StoredStories:
    """`stories_stored_between` in two steps: which stories (`between`, one query on narrow rows: what a
    caller holding a lock needs), then what choosing among them needs (`candidates`, after the lock is let
    go)."""

    starts: dict[int, StoryStart]  # {lead id: its story's first report}, newest lead first

    def __len__(self) -> int:
        return len(self.starts)

    @classmethod
    async def between(
        cls, session: AsyncSession, after: datetime, until: datetime, *, dated_after: datetime, limit: int
    ) -> StoredStories:
        values = {"after": after, "until": until, "dated_after": dated_after, "limit": limit}
        rows = (await session.execute(_stories_between_statement(), values)).tuples()
        return cls({lead: StoryStart(stored_at, listed_at) for lead, stored_at, listed_at in rows})

    async def candidates(
        self, session: AsyncSession, *, per_read: int = CANDIDATES_PER_READ
    ) -> list[tuple[DigestCandidate, StoryStart]]:
        """What choosing needs of these stories, newest first, read `per_read` at a time: each read stays
        short (~7 ms for 250 at a million articles; 1,000 in one read took ~22 ms, the event loop's for a
        third of it)."""
        ids = list(self.starts)
        found: list[DigestCandidate] = []
        for start in range(0, len(ids), per_read):
            found += await digest_candidates(session, ids[start : start + per_read])
        return [(candidate, self.starts[candidate.id]) for candidate in found]


class SubscriberRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_chat(self, chat_id: int, *, lock: bool = False) -> Subscriber | None:
        """The chat's record; `lock`: held until the transaction ends (PostgreSQL; SQLite has one writer)."""
        query = select(Subscriber).where(Subscriber.chat_id == chat_id)
        found: Subscriber | None = await self._session.scalar(query.with_for_update() if lock else query)
        return found

    async def digest_candidates(self) -> list[Subscriber]:
        """Active chats that want the daily digest; whose local time has come is decided by the caller."""
        query = select(Subscriber).where(Subscriber.active.is_(True), Subscriber.wants_digest.is_(True))
        return list(await self._session.scalars(query.order_by(Subscriber.id)))

    async def subscriptions(self, subscriber_ids: Sequence[int]) -> dict[int, list[Subscription]]:
        found: dict[int, list[Subscription]] = {sid: [] for sid in subscriber_ids}
        if not subscriber_ids:
            return found
        rows = await self._session.scalars(
            select(Subscription)
            .where(Subscription.subscriber_id.in_(subscriber_ids))
            .order_by(Subscription.subscriber_id, Subscription.id)
        )
        for row in rows:
            found[row.subscriber_id].append(row)
        return found

    async def all_values(self, subscriber_id: int) -> dict[str, list[str]]:
        """Every value the chat follows or mutes, by kind, oldest first (one query)."""
        rows = await self._session.execute(
            select(Subscription.kind, Subscription.value)
            .where(Subscription.subscriber_id == subscriber_id)
            .order_by(Subscription.id)
        )
        found: dict[str, list[str]] = {}
        for kind, value in rows.tuples():
            found.setdefault(kind, []).append(value)
        return found

    async def values(self, subscriber_id: int, kind: str) -> list[str]:
        rows = await self._session.scalars(
            select(Subscription.value)
            .where(Subscription.subscriber_id == subscriber_id, Subscription.kind == kind)
            .order_by(Subscription.id)
        )
        return list(rows)

    async def release_digest_dates(self, subscriber_id: int, *, since: date) -> None:
        """The chat's digests dated `since` or later keep no date (their rows stay, as history): the key
        (subscriber, kind, date) is free for the digests of those days in a new time zone."""
        await self._session.execute(
            update(Delivery)
            .where(
                Delivery.subscriber_id == subscriber_id,
                Delivery.kind == "digest",
                Delivery.digest_date >= since,
            )
            .values(digest_date=None)
            .execution_options(synchronize_session=False)
        )

    async def add_values(
        self, subscriber: Subscriber, kind: str, values: Sequence[str], *, now: datetime
    ) -> None:
        existing = {v.casefold() for v in await self.values(subscriber.id, kind)}
        rows = []
        for value in values:
            if value.casefold() not in existing:
                existing.add(value.casefold())
                rows.append({"subscriber_id": subscriber.id, "kind": kind, "value": value, "created_at": now})
        if rows:
            # the same button pressed twice at once: both read no row, the second insert finds the first's
            insert = postgresql.insert if self._session.bind.dialect.name == "postgresql" else sqlite.insert
            await self._session.execute(insert(Subscription).on_conflict_do_nothing(), rows)

    async def remove_values(self, subscriber_id: int, kind: str, values: Sequence[str] | None) -> list[str]:
        """Remove these values (all of this kind when None); returns the values removed."""
        rows = list(
            await self._session.scalars(
                select(Subscription).where(
                    Subscription.subscriber_id == subscriber_id, Subscription.kind == kind
                )
            )
        )
        wanted = None if values is None else {v.casefold() for v in values}
        gone = [row for row in rows if wanted is None or row.value.casefold() in wanted]
        if gone:
            # by id, not the ORM's delete: a row another press removed meanwhile is simply not there
            await self._session.execute(
                delete(Subscription).where(Subscription.id.in_([row.id for row in gone]))
            )
        return [row.value for row in gone]


async def stats(session: AsyncSession, *, since: datetime) -> BotStats:
    subscribers = await session.scalar(select(func.count(Subscriber.id))) or 0
    active = await session.scalar(select(func.count(Subscriber.id)).where(Subscriber.active.is_(True))) or 0
    articles = await session.scalar(select(func.count(Article.id))) or 0
    recent = await session.scalar(select(func.count(Article.id)).where(Article.listed_at >= since)) or 0
    rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    by_status = {status: count for status, count in rows.tuples()}
    failed = await session.scalar(select(func.count(Delivery.id)).where(Delivery.status == "failed")) or 0
    return BotStats(
        subscribers=subscribers,
        active=active,
        articles=articles,
        recent=recent,
        sent=by_status.get("sent", 0),
        pending=by_status.get("pending", 0),
        failed=failed + by_status.get("dropped", 0),
        dead=by_status.get("dead", 0),
    )
