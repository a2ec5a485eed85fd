"""The composition root: settings -> engine (schema upgraded) -> sessions -> services.

`open_app` is used by every command that needs the database, and by `newsbot run`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.services.feeds import FeedService, FetchLimits
from bot.services.ingest import IngestService
from bot.services.llm import LlmLimits, LlmService, build_llm_service
from db.engine import make_engine, make_sessionmaker, upgrade_schema


class CannotRun(Exception):
    """newsbot cannot start this command (bad setting, unreachable database); one line for stderr."""


@dataclass(slots=True)
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    ingest: IngestService
    feeds: FeedService
    llm: LlmService | None = None  # None unless LLM summaries are on (see Settings.uses_llm)


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[AppContext]:
    """Connect to the database, bring its schema up to date, and build the services."""
    engine = make_engine(settings.database_url)
    llm: LlmService | None = None
    try:
        try:
            await upgrade_schema(engine)
        except (OSError, SQLAlchemyError) as exc:
            raise CannotRun(f"cannot open the database: {_one_line(exc)}") from None
        sessions = make_sessionmaker(engine)
        ingest = IngestService(
            sessions,
            default_tz=settings.tz,
            summary_max_chars=settings.summary_max_chars,
            max_file_bytes=settings.max_file_bytes,
        )
        limits = FetchLimits(
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            max_redirects=settings.fetch_max_redirects,
            per_host=settings.fetch_per_host,
            concurrency=settings.fetch_concurrency,
        )
        if settings.uses_llm:
            llm = _llm_service(settings, sessions)
        yield AppContext(settings, engine, sessions, ingest, FeedService(sessions, ingest, limits=limits), llm)
    finally:
        if llm is not None:
            await llm.close()
        await engine.dispose()


def _llm_service(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> LlmService:
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
        ),
        breaker_failures=settings.llm_breaker_failures,
        breaker_cooldown=settings.llm_breaker_cooldown,
        recent=timedelta(hours=settings.llm_recent_hours),
        interval=settings.llm_interval,
    )


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc) or exc.__class__.__name__
    return text.strip().splitlines()[0][:300]
