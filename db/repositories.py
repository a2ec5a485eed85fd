"""Queries. Each repository takes a session owned by the caller; none opens, commits or closes one.

The read queries here are the ones the command line and the bot share (`latest_articles`, `top_tags`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Article,
    ArticleTag,
    Delivery,
    OutboxMessage,
    Source,
    Subscriber,
    Subscription,
    Summary,
    Tag,
)


def tag_key(name: str) -> str:
    """The lookup key of a tag: case-folded, without a leading '#'."""
    return name.strip().lstrip("#").casefold()


@dataclass(frozen=True, slots=True)
class ArticleView:
    """What listings show of an article."""

    id: int
    title: str
    link: str | None
    publisher: str
    published_at: datetime | None
    listed_at: datetime
    summary: str
    summary_method: str
    tags: list[str]
    image_url: str | None
    chars: int


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str
    count: int


class ArticleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_duplicate(
        self, *, link: str | None, source_id: int | None, guid: str | None, content_hash: str
    ) -> int | None:
        """The id of a stored article that is the same as this one, by link, feed guid or normalized text."""
        conditions = [Article.content_hash == content_hash]
        if link:
            conditions.append(Article.link == link)
        if guid and source_id is not None:
            conditions.append((Article.source_id == source_id) & (Article.guid == guid))
        found = await self._session.scalar(select(Article.id).where(or_(*conditions)).limit(1))
        return found

    async def add(self, article: Article, summary: Summary, tags: Sequence[str], *, tagger: str) -> None:
        """Stage an article with its current summary and ranked tags in the caller's transaction."""
        self._session.add(article)
        await self._session.flush()
        summary.article_id = article.id
        self._session.add(summary)
        tag_ids = await TagRepo(self._session).ensure(tags)
        for rank, tag_id in enumerate(tag_ids):
            self._session.add(ArticleTag(article_id=article.id, tag_id=tag_id, rank=rank, source=tagger))
        await self._session.flush()

    async def count(self) -> int:
        return await self._session.scalar(select(func.count(Article.id))) or 0


class TagRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ensure(self, names: Sequence[str]) -> list[int]:
        """Ids of these tags in the given order, creating the missing ones (safe against concurrent writers)."""
        wanted: dict[str, str] = {}
        for name in names:
            key = tag_key(name)
            if key and key not in wanted:
                wanted[key] = name.strip().lstrip("#")
        if not wanted:
            return []
        dialect = self._session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(
            insert(Tag)
            .values([{"name": name, "key": key} for key, name in wanted.items()])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = await self._session.execute(select(Tag.key, Tag.id).where(Tag.key.in_(wanted)))
        ids = {key: tag_id for key, tag_id in rows.tuples()}
        return [ids[key] for key in wanted]


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
)


def _listing(query: Select[tuple[Article]], *, tag: str | None, publisher: str | None) -> Select[tuple[Article]]:
    if tag:
        query = query.join(ArticleTag, ArticleTag.article_id == Article.id).join(
            Tag, (Tag.id == ArticleTag.tag_id) & (Tag.key == tag_key(tag))
        )
    if publisher:
        query = query.where(func.lower(Article.publisher) == publisher.strip().lower())
    return query


async def latest_articles(
    session: AsyncSession,
    *,
    limit: int = 10,
    offset: int = 0,
    tag: str | None = None,
    publisher: str | None = None,
) -> list[ArticleView]:
    """The newest articles, newest first, with their current summary and tags (three queries in all)."""
    query = _listing(select(Article), tag=tag, publisher=publisher)
    query = query.order_by(Article.listed_at.desc(), Article.id.desc()).limit(limit).offset(offset)
    rows = (await session.execute(query.with_only_columns(*_VIEW_COLUMNS))).all()
    return await _views(session, rows)


# the columns of _VIEW_COLUMNS, in order
_ViewRow = tuple[int, str, str | None, str, datetime | None, datetime, str | None, int | None]


async def _views(session: AsyncSession, rows: Sequence[Any]) -> list[ArticleView]:
    ids: list[int] = [row[0] for row in rows]
    if not ids:
        return []
    summaries = {
        article_id: (text, method)
        for article_id, text, method in (
            await session.execute(
                select(Summary.article_id, Summary.text, Summary.method).where(
                    Summary.article_id.in_(ids), Summary.is_current.is_(True)
                )
            )
        ).tuples()
    }
    tags: dict[int, list[str]] = {article_id: [] for article_id in ids}
    tag_rows = await session.execute(
        select(ArticleTag.article_id, Tag.name)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(ArticleTag.article_id.in_(ids))
        .order_by(ArticleTag.article_id, ArticleTag.rank)
    )
    for article_id, name in tag_rows.tuples():
        tags[article_id].append(name)
    views = []
    for row in rows:
        values: _ViewRow = tuple(row)
        article_id, title, link, publisher, published_at, listed_at, image_url, chars = values
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
            )
        )
    return views


