"""The inbox: post files dropped into a folder (INBOX_DIR), imported once they have stopped changing.

Several processes may watch one folder over one database, and each version of a file (its size and mtime)
is imported by one of them. Before importing a file a process claims it in `inbox_files`, in one
INSERT ... ON CONFLICT statement: it gets the file when no process has claimed it yet, when the file changed
after its last import, or when the process that claimed it died while importing it (the claim ran out).
Otherwise the file is imported already, or being imported elsewhere (then it is looked at again next time).

Parsing and storing articles is `IngestService.import_file`'s work, not this module's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import Failure, ImportResult, IngestService, process_name, utc_now
from bot.sources.files import is_article_file
from db.models import InboxFile

log = logging.getLogger(__name__)

# How long a claim on an inbox file lasts: far longer than importing one file takes (files are capped at
# MAX_FILE_BYTES), so it runs out only when its process died mid-import; another process imports it then.
CLAIM_TTL = timedelta(minutes=10)
MAX_KEY_CHARS = 2048  # inbox_files.path

# a file's version: size in bytes and mtime in integer nanoseconds (compared exactly, unlike float seconds)
Signature = tuple[int, int]

CLAIMED = "claimed"
DONE = "done"  # this version was imported (here or elsewhere)
BUSY = "busy"  # another process is importing it


@dataclass(slots=True)
class InboxWatcher:
    """Which post files of a folder are ready: their size and mtime did not change between two looks, so they
    are not half-written. It only looks at files; `InboxService` decides, with the database, who imports them.
    """

    folder: Path
    seen: dict[Path, Signature] = field(default_factory=dict)  # dealt with, in this version
    settling: dict[Path, Signature] = field(default_factory=dict)  # as at the last look

    def ready_files(self) -> list[tuple[Path, Signature]]:
        """Files that have settled and were not dealt with in this version; they stay ready until `done`.

        Hidden files and folders are passed over, as `newsbot import` does: writers stage files there
        (".tmp/post.md", then renamed into place), and a staged file imported too would be a second copy.
        Links to folders are not followed; a link to a file is listed, for `InboxService` to judge."""
        if not self.folder.is_dir():
            return []
        ready = []
        for path in self._article_files():
            try:
                stat = path.stat()
            except OSError:  # removed or renamed since the listing, or a dangling link
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            if self.seen.get(path) == signature:
                continue
            if self.settling.get(path) == signature:
                ready.append((path, signature))
            else:
                self.settling[path] = signature
        return ready

    def done(self, path: Path, signature: Signature) -> None:
        self.seen[path] = signature
        self.settling.pop(path, None)

    def _article_files(self) -> list[Path]:
        found = []
        for root, dirs, files in os.walk(self.folder):  # os.walk does not descend into links to folders
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [path for path in map(Path(root).joinpath, files) if is_article_file(path)]
        return sorted(found)

    def outside(self, path: Path) -> bool:
        """Whether `path` (a file of the folder) is a link that leads out of the folder: whoever may drop
        files here must not get newsbot to read, and publish, a file elsewhere on the server."""
        return path.is_symlink() and not path.resolve().is_relative_to(self.folder)


@dataclass(slots=True)
class InboxReport:
    """What one look at the inbox did: the files this process imported, and their articles."""

    files: int = 0
    result: ImportResult = field(default_factory=ImportResult)


def claim_key(path: Path) -> str:
    """The file's key among the claims: its path, or a digest of it for a path the column cannot hold (a
    name in bytes that are not UTF-8, as Windows archives unpack; over 2,048 characters). Such a path once
    failed every look at the folder, and no file after it was imported."""
    text = str(path)
    try:
        text.encode("utf-8")  # such bytes are lone surrogates in `text`
    except UnicodeEncodeError:
        text = ""
    if text and len(text) <= MAX_KEY_CHARS:
        return text
    return "sha256:" + hashlib.sha256(os.fsencode(path)).hexdigest()


class InboxService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ingest: IngestService,
        folder: Path,
        *,
        holder: str | None = None,
        claim_ttl: timedelta = CLAIM_TTL,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        """`holder` names this process in its claims (one name per process)."""
        self._sessions = sessions
        self._ingest = ingest
        # one spelling of the folder for every process (relative or through a symlink), so their paths agree
        self._watcher = InboxWatcher(folder.resolve())
        self.holder = holder or process_name()
        self._claim_ttl = claim_ttl
        self._now = now

    async def import_ready(self, *, on_failure: Callable[[Failure], None] | None = None) -> InboxReport:
        """Import the files that have settled and that no process has imported in their current version."""
        report = InboxReport()
        for path, signature in await asyncio.to_thread(self._watcher.ready_files):
            key = claim_key(path)
            claim = await self._claim(key, signature)
            if claim == BUSY:
                continue  # being imported elsewhere: looked at again next time
            if claim == CLAIMED:
                if await asyncio.to_thread(self._watcher.outside, path):
                    result = ImportResult(failed=[Failure(str(path), "a link to a file outside the inbox")])
                else:
                    result = await self._ingest.import_file(path)
                await self._finish(key, result)
                report.files += 1
                report.result.add(result)
                if on_failure is not None:
                    for failure in result.failed:
                        on_failure(failure)
            # marked only now: if the import above raised, this process tries again once its claim runs out
            self._watcher.done(path, signature)
        return report

    async def _claim(self, key: str, signature: Signature) -> str:
        """Claim this version of the file for this process: CLAIMED, or DONE or BUSY."""
        now = self._now()
        size, mtime_ns = signature
        async with self._sessions() as session, session.begin():
            insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
            statement = insert(InboxFile).values(
                path=key, size=size, mtime_ns=mtime_ns, claimed_by=self.holder, claimed_at=now
            )
            new = statement.excluded
            claimed = await session.scalar(
                statement.on_conflict_do_update(
                    index_elements=["path"],
                    set_={
                        "size": new.size,
                        "mtime_ns": new.mtime_ns,
                        "claimed_by": new.claimed_by,
                        "claimed_at": new.claimed_at,
                        "imported_at": None,
                        "outcome": None,
                    },
                    # the row is taken over only when its import is over and the file changed since, or when
                    # its importer stopped before finishing (the claim ran out); otherwise the row stays
                    where=or_(
                        and_(
                            InboxFile.imported_at.is_not(None),
                            or_(InboxFile.size != new.size, InboxFile.mtime_ns != new.mtime_ns),
                        ),
                        and_(InboxFile.imported_at.is_(None), InboxFile.claimed_at <= now - self._claim_ttl),
                    ),
                ).returning(InboxFile.id)
            )
            if claimed is not None:
                return CLAIMED
            row = (
                await session.execute(
                    select(InboxFile.size, InboxFile.mtime_ns, InboxFile.imported_at).where(
                        InboxFile.path == key
                    )
                )
            ).one()
        if row.imported_at is not None and (row.size, row.mtime_ns) == signature:
            return DONE
        return BUSY

    async def _finish(self, key: str, result: ImportResult) -> None:
        async with self._sessions() as session, session.begin():
            # only while the claim is ours: a process that took over a claim that ran out records its own
            await session.execute(
                update(InboxFile)
                .where(InboxFile.path == key, InboxFile.claimed_by == self.holder)
                .values(imported_at=self._now(), outcome=result.summary_line()[:200])
                .execution_options(synchronize_session=False)
            )
