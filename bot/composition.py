"""The composition root: one `Settings` -> engine (schema upgraded) -> sessions -> every service.

`open_services` is the only place services are built and wired together: the command line, `newsbot run`,
`newsbot console`, `newsbot digest` and the tests all call it, so a service added here reaches every one of
them. Nothing else reads settings to build a service.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg  # no stubs (ignored in pyproject.toml); only its error classes are used here
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.commands import CommandService
from bot.config import Settings
from bot.digest_messages import DigestMessages
from bot.errors import CannotRun
from bot.services.callback_values import CallbackValues
from bot.services.digests import DigestService
from bot.services.feeds import FeedService, FetchLimits
from bot.services.inbox import InboxService
from bot.services.ingest import IngestService, default_workers, process_name, utc_now
from bot.services.llm_budget import LlmBudget
from bot.services.reading import ReadingService
from bot.services.replies import ReplyService
from bot.services.subscriptions import SubscriptionService
from db.engine import make_engine, make_sessionmaker, upgrade_schema

if TYPE_CHECKING:
    from telegram import Bot

    from bot.services.delivery import Clock, OutboxSender
    from bot.services.llm import LlmService

# The outbox sender and the LLM service are imported where they are built: they bring python-telegram-bot and
# the OpenAI client, which a read command such as `newsbot latest` does not use and should not wait for.


@dataclass(slots=True)
class Services:
    """Every service of one newsbot process, over one database."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    ingest: IngestService
    feeds: FeedService
    subscriptions: SubscriptionService
    digests: DigestService
    reading: ReadingService
    commands: CommandService
    replies: ReplyService
    llm: LlmService | None = None  # None unless LLM summaries are on (see Settings.uses_llm)
    inbox: InboxService | None = None  # None unless INBOX_DIR is set
    # this process among the others on the database: the holder of its leases and claims
    process: str = field(default_factory=process_name)

    def outbox_sender(self, bot: Bot, *, clock: Clock | None = None) -> OutboxSender:
        """The sender of the outbox through `bot` (the running Application's, or one of its own); it sends
        only while this process holds the bot's sender lease."""
        from bot.services.delivery import OutboxSender, SendLimits, SystemClock

        s = self.settings
        limits = SendLimits(
            global_per_second=s.send_global_per_second,
            private_per_second=s.send_private_per_second,
            group_per_minute=s.send_group_per_minute,
        )
        return OutboxSender(
            self.sessions,
            bot,
            limits=limits,
            clock=clock or SystemClock(),
            max_attempts=s.send_max_attempts,
            concurrency=s.send_concurrency,
            holder=self.process,
            lease_seconds=s.outbox_lease_seconds,
            poll_interval=s.outbox_poll_interval,
        )


@asynccontextmanager
async def open_services(
    settings: Settings, *, now: Callable[[], datetime] = utc_now
) -> AsyncIterator[Services]:
    """Connect to the database, bring its schema up to date, build every service; close them all on exit.

    `now` is the clock of the services that keep time (tests move it).
    """
    try:
        engine = make_engine(settings.database_url)
    except (SQLAlchemyError, ValueError) as exc:
        raise _cannot_open(exc, settings.database_url) from None
    llm: LlmService | None = None
    try:
        try:
            await upgrade_schema(engine)
        except _OPEN_FAILURES as exc:
            raise _cannot_open(exc, settings.database_url) from None
        sessions = make_sessionmaker(engine)
        ingest = IngestService(
            sessions,
            default_tz=settings.tz,
            summary_max_chars=settings.summary_max_chars,
            max_file_bytes=settings.max_file_bytes,
            story_threshold=settings.story_threshold,
            workers=settings.import_workers or default_workers(os.cpu_count() or 1),
            now=now,
        )
        process = process_name()
        feeds = FeedService(
            sessions,
            ingest,
            limits=_fetch_limits(settings),
            now=now,
            holder=process,
            poll_interval=timedelta(seconds=settings.fetch_interval),
        )
        digests = DigestService(sessions, writer=DigestMessages(), now=now)
        subscriptions = SubscriptionService(
            sessions, default_timezone=settings.timezone, default_digest_time=settings.digest_time, now=now
        )
        reading = ReadingService(sessions, cache=digests.cache, now=now)
        commands = CommandService(
            subscriptions=subscriptions,
            reading=reading,
            feeds=feeds,
            callback_values=CallbackValues(sessions, now=now),
            admin_ids=settings.admin_ids,
            llm_budget=_llm_budget(settings) if settings.uses_llm else None,
            now=now,
        )
        replies = ReplyService(sessions, now=now)
        if settings.uses_llm:
            llm = _llm_service(settings, sessions)
        yield Services(
            settings,
            engine,
            sessions,
            ingest,
            feeds,
            subscriptions,
            digests,
            reading,
            commands,
            replies,
            llm,
            _inbox_service(settings, sessions, ingest, process),
            process,
        )
    finally:
        if llm is not None:
            await llm.close()
        await engine.dispose()


