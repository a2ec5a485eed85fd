"""Ingestion: read post files and feed documents, prepare each article and store it.

One bad file or article is reported as a Failure and never stops or rolls back the others. An import of many
files prepares them in worker processes (IMPORT_WORKERS, by default one per core: preparing is jieba-bound
pure Python) while this process stores what they return, in order, a batch of articles per transaction (a
few statements per batch and one story lookup per article: less than a core); a batch that fails is stored
again one article at a time. A bounded number of files is in flight, so memory stays flat however many
there are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import stat
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import printable
from bot.services.import_workers import prepare_in_workers
from bot.sources.types import ParsedFeed, RawArticle, SourceError
from db.models import Article, StoryCopy, Summary
from db.repositories import ArticleRepo, NewArticleExtras, StoredMatch
from db.stories import (
    MAX_CANDIDATES,
    STORY_WINDOW,
    StoryCandidate,
    add_copy,
    add_many_story_keys,
    add_story_publishers,
    demote_leads,
    lock_stories,
    story_candidates,
    story_leads,
    write_story_links,
)
from summarizer.clean import one_line
from summarizer.stories import MAX_HOURS_APART, SAME_STORY_THRESHOLD, StoryFingerprint, story_similarity

if TYPE_CHECKING:
    from bot.services.prepare import PreparedArticle

# The parsers and the summarizer (bot.sources.files, bot.services.prepare) are imported where files are read
# and articles prepared: every command builds this service, and a read command such as `newsbot latest`
# should not wait for YAML, HTML, date and charset libraries it never uses.

log = logging.getLogger(__name__)

Outcome = Literal["imported", "duplicate"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def listing_time(raw: RawArticle, now: datetime) -> datetime:
    """When an article is listed: its date, but never later than now (a post dated 2990, or a zone slip,
    would stay at the top of /latest); undated, now, unless its document says it is older than that."""
    if raw.published is not None:
        return min(raw.published, now)
    if raw.dated_no_later_than is not None:
        return min(now, raw.dated_no_later_than)
    return now


def process_name() -> str:
    """A name for this process in the claims it takes: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Failure:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{printable(self.where)}: {printable(self.reason)}"


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


@dataclass(frozen=True, slots=True)
class PreparedFile:
    """A post or feed file read, parsed and its articles prepared: what a worker process hands back."""

    publisher: str | None  # a feed file's: its title, or its site's host, or the file's name
    articles: list[PreparedArticle | Failure]  # in the file's order; an article that failed says why


def prepare_file(
    path: Path, *, default_tz: tzinfo, max_file_bytes: int, max_chars: int
) -> PreparedFile | Failure:
    """Read, parse and prepare one file; pure CPU work after the read, run in a worker process or thread."""
    from bot.sources.files import parse_feed_or_post

    # named in failures and stored as the articles' origin: bytes of the name that are not UTF-8 (a name
    # from a Windows archive) as U+FFFD, or no database stores it; control characters written out
    where = printable(str(path))
    try:
        data = read_article_bytes(path, max_bytes=max_file_bytes)
        document = parse_feed_or_post(data, origin=where, suffix=path.suffix, default_tz=default_tz)
    except SourceError as exc:
        return Failure(where, exc.reason)
    except OSError as exc:
        return Failure(where, f"cannot read: {exc.strerror or exc}")
    except (ValueError, ArithmeticError, LookupError, TypeError, RecursionError) as exc:
        # a parser's error on hostile bytes that nobody foresaw: this file's failure, not the whole import's
        log.exception("parsing %s failed", where)
        return Failure(where, f"cannot parse ({exc.__class__.__name__}), see the log")
    if isinstance(document, ParsedFeed):
        # readers see the feed's title; untitled feeds go by their site's host or the file's name
        publisher = document.title or urlsplit(document.link or "").hostname or path.stem
        return PreparedFile(publisher, [_prepared_or_failure(raw, max_chars) for raw in document.entries])
    return PreparedFile(None, [_prepared_or_failure(document, max_chars)])


def _lost(path: Path) -> Failure:
    return Failure(str(path), "the process preparing it stopped (killed or out of memory)")


def _prepared_or_failure(raw: RawArticle, max_chars: int) -> PreparedArticle | Failure:
    from bot.services.prepare import prepare_article

    try:
        return prepare_article(raw, max_chars=max_chars)
    except (ValueError, RecursionError) as exc:
        return Failure(_where(raw), f"cannot process: {exc}")


