"""Queries of LLM summaries: which articles still want one, the answer cache, replacing a summary and its
tags, and the request accounting behind `newsbot stats`. Like the repositories, every function takes a session
owned by the caller and never opens, commits or closes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.engine import lock_transaction
from db.models import Article, LlmCacheEntry, LlmRequest, Subscriber, Summary
from db.repositories import TagRepo, set_terms
from readmodels import LlmStats

# the summaries made offline: extractive ones, and the title standing in for an article without a body
OFFLINE_METHODS = ("extractive", "title")
# "sent": a request admitted within the daily budget whose outcome is not written yet (in flight, or its
# process stopped): it counts as a request, with the most tokens it may spend, in every process
REQUEST_OUTCOMES = ("ok", "invalid", "error", "timeout", "rate_limited", "sent")
# the PostgreSQL advisory lock that admitting a request within the daily budget holds ("llmcaps" in ASCII)
BUDGET_LOCK_KEY = 0x6C6C6D63617073
# Automatic upgrades give an article up after an invalid answer (already retried once) or this many
# failed tries
GIVE_UP_AFTER = 3


@dataclass(frozen=True, slots=True)
class LlmTarget:
    """What an LLM summary request needs of an article."""

    id: int
    title: str
    text: str
    language: str
    content_hash: str
    listed_at: datetime


@dataclass(frozen=True, slots=True)
class PendingFilter:
    """Which articles want an LLM summary for `model` and `prompt_version`.

    Their current summary is by one of `methods` (never already this model's and version's), and optionally
    they were listed or ingested since a time. With `skip_given_up`, articles whose tries have failed (see
    GIVE_UP_AFTER) are left alone.
    """

    model: str
    prompt_version: str
    methods: Sequence[str] = OFFLINE_METHODS
    listed_since: datetime | None = None
    ingested_since: datetime | None = None
    skip_given_up: bool = True


def _pending_where(f: PendingFilter) -> list[object]:
    current = aliased(Summary)
    has_current = (
        select(current.id)
        .where(
            current.article_id == Article.id,
            current.is_current.is_(True),
            current.language.is_(None),  # the article's own summary, not one made for a reader's language
            current.method.in_(list(f.methods)),
            not_(
                and_(current.method == "llm", current.model == f.model, current.version == f.prompt_version)
            ),
        )
        .exists()
    )
    # only the report a story is listed as: the others are never shown, and would cost a request each
    conditions: list[object] = [has_current, Article.is_story_lead.is_(True)]
    if f.listed_since is not None:
        conditions.append(Article.listed_at >= f.listed_since)
    if f.ingested_since is not None:
        conditions.append(Article.ingested_at >= f.ingested_since)
    if f.skip_given_up:
        # an invalid answer counts as all the tries at once
        tries = (
            select(func.coalesce(func.sum(case((LlmRequest.reason == "invalid", GIVE_UP_AFTER), else_=1)), 0))
            .where(
                LlmRequest.article_id == Article.id,
                LlmRequest.outcome == "fallback",
                LlmRequest.model == f.model,
                LlmRequest.prompt_version == f.prompt_version,
            )
            .scalar_subquery()
        )
        conditions.append(tries < GIVE_UP_AFTER)
    return conditions


async def pending_articles(
    session: AsyncSession, f: PendingFilter, *, before: tuple[datetime, int] | None = None, limit: int = 100
) -> list[LlmTarget]:
    """The next pending articles, newest first (by listing time, then id), below `before` = (listed_at, id) of
    the last one seen: keyset paging, so a run never sees an article twice. Newest first because when the
    daily budget runs short, the news readers will look at next is what should get the better summary."""
    keyset = []
    if before is not None:
        listed_at, article_id = before
        keyset.append(
            or_(Article.listed_at < listed_at, and_(Article.listed_at == listed_at, Article.id < article_id))
        )
    rows = await session.execute(
        select(
            Article.id, Article.title, Article.text, Article.language, Article.content_hash, Article.listed_at
        )
        .where(*keyset, *_pending_where(f))  # type: ignore[arg-type]
        .order_by(Article.listed_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return [LlmTarget(*row) for row in rows.tuples()]


async def translation_targets(
    session: AsyncSession, language: str, *, model: str, prompt_version: str, since: datetime, limit: int
) -> list[LlmTarget]:
    """The story leads listed since `since`, not written in `language`, that want a summary in it (for the
    readers who asked for their summaries in `language`): none current yet, not given up (see
    GIVE_UP_AFTER; `prompt_version` names this language's requests). Newest first."""
    translated = (
        select(Summary.id)
        .where(Summary.article_id == Article.id, Summary.language == language, Summary.is_current.is_(True))
        .exists()
    )
    tries = (
        select(func.coalesce(func.sum(case((LlmRequest.reason == "invalid", GIVE_UP_AFTER), else_=1)), 0))
        .where(
            LlmRequest.article_id == Article.id,
            LlmRequest.outcome == "fallback",
            LlmRequest.model == model,
            LlmRequest.prompt_version == prompt_version,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Article.id, Article.title, Article.text, Article.language, Article.content_hash, Article.listed_at
        )
        .where(
            Article.is_story_lead.is_(True),
            Article.listed_at >= since,
            Article.language != language,
            not_(translated),
            tries < GIVE_UP_AFTER,
        )
        .order_by(Article.listed_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return [LlmTarget(*row) for row in rows.tuples()]


async def store_translation(session: AsyncSession, article_id: int, summary: Summary) -> bool:
    """Make `summary` (with its `language` set) the article's current summary in that language; False when
    the article is gone."""
    if await _retire_current_summary(session, article_id, summary.language) is None:
        return False
    summary.article_id = article_id
    summary.is_current = True
    session.add(summary)
    await session.flush()
    return True


async def summary_languages(session: AsyncSession) -> list[str]:
    """The languages active chats asked for their summaries in."""
    rows = await session.scalars(
        select(Subscriber.summary_language)
        .where(Subscriber.active.is_(True), Subscriber.summary_language.is_not(None))
        .distinct()
    )
    return sorted(language for language in rows if language)


async def count_pending(session: AsyncSession, f: PendingFilter) -> int:
    query = select(func.count(Article.id)).where(*_pending_where(f))  # type: ignore[arg-type]
    return await session.scalar(query) or 0


async def cached_answer(
    session: AsyncSession, content_hash: str, *, model: str, prompt_version: str
) -> LlmCacheEntry | None:
    found: LlmCacheEntry | None = await session.scalar(
        select(LlmCacheEntry).where(
            LlmCacheEntry.content_hash == content_hash,
            LlmCacheEntry.model == model,
            LlmCacheEntry.prompt_version == prompt_version,
        )
    )
    return found


async def store_cached_answer(session: AsyncSession, entry: LlmCacheEntry) -> None:
    """Keep an accepted answer; a concurrent writer's answer for the same key wins quietly."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    values = {
        "content_hash": entry.content_hash,
        "model": entry.model,
        "prompt_version": entry.prompt_version,
        "summary": entry.summary,
        "tags": entry.tags,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "created_at": entry.created_at,
    }
    await session.execute(
        insert(LlmCacheEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["content_hash", "model", "prompt_version"])
    )


async def replace_summary(
    session: AsyncSession, article_id: int, summary: Summary, tags: Sequence[str], *, tagger: str, terms: str
) -> bool:
    """Make `summary` the article's current one, `tags` its tags and `terms` its search terms, in the caller's
    transaction. False when the article is gone.
    """
    listed_at = await _retire_current_summary(session, article_id, None)
    if listed_at is None:
        return False
    summary.article_id = article_id
    summary.is_current = True
    session.add(summary)
    await TagRepo(session).set_article_tags(article_id, listed_at, tags, tagger=tagger)
    await set_terms(session, article_id, terms)
    await session.flush()
    return True


async def _retire_current_summary(
    session: AsyncSession, article_id: int, language: str | None
) -> datetime | None:
    """Mark the article's current summary in `language` (None: its own language) not current, before the
    caller adds the new one; the article's listing time, or None when the article is gone.

    Replacements of one article's summary take turns, so that exactly one stays current (the unique indexes
    ix_summaries_one_current_* refuse a second). On PostgreSQL the article's row is locked first: under READ
    COMMITTED, an UPDATE that waited for another transaction's replacement would skip the row it retired and
    miss the row it added, and both new summaries would stay current. FOR NO KEY UPDATE, as an UPDATE of the
    row takes: it does not hold up inserts elsewhere that merely reference the article (foreign keys). On
    SQLite, which runs one writer at a time, the UPDATE comes first, so the write lock is taken at once (a
    read first could fail with SQLITE_BUSY when it turns into a write).
    """
    retire = (
        update(Summary)
        .where(
            Summary.article_id == article_id,
            Summary.is_current.is_(True),
            Summary.language.is_(None) if language is None else Summary.language == language,
        )
        .values(is_current=False)
    )
    article = select(Article.listed_at).where(Article.id == article_id)
    if session.bind.dialect.name == "postgresql":
        listed_at = await session.scalar(article.with_for_update(key_share=True))
        if listed_at is not None:
            await session.execute(retire)
    else:
        await session.execute(retire)
        listed_at = await session.scalar(article)
    return listed_at


async def lock_budget(session: AsyncSession) -> None:
    """Make the caller's transaction the only one admitting LLM requests until it ends, in any process, so
    that what it counts and what it adds are one step: PostgreSQL by an advisory transaction lock, SQLite by
    taking its write lock before the count."""
    await lock_transaction(session, BUDGET_LOCK_KEY)


async def finish_request(session: AsyncSession, request_id: int, **values: object) -> None:
    """Write what became of an admitted request (its outcome, reason, article and tokens) over its "sent"
    row; tokens left out keep the most the request could spend."""
    await session.execute(update(LlmRequest).where(LlmRequest.id == request_id).values(**values))


async def llm_stats(session: AsyncSession, *, since: datetime) -> LlmStats:
    rows = await session.execute(
        select(
            LlmRequest.outcome,
            func.count(LlmRequest.id),
            func.coalesce(func.sum(LlmRequest.prompt_tokens), 0),
            func.coalesce(func.sum(LlmRequest.completion_tokens), 0),
        )
        .where(LlmRequest.created_at >= since)
        .group_by(LlmRequest.outcome)
    )
    counts: dict[str, int] = {}
    prompt = completion = 0
    for outcome, count, prompt_tokens, completion_tokens in rows.tuples():
        counts[outcome] = count
        if outcome in REQUEST_OUTCOMES:
            prompt += int(prompt_tokens or 0)
            completion += int(completion_tokens or 0)
    return LlmStats(
        requests=sum(counts.get(o, 0) for o in REQUEST_OUTCOMES),
        ok=counts.get("ok", 0),
        invalid=counts.get("invalid", 0),
        errors=counts.get("error", 0),
        timeouts=counts.get("timeout", 0),
        rate_limited=counts.get("rate_limited", 0),
        fallbacks=counts.get("fallback", 0),
        cache_hits=counts.get("cache_hit", 0),
        prompt_tokens=prompt,
        completion_tokens=completion,
        in_flight=counts.get("sent", 0),
    )