def _inbox_service(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], ingest: IngestService, process: str
) -> InboxService | None:
    if settings.inbox_dir is None:
        return None
    return InboxService(sessions, ingest, settings.inbox_dir, holder=process)


def _fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        per_host=settings.fetch_per_host,
        concurrency=settings.fetch_concurrency,
        allow_private=settings.fetch_allow_private,
        max_items=settings.fetch_max_items,
    )


def _llm_budget(settings: Settings) -> LlmBudget:
    return LlmBudget(daily_requests=settings.llm_daily_requests, daily_tokens=settings.llm_daily_tokens)


def _llm_service(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> LlmService:
    from bot.services.llm import LlmLimits, build_llm_service

    key = settings.openai_api_key
    return build_llm_service(
        sessions,
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        max_chars=settings.summary_max_chars,
        max_input_chars=settings.llm_max_input_chars,
        limits=LlmLimits(
            timeout=settings.llm_timeout,
            concurrency=settings.llm_concurrency,
            retries=settings.llm_retries,
            backoff=settings.llm_backoff,
            max_wait=settings.llm_max_wait,
            max_output_tokens=settings.llm_max_output_tokens,
        ),
        breaker_failures=settings.llm_breaker_failures,
        breaker_cooldown=settings.llm_breaker_cooldown,
        recent=timedelta(hours=settings.llm_recent_hours),
        interval=settings.llm_interval,
        budget=_llm_budget(settings),
    )


# What connecting and upgrading the schema raise when the database cannot be used: the server does not answer
# or refuses TLS (OSError), or says no (asyncpg raises its own errors at connect, unwrapped by SQLAlchemy: an
# unknown database or role, a wrong password), or the URL asks for what the driver cannot do.
_OPEN_FAILURES = (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _cannot_open(exc: BaseException, database_url: str) -> CannotRun:
    """One line saying why the database cannot be opened, without the URL's password."""
    text = _one_line(exc) + _files_named(exc, database_url)
    return CannotRun(f"cannot open the database: {_without_password(text, database_url)}")


# the options of a PostgreSQL URL that name files; the ssl module reports a missing one without its name
_FILE_OPTIONS = ("sslrootcert", "sslcert", "sslkey", "sslcrl", "passfile")


def _files_named(exc: BaseException, database_url: str) -> str:
    if not isinstance(exc, OSError) or exc.filename:
        return ""
    try:
        query = make_url(database_url).query
    except ArgumentError:
        return ""
    named = [f"{key}={query[key]}" for key in _FILE_OPTIONS if key in query]
    return f" (the URL names {', '.join(named)})" if named else ""


def _without_password(text: str, database_url: str) -> str:
    try:
        password = make_url(database_url).password
    except ArgumentError:
        return text
    if password:
        text = text.replace(str(password), "***")
    return text


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:  # e.g. a missing sslrootcert file: say which
        return f"{exc.strerror or exc.__class__.__name__}: {exc.filename}"[:300]
    text = str(getattr(exc, "orig", None) or exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:300]