def iter_article_files(paths: Iterable[Path]) -> Iterator[Path | Failure]:
    """Files named on the command line, and post/feed files found under named folders, in a stable order.

    Inside folders only known suffixes are read and hidden entries are skipped; a file named explicitly is
    always tried.
    """
    from bot.sources.files import is_article_file

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


# articles stored in one transaction by an import: fewer commits; a batch that fails is stored again one
# article at a time
STORE_BATCH = 50
# below this many files per worker process, starting the processes (each loads jieba) costs more than it saves
MIN_FILES_PER_WORKER = 8


def default_workers(cores: int) -> int:
    """IMPORT_WORKERS=0: a preparing process per core beside the storing one, which needs less than a core
    (2,000 files on two cores: 19.0 s with one preparing process, 14.9 s with two); one core: one process."""
    return cores + 1 if cores > 1 else 1


class IngestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_tz: tzinfo,
        summary_max_chars: int,
        max_file_bytes: int,
        story_threshold: float = SAME_STORY_THRESHOLD,
        workers: int = 1,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._workers = workers  # processes preparing the files of an import
        self._tz = default_tz
        self._max_chars = summary_max_chars
        self._max_file_bytes = max_file_bytes
        self._story_threshold = story_threshold
        self._now = now

    @property
    def default_tz(self) -> tzinfo:
        return self._tz

    async def import_paths(
        self,
        paths: Iterable[Path],
        *,
        on_failure: Callable[[Failure], None] | None = None,
        on_file: Callable[[int, int], None] | None = None,
    ) -> ImportResult:
        """Import every file named or found under a named folder. `on_failure` hears of each failure when it
        is known; `on_file(done, total)` of each file once its articles are stored (a progress display)."""
        total = ImportResult()
        batch: list[tuple[PreparedArticle, str | None]] = []  # prepared, not stored yet; with its publisher
        prepared_files = stored_files = 0  # files whose articles are in `batch` or stored; stored

        def add(result: ImportResult) -> None:
            if on_failure is not None:
                for failure in result.failed:
                    on_failure(failure)
            total.add(result)

        async def store_batch() -> None:
            nonlocal stored_files
            add(await self._store_batch(batch))
            batch.clear()
            stored_files = prepared_files
            if on_file is not None:
                on_file(stored_files, len(files))

        files = list(iter_article_files(paths))  # paths only: a few bytes each, however many files
        async for prepared in self._prepare_files(files):
            prepared_files += 1
            if isinstance(prepared, Failure):
                add(ImportResult(failed=[prepared]))
                continue
            for article in prepared.articles:
                if isinstance(article, Failure):
                    add(ImportResult(failed=[article]))
                else:
                    batch.append((article, prepared.publisher))
            if len(batch) >= STORE_BATCH:
                await store_batch()
        await store_batch()
        return total

    async def import_file(self, path: Path) -> ImportResult:
        prepared = await asyncio.to_thread(self._prepare_file, path)
        if isinstance(prepared, Failure):
            return ImportResult(failed=[prepared])
        result = ImportResult(failed=[a for a in prepared.articles if isinstance(a, Failure)])
        ready = [(a, prepared.publisher) for a in prepared.articles if not isinstance(a, Failure)]
        result.add(await self._store_batch(ready))
        return result

    @property
    def _prepare_file(self) -> Callable[[Path], PreparedFile | Failure]:
        return partial(
            prepare_file, default_tz=self._tz, max_file_bytes=self._max_file_bytes, max_chars=self._max_chars
        )

    async def _prepare_files(self, files: Sequence[Path | Failure]) -> AsyncIterator[PreparedFile | Failure]:
        """Each file prepared, in order: in worker processes when there are enough files to repay starting
        them, else in a thread of this process. Of `workers` processes, this one is the one storing."""
        processes = min(self._workers - 1, len(files) // MIN_FILES_PER_WORKER)
        if processes < 1:
            for item in files:
                yield item if isinstance(item, Failure) else await asyncio.to_thread(self._prepare_file, item)
            return
        prepared_files: AsyncIterator[PreparedFile | Failure] = prepare_in_workers(
            # two batches' worth in the pool: the workers prepare the next batch while this process stores one
            files,
            self._prepare_file,
            workers=processes,
            ahead=2 * STORE_BATCH,
            lost=_lost,
        )
        async for prepared in prepared_files:
            yield prepared

    async def _store_batch(self, batch: Sequence[tuple[PreparedArticle, str | None]]) -> ImportResult:
        """Store prepared articles STORE_BATCH per transaction (a feed file may hold thousands, and one
        statement binds a value of each); when a transaction fails, each of its articles again in one of its
        own, so that a bad article costs only itself."""
        result = ImportResult()
        for start in range(0, len(batch), STORE_BATCH):
            result.add(await self._store_chunk(batch[start : start + STORE_BATCH]))
        return result

    async def _store_chunk(self, chunk: Sequence[tuple[PreparedArticle, str | None]]) -> ImportResult:
        if len(chunk) > 1:
            try:
                outcomes = await self._store_many(chunk, source_id=None)
            except (SQLAlchemyError, ValueError):
                pass  # which article failed is found below, one transaction each
            else:
                return ImportResult(
                    imported=outcomes.count("imported"), duplicates=outcomes.count("duplicate")
                )
        result = ImportResult()
        for prepared, publisher in chunk:
            result.add(await self._store_one(prepared, source_id=None, publisher=publisher))
        return result

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
            prepared = await asyncio.to_thread(_prepared_or_failure, raw, self._max_chars)
            if isinstance(prepared, Failure):
                result.failed.append(prepared)
            else:
                result.add(await self._store_one(prepared, source_id=source_id, publisher=publisher))
        return result

    async def _store_one(
        self, prepared: PreparedArticle, *, source_id: int | None, publisher: str | None
    ) -> ImportResult:
        raw = prepared.raw
        try:
            (outcome,) = await self._store_many([(prepared, publisher)], source_id=source_id)
        except IntegrityError:
            # another writer stored the same article between our check and our insert
            return ImportResult(duplicates=1)
        except SQLAlchemyError as exc:
            log.warning("storing %s failed: %s", raw.origin, exc.__class__.__name__)
            return ImportResult(failed=[Failure(_where(raw), f"database error: {exc.__class__.__name__}")])
        except ValueError as exc:
            return ImportResult(failed=[Failure(_where(raw), f"cannot process: {exc}")])
        return ImportResult(imported=1) if outcome == "imported" else ImportResult(duplicates=1)

    async def _store_many(
        self, batch: Sequence[tuple[PreparedArticle, str | None]], *, source_id: int | None
    ) -> list[Outcome]:
        """Store each article in one transaction (all or none), with the outcome of storing them one by one in
        order, in a few statements for the whole batch (the duplicate lookup, the insert, the story keys, the
        story links) and one candidate lookup per new article."""
        async with self._sessions() as session, session.begin():
            # one process at a time assigns stories: the duplicate checks and the candidates below see every
            # article stored before, whichever process stored it
            await lock_stories(session)
            # stamped under the lock, which a digest run's read takes too: an article stored at 08:00:00.1 is
            # either seen by the 08:00 run or stamped after it (and in the next digest), never neither
            now = self._now()
            repo = ArticleRepo(session)
            seen = _SeenArticles(
                await repo.stored_matches(
                    links=[prepared.link for prepared, _ in batch if prepared.link],
                    content_hashes=[prepared.content_hash for prepared, _ in batch],
                    guids=[prepared.raw.guid for prepared, _ in batch if prepared.raw.guid],
                    source_id=source_id,
                ),
                source_id=source_id,
            )
            outcomes: list[Outcome] = []
            rows: list[tuple[PreparedArticle, dict[str, object]]] = []  # the new articles' columns
            # a duplicate, with the publisher it came under and its original: a stored id or a new article
            copies: list[tuple[PreparedArticle, str, int | PreparedArticle]] = []
            for prepared, publisher in batch:
                raw = prepared.raw
                shown_publisher = one_line(publisher or raw.author or _folder_name(raw.origin))[:256]
                original = seen.find(prepared)
                if original is not None:
                    copies.append((prepared, shown_publisher, original))
                    outcomes.append("duplicate")
                    continue
                seen.add(prepared)
                rows.append((prepared, _article_row(prepared, shown_publisher, source_id=source_id, now=now)))
                outcomes.append("imported")
            stored = await repo.add_all([row for _, row in rows])
            new = [(prepared, stored[prepared.content_hash]) for prepared, _ in rows]
            await _assign_stories(session, new, threshold=self._story_threshold)
            for prepared, shown_publisher, original in copies:
                original_id = original if isinstance(original, int) else stored[original.content_hash].id
                await _record_copy(session, original_id, prepared, source_id, shown_publisher, now)
            added = [
                NewArticleExtras(article, _current_summary(prepared, now), prepared.tags, prepared.terms)
                for prepared, article in new
            ]
            await repo.add_extras(added, tagger="extractive")
            return outcomes


class _SeenArticles:
    """What a batch's articles may be the same as: the stored articles that share a link, a text hash or (in
    one feed) a guid with one of them, and the batch's new articles before it. A match by text comes first,
    then by link, then by guid."""

    def __init__(self, stored: Sequence[StoredMatch], *, source_id: int | None) -> None:
        self._source_id = source_id
        self._by_hash: dict[str, int | PreparedArticle] = {}
        self._by_link: dict[str, int | PreparedArticle] = {}
        self._by_guid: dict[str, int | PreparedArticle] = {}
        for match in stored:
            # a guid names an entry within its own feed only: another feed's article with that guid is another
            guid = match.guid if match.source_id == source_id else None
            self._remember(match.content_hash, match.link, guid, match.id)

    def find(self, prepared: PreparedArticle) -> int | PreparedArticle | None:
        found = self._by_hash.get(prepared.content_hash)
        if found is None and prepared.link:
            found = self._by_link.get(prepared.link)
        if found is None and prepared.raw.guid and self._source_id is not None:
            found = self._by_guid.get(prepared.raw.guid)
        return found

    def add(self, prepared: PreparedArticle) -> None:
        """A new article of the batch: the later ones may be copies of it."""
        self._remember(prepared.content_hash, prepared.link, prepared.raw.guid, prepared)

    def _remember(
        self, content_hash: str, link: str | None, guid: str | None, original: int | PreparedArticle
    ) -> None:
        self._by_hash.setdefault(content_hash, original)
        if link:
            self._by_link.setdefault(link, original)
        if guid and self._source_id is not None:
            self._by_guid.setdefault(guid, original)


def _article_row(
    prepared: PreparedArticle, publisher: str, *, source_id: int | None, now: datetime
) -> dict[str, object]:
    """A new article's columns; its story is chosen once it is stored (`_assign_stories`)."""
    raw = prepared.raw
    return {
        "source_id": source_id,
        "title": prepared.title,
        "link": prepared.link,
        "guid": raw.guid,
        "author": raw.author,
        "publisher": publisher,
        "published_at": raw.published,
        "listed_at": listing_time(raw, now),
        "ingested_at": now,
        "text": prepared.text,
        "html": raw.body,
        "image_url": prepared.image_url,
        "content_hash": prepared.content_hash,
        "language": prepared.language,
        "categories": "\n".join(raw.categories),
        "is_excerpt": raw.is_excerpt,
        "origin": raw.origin,
        "story_id": None,
        "is_story_lead": True,
        "story_fingerprint": prepared.story.to_json(),
    }


def _current_summary(prepared: PreparedArticle, now: datetime) -> Summary:
    return Summary(
        text=prepared.summary.text,
        method=prepared.summary.method,
        model=None,
        version=prepared.summary.version,
        is_current=True,
        created_at=now,
    )


# the newest members of one story a new article is compared with
MEMBERS_COMPARED = 3


async def _assign_stories(
    session: AsyncSession, new: Sequence[tuple[PreparedArticle, Article]], *, threshold: float
) -> None:
    """Join each new (flushed) article, in order, to the story of the report most like it, stored before or
    earlier in the batch, or start a story; then settle the stories' leads and write the batch's story keys
    and links at once.

    The batch's articles have no story keys in the database until the end, so the candidate lookup finds
    stored articles only and the batch's earlier ones are matched here, by the same keys and window. Which
    story an article joins never depends on the leads, so they are settled afterwards, with one read of the
    stored stories' leads and one update of those that lose it."""
    in_batch: list[tuple[StoryCandidate, StoryFingerprint, frozenset[str]]] = []
    with session.no_autoflush:  # the links are written once, below, not before every lookup
        for prepared, article in new:
            story = prepared.story
            keys = frozenset(story.lookup_keys)
            stored = await story_candidates(
                session, story.lookup_keys, listed_at=article.listed_at, exclude=article.id
            )
            earlier = [
                (candidate, fingerprint)
                for candidate, fingerprint, their_keys in in_batch
                if keys & their_keys and abs(candidate.listed_at - article.listed_at) <= STORY_WINDOW
            ]
            fingerprints = {candidate.article_id: fingerprint for candidate, fingerprint in earlier}
            candidates = sorted(
                [*stored, *(candidate for candidate, _ in earlier)],
                key=lambda candidate: (candidate.listed_at, candidate.article_id),
                reverse=True,
            )[:MAX_CANDIDATES]
            best = _most_similar_story(article, story, candidates, fingerprints, threshold=threshold)
            article.story_id = article.id if best is None else best
            candidate = StoryCandidate(article.id, article.story_id, article.listed_at, None, article.origin)
            in_batch.append((candidate, story, keys))
        # still unflushed: the leads read are the stored articles', not the batch's
        await _settle_leads(session, [article for _, article in new])
        await write_story_links(session, [article for _, article in new])
        await add_story_publishers(
            session, [(a.story_id, a.publisher) for _, a in new if a.story_id is not None]
        )
    await add_many_story_keys(
        session, [(article.id, prepared.story.lookup_keys, article.listed_at) for prepared, article in new]
    )


async def _settle_leads(session: AsyncSession, articles: Sequence[Article]) -> None:
    """Each story's lead after the batch's `articles` joined, in order: the fullest report (of equals, the
    earliest stays). A stored lead that a new article outgrows is demoted."""
    batch_articles = {article.id: article for article in articles}
    leads = await story_leads(
        session, {a.story_id for a in articles if a.story_id is not None and a.story_id not in batch_articles}
    )
    demoted: set[int] = set()
    for article in articles:
        assert article.story_id is not None
        chars = len(article.text)
        lead = leads.get(article.story_id)
        if article.story_id == article.id or lead is None or chars > lead[1]:
            article.is_story_lead = True
            leads[article.story_id] = (article.id, chars)
            if lead is not None:
                if lead[0] in batch_articles:
                    batch_articles[lead[0]].is_story_lead = False
                else:
                    demoted.add(lead[0])
        else:
            article.is_story_lead = False
    await demote_leads(session, demoted)


def _most_similar_story(
    article: Article,
    story: StoryFingerprint,
    candidates: Sequence[StoryCandidate],
    fingerprints: dict[int, StoryFingerprint],
    *,
    threshold: float,
) -> int | None:
    """The id of the story whose report (newest first) is most like `story`, at `threshold` or above."""
    best: tuple[float, int] | None = None  # (similarity, story id)
    compared: Counter[int] = Counter()
    for candidate in candidates:  # newest first
        # a few members speak for a story: a flood of near-copies must not cost a comparison each
        if compared[candidate.story_id] >= MEMBERS_COMPARED:
            continue
        if article.origin is not None and candidate.origin == article.origin:
            # one feed (or feed file) lists a story once: its entries are different stories, however alike
            # their boilerplate (喷嚏网's video items, a paper's daily "60 segundos" columns)
            continue
        other = fingerprints.get(candidate.article_id) or _stored_fingerprint(candidate.fingerprint)
        hours = (article.listed_at - candidate.listed_at).total_seconds() / 3600
        if other is None or abs(hours) > MAX_HOURS_APART:
            continue
        compared[candidate.story_id] += 1
        similarity = story_similarity(story, other)
        if similarity < threshold:
            continue
        if best is None or (similarity, -candidate.story_id) > (best[0], -best[1]):  # equals: oldest story
            best = (similarity, candidate.story_id)
    return None if best is None else best[1]


def _stored_fingerprint(stored: str | None) -> StoryFingerprint | None:
    if not stored:
        return None
    try:
        return StoryFingerprint.from_json(stored)
    except (ValueError, KeyError, TypeError):  # an older or damaged fingerprint: not comparable
        return None


async def _record_copy(
    session: AsyncSession,
    duplicate_id: int,
    prepared: PreparedArticle,
    source_id: int | None,
    publisher: str,
    now: datetime,
) -> None:
    """An exact copy from another publisher, sub-feed or under another title becomes a member of the stored
    article's story (once: a re-import adds nothing); the stored article itself met again is no copy."""
    stored = await session.get(Article, duplicate_id)
    if stored is None or (stored.publisher, stored.title) == (publisher, prepared.title):
        return
    added = await add_copy(
        session,
        StoryCopy(
            article_id=duplicate_id,
            source_id=source_id,
            publisher=publisher,
            title=prepared.title,
            link=prepared.link,
            published_at=prepared.raw.published,
            ingested_at=now,
        ),
    )
    if added and stored.story_id is not None:
        await add_story_publishers(session, [(stored.story_id, publisher)])


def _where(raw: RawArticle) -> str:
    return f"{raw.origin} ({raw.title[:40]})" if raw.title else raw.origin


def read_article_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of an article file; SourceError for what is not a regular file (a FIFO would block the read
    forever), is empty, or is over `max_bytes` (also when it grows while being read)."""
    # Opened without waiting and judged by what was opened: a FIFO put in the file's place after a look at
    # its name once blocked the open itself, for ever.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(str(path), "not a regular file")
        data = file.read(max_bytes + 1)
    if not data:
        raise SourceError(str(path), "empty file")
    if len(data) > max_bytes:
        size = max(status.st_size, len(data))
        raise SourceError(str(path), f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    return data


def _folder_name(origin: str) -> str:
    return Path(origin).parent.name or "import"
