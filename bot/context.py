"""The composition root: settings -> engine (schema upgraded) -> sessions -> services.

`open_app` is used by every command that needs the database, and by `newsbot run`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.services.feeds import FeedService, FetchLimits
from bot.services.ingest import IngestService
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


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[AppContext]:
    """Connect to the database, bring its schema up to date, and build the services."""
    engine = make_engine(settings.database_url)
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
        yield AppContext(settings, engine, sessions, ingest, FeedService(sessions, ingest, limits=limits))
    finally:
        await engine.dispose()


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc) or exc.__class__.__name__
    return text.strip().splitlines()[0][:300]