async def top_tags(session: AsyncSession, *, since: datetime, limit: int = 20) -> list[TagCount]:
    """The most used tags on articles listed since `since`, most used first."""
    count = func.count(ArticleTag.article_id).label("n")
    rows = await session.execute(
        select(Tag.name, count)
        .join(ArticleTag, ArticleTag.tag_id == Tag.id)
        .join(Article, Article.id == ArticleTag.article_id)
        .where(Article.listed_at >= since)
        .group_by(Tag.id, Tag.name)
        .order_by(count.desc(), Tag.name)
        .limit(limit)
    )
    return [TagCount(name, n) for name, n in rows.tuples()]


async def mark_summaries_not_current(session: AsyncSession, article_id: int) -> None:
    await session.execute(
        update(Summary).where(Summary.article_id == article_id).values(is_current=False)
    )


async def search_articles(
    session: AsyncSession, words: Sequence[str], *, limit: int = 10, offset: int = 0
) -> list[ArticleView]:
    """Articles whose title, current summary or a tag contains every word (case-insensitive), newest first."""
    query = select(Article)
    for word in words:
        tagged = exists().where(
            ArticleTag.article_id == Article.id,
            ArticleTag.tag_id == Tag.id,
            Tag.key == tag_key(word),
        )
        summarized = exists().where(
            Summary.article_id == Article.id,
            Summary.is_current.is_(True),
            Summary.text.icontains(word, autoescape=True),
        )
        query = query.where(or_(Article.title.icontains(word, autoescape=True), summarized, tagged))
    query = query.order_by(Article.listed_at.desc(), Article.id.desc()).limit(limit).offset(offset)
    rows = (await session.execute(query.with_only_columns(*_VIEW_COLUMNS))).all()
    return await _views(session, rows)


async def articles_since(session: AsyncSession, since: datetime, *, limit: int = 500) -> list[ArticleView]:
    """Articles listed after `since`, newest first: the candidates of a digest."""
    query = (
        select(*_VIEW_COLUMNS)
        .where(Article.listed_at > since)
        .order_by(Article.listed_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return await _views(session, (await session.execute(query)).all())


class SubscriberRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_chat(self, chat_id: int) -> Subscriber | None:
        found: Subscriber | None = await self._session.scalar(select(Subscriber).where(Subscriber.chat_id == chat_id))
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

    async def values(self, subscriber_id: int, kind: str) -> list[str]:
        rows = await self._session.scalars(
            select(Subscription.value)
            .where(Subscription.subscriber_id == subscriber_id, Subscription.kind == kind)
            .order_by(Subscription.id)
        )
        return list(rows)

    async def add_values(self, subscriber: Subscriber, kind: str, values: Sequence[str], *, now: datetime) -> None:
        existing = {v.casefold() for v in await self.values(subscriber.id, kind)}
        for value in values:
            if value.casefold() not in existing:
                existing.add(value.casefold())
                self._session.add(Subscription(subscriber_id=subscriber.id, kind=kind, value=value, created_at=now))
        await self._session.flush()

    async def remove_values(self, subscriber_id: int, kind: str, values: Sequence[str] | None) -> list[str]:
        """Remove these values (all of this kind when None); returns the values removed."""
        rows = list(
            await self._session.scalars(
                select(Subscription).where(Subscription.subscriber_id == subscriber_id, Subscription.kind == kind)
            )
        )
        wanted = None if values is None else {v.casefold() for v in values}
        removed = []
        for row in rows:
            if wanted is None or row.value.casefold() in wanted:
                removed.append(row.value)
                await self._session.delete(row)
        await self._session.flush()
        return removed


@dataclass(frozen=True, slots=True)
class Stats:
    subscribers: int
    active: int
    articles: int
    recent: int
    sent: int
    pending: int
    failed: int
    dead: int


async def stats(session: AsyncSession, *, since: datetime) -> Stats:
    subscribers = await session.scalar(select(func.count(Subscriber.id))) or 0
    active = await session.scalar(select(func.count(Subscriber.id)).where(Subscriber.active.is_(True))) or 0
    articles = await session.scalar(select(func.count(Article.id))) or 0
    recent = await session.scalar(select(func.count(Article.id)).where(Article.listed_at >= since)) or 0
    rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    by_status = {status: count for status, count in rows.tuples()}
    failed = await session.scalar(select(func.count(Delivery.id)).where(Delivery.status == "failed")) or 0
    return Stats(
        subscribers=subscribers,
        active=active,
        articles=articles,
        recent=recent,
        sent=by_status.get("sent", 0),
        pending=by_status.get("pending", 0),
        failed=failed + by_status.get("dropped", 0),
        dead=by_status.get("dead", 0),
    )
