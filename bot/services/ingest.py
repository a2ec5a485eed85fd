"""Ingestion: read post files and feed documents, prepare each article and store it in its own transaction.

One bad file or article is reported as a Failure and never stops or rolls back the others. Files are read one
at a time, so memory stays flat however many there are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.prepare import PreparedArticle, prepare_article
from bot.sources.files import is_article_file, parse_feed_or_post
from bot.sources.types import ParsedFeed, RawArticle, SourceError
from db.models import Article, Summary
from db.repositories import ArticleRepo
from summarizer.clean import one_line

log = logging.getLogger(__name__)

Outcome = Literal["imported", "duplicate"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def process_name() -> str:
    """A name for this process in the claims it takes: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Failure:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    failed: list[Failure] = field(default_factory=list)
    left: int = 0  # not stored because the process is stopping: the next fetch or import has them

    def add(self, other: ImportResult) -> None:
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.failed.extend(other.failed)
        self.left += other.left

    def summary_line(self) -> str:
        return f"imported {self.imported}, duplicates {self.duplicates}, failed {len(self.failed)}"


def iter_article_files(paths: Iterable[Path]) -> Iterator[Path | Failure]:
    """Files named on the command line, and post/feed files found under named folders, in a stable order.

    Inside folders only known suffixes are read and hidden entries are skipped; a file named explicitly is
    always tried.
    """
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    if is_article_file(candidate):
                        yield candidate
        elif path.is_file():
            yield path
        else:
            yield Failure(str(path), "no such file or folder")


class IngestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_tz: tzinfo,
        summary_max_chars: int,
        max_file_bytes: int,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._tz = default_tz
        self._max_chars = summary_max_chars
        self._max_file_bytes = max_file_bytes
        self._now = now

    @property
    def default_tz(self) -> tzinfo:
        return self._tz

    async def import_paths(
        self, paths: Iterable[Path], *, on_failure: Callable[[Failure], None] | None = None
    ) -> ImportResult:
        total = ImportResult()
        for item in iter_article_files(paths):
            if isinstance(item, Failure):
                result = ImportResult(failed=[item])
            else:
                result = await self.import_file(item)
            if on_failure is not None:
                for failure in result.failed:
                    on_failure(failure)
            total.add(result)
        return total

    async def import_file(self, path: Path) -> ImportResult:
        where = str(path)
        try:
            data = self._read(path)
            document = parse_feed_or_post(data, origin=where, suffix=path.suffix, default_tz=self._tz)
            publisher = None
            if isinstance(document, ParsedFeed):
                # readers see the feed's title; untitled feeds go by their site's host or the file's name
                articles = document.entries
                publisher = document.title or urlsplit(document.link or "").hostname or path.stem
            else:
                articles = [document]
        except SourceError as exc:
            return ImportResult(failed=[Failure(where, exc.reason)])
        except OSError as exc:
            return ImportResult(failed=[Failure(where, f"cannot read: {exc.strerror or exc}")])
        return await self.store_articles(articles, publisher=publisher)

    def _read(self, path: Path) -> bytes:
        return read_article_bytes(path, max_bytes=self._max_file_bytes)

    async def store_articles(
        self,
        articles: Sequence[RawArticle],
        *,
        source_id: int | None = None,
        publisher: str | None = None,
        stop: asyncio.Event | None = None,
    ) -> ImportResult:
        """Prepare and store each article in a transaction of its own. When `stop` is set, the rest are
        left (counted in `left`): a stopping process finishes the article in hand, not the feed."""
        result = ImportResult()
        for index, raw in enumerate(articles):
            if stop is not None and stop.is_set():
                result.left = len(articles) - index
                break
            try:
                prepared = await asyncio.to_thread(prepare_article, raw, max_chars=self._max_chars)
                outcome = await self._store(prepared, source_id=source_id, publisher=publisher)
            except SQLAlchemyError as exc:
                log.warning("storing %s failed: %s", raw.origin, exc.__class__.__name__)
                result.failed.append(Failure(_where(raw), f"database error: {exc.__class__.__name__}"))
                continue
            except (ValueError, RecursionError) as exc:
                result.failed.append(Failure(_where(raw), f"cannot process: {exc}"))
                continue
            if outcome == "imported":
                result.imported += 1
            else:
                result.duplicates += 1
        return result

    async def _store(
        self, prepared: PreparedArticle, *, source_id: int | None, publisher: str | None
    ) -> Outcome:
        raw = prepared.raw
        now = self._now()
        try:
            async with self._sessions() as session, session.begin():
                repo = ArticleRepo(session)
                duplicate = await repo.find_duplicate(
                    link=prepared.link, source_id=source_id, guid=raw.guid, content_hash=prepared.content_hash
                )
                if duplicate is not None:
                    return "duplicate"
                article = Article(
                    source_id=source_id,
                    title=prepared.title,
                    link=prepared.link,
                    guid=raw.guid,
                    author=raw.author,
                    publisher=one_line(publisher or raw.author or _folder_name(raw.origin))[:256],
                    published_at=raw.published,
                    listed_at=raw.published or now,
                    ingested_at=now,
                    text=prepared.text,
                    html=raw.body,
                    image_url=prepared.image_url,
                    content_hash=prepared.content_hash,
                    language=prepared.language,
                    categories="\n".join(raw.categories),
                    is_excerpt=raw.is_excerpt,
                    origin=raw.origin,
                )
                summary = Summary(
                    text=prepared.summary.text,
                    method=prepared.summary.method,
                    model=None,
                    version=prepared.summary.version,
                    is_current=True,
                    created_at=now,
                )
                await repo.add(article, summary, prepared.tags, tagger="extractive", terms=prepared.terms)
        except IntegrityError:
            # another writer stored the same article between our check and our insert
            return "duplicate"
        return "imported"


def _where(raw: RawArticle) -> str:
    return f"{raw.origin} ({raw.title[:40]})" if raw.title else raw.origin


def read_article_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of an article file; SourceError for what is not a regular file (a FIFO would block the read
    forever), is empty, or is over `max_bytes` (also when it grows while being read)."""
    if not stat.S_ISREG(path.stat().st_mode):
        raise SourceError(str(path), "not a regular file")
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    if not data:
        raise SourceError(str(path), "empty file")
    if len(data) > max_bytes:
        size = max(path.stat().st_size, len(data))
        raise SourceError(str(path), f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    return data


def _folder_name(origin: str) -> str:
    return Path(origin).parent.name or "import"
