"""The inbox watched by several processes over one folder and one database: each version of a file imported
once, a changed file imported again, the claim of a process that died taken over; and a concurrent insert of
the same article counted as a duplicate without stopping the rest of the batch."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.inbox import InboxReport, InboxService
from bot.services.ingest import IngestService
from bot.services.prepare import prepare_article
from bot.sources.types import RawArticle
from db.models import Article, InboxFile
from tests.waiting import lock_waits

START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
CLAIM_TTL = timedelta(minutes=10)
POST = """---
title: '{title}'
author: 测试新闻
date: 2026-11-27 08:00:00
link: https://news.example.com/{link}
---
<p>{body}</p>
"""


class Clock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current


def ingest_service(sessions: async_sessionmaker[AsyncSession]) -> IngestService:
    return IngestService(
        sessions, default_tz=ZoneInfo("Asia/Shanghai"), summary_max_chars=150, max_file_bytes=1_000_000
    )


def inbox_service(
    sessions: async_sessionmaker[AsyncSession], folder: Path, *, holder: str, now: Callable[[], datetime]
) -> InboxService:
    return InboxService(
        sessions, ingest_service(sessions), folder, holder=holder, claim_ttl=CLAIM_TTL, now=now
    )


def write_post(folder: Path, slug: str, body: str, *, link: str | None = None) -> Path:
    path = folder / f"{slug}.md"
    path.write_text(POST.format(title=f"Story {slug}", link=link or slug, body=body), encoding="utf-8")
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


async def look(*services: InboxService) -> list[InboxReport]:
    """One look of every watcher at the same moment."""
    return list(await asyncio.gather(*(s.import_ready() for s in services)))


async def article_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count(Article.id))) or 0


async def test_two_watchers_import_each_file_once_and_a_changed_file_again(
    sessions: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    inbox: Path,
) -> None:
    clock = Clock()
    first = inbox_service(sessions, inbox, holder="host-a:1:aaaa", now=clock.now)
    second = inbox_service(other_process, inbox, holder="host-b:2:bbbb", now=clock.now)
    for slug in ("chips", "rain", "trains"):
        write_post(inbox, slug, f"The first report about {slug}, with enough words to summarize it.")
    (inbox / "notes.txt.tmp").write_text("not a post", encoding="utf-8")

    settling = await look(first, second)  # the first look only notes the sizes
    assert [r.files for r in settling] == [0, 0]
    settled = await look(first, second)
    assert sum(r.files for r in settled) == 3
    assert sum(r.result.imported for r in settled) == 3
    assert sum(r.result.duplicates for r in settled) == 0
    assert [f for r in settled for f in r.result.failed] == []
    later = await look(first, second)
    assert sum(r.files for r in later) == 0
    assert await article_count(sessions) == 3

    async with sessions() as session:
        rows = list(await session.scalars(select(InboxFile).order_by(InboxFile.path)))
    assert [Path(row.path).name for row in rows] == ["chips.md", "rain.md", "trains.md"]
    assert all(row.imported_at == START for row in rows)
    assert {row.outcome for row in rows} == {"imported 1, duplicates 0, failed 0"}

    # a file rewritten (a new story at a new link: the same link would be a duplicate) is imported again, once
    write_post(inbox, "rain", "The rain kept falling all through the night, flooding roads.", link="rain-2")
    await look(first, second)
    changed = await look(first, second)
    assert sum(r.files for r in changed) == 1
    assert sum(r.result.imported for r in changed) == 1
    assert sum(r.files for r in await look(first, second)) == 0
    assert await article_count(sessions) == 4


async def test_a_file_claimed_by_a_dead_process_is_imported_once_the_claim_runs_out(
    sessions: async_sessionmaker[AsyncSession], inbox: Path
) -> None:
    path = write_post(inbox, "orphan", "A report a killed process had started to import.")
    stat = path.stat()
    async with sessions() as session, session.begin():
        session.add(
            InboxFile(
                path=str(path.resolve()),
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
                claimed_by="host-a:1:dead",
                claimed_at=START,
            )
        )
    clock = Clock()
    survivor = inbox_service(sessions, inbox, holder="host-b:2:bbbb", now=clock.now)

    clock.current = START + CLAIM_TTL - timedelta(seconds=1)
    assert [r.files for r in await look(survivor) + await look(survivor)] == [0, 0]
    assert await article_count(sessions) == 0

    clock.current = START + CLAIM_TTL + timedelta(seconds=1)
    [report] = await look(survivor)
    assert report.files == 1
    assert report.result.imported == 1
    async with sessions() as session:
        row = await session.scalar(select(InboxFile))
    assert row is not None
    assert row.claimed_by == survivor.holder
    assert row.imported_at == clock.current



async def test_a_concurrent_insert_of_the_same_article_is_a_duplicate_and_the_batch_goes_on(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two processes store the same article at once: the one whose insert hits the unique constraint counts a
    duplicate. Made certain on PostgreSQL, where the second insert waits, visibly, on the first one's row."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no view of a writer waiting for another one, so the race cannot be staged")
    same = RawArticle(
        title="Same story",
        body="The same story, stored by two processes at the same moment, must be stored once.",
        body_format="text",
        origin="a.md",
        link="https://news.example.com/same",
    )
    other = RawArticle(
        title="Other story",
        body="Another story, in the same batch, that must be stored whatever happened to the first one.",
        body_format="text",
        origin="a.md",
        link="https://news.example.com/other",
    )
    prepared = prepare_article(same, max_chars=150)
    ingest = ingest_service(sessions)
    async with sessions() as rival:
        async with rival.begin():
            # the other process has inserted the article, and not committed yet
            rival.add(
                Article(
                    title=prepared.title,
                    link=prepared.link,
                    publisher="rival",
                    listed_at=START,
                    ingested_at=START,
                    text=prepared.text,
                    html=same.body,
                    content_hash=prepared.content_hash,
                    language=prepared.language,
                )
            )
            await rival.flush()
            storing = asyncio.create_task(ingest.store_articles([same, other]))
            for _ in range(1000):  # until our insert waits on the rival's row
                if await lock_waits(sessions) or storing.done():
                    break
                await asyncio.sleep(0.01)
            assert await lock_waits(sessions), "the insert never waited on the rival's uncommitted row"
        result = await storing
    assert (result.imported, result.duplicates, result.failed) == (1, 1, [])
    assert await article_count(sessions) == 2


async def test_hostile_files_are_named_failures_and_the_files_after_them_are_imported(
    sessions: async_sessionmaker[AsyncSession], inbox: Path
) -> None:
    """An alias bomb or 5,000 nested '[' once ended the whole look with a traceback, and the good files after
    it were marked seen and never imported (issue #11)."""
    watcher = inbox_service(sessions, inbox, holder="host-a:1:aaaa", now=Clock().now)
    (inbox / "a-bomb.md").write_text(
        '---\ntitle: t\ntags: &a ["x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n---\n\n<p>x</p>\n",
        encoding="utf-8",
    )
    (inbox / "b-deep.md").write_text("---\ntitle: t\ntags: " + "[" * 5000 + "\n---\n\nx\n", encoding="utf-8")
    (inbox / "c-binary.md").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (inbox / "d-self.md").write_text("---\ntitle: t\ntags: &x [*x]\n---\n\n<p>x</p>\n", encoding="utf-8")
    for slug in ("e-chips", "f-rain"):
        write_post(inbox, slug, f"The first report about {slug}, with enough words to summarize it.")

    failures: list[str] = []
    await watcher.import_ready()  # notes the sizes
    report = await watcher.import_ready(on_failure=lambda f: failures.append(str(f)))
    assert report.files == 6
    assert report.result.imported == 2
    assert [Path(f.split(":")[0]).name for f in failures] == [
        "a-bomb.md",
        "b-deep.md",
        "c-binary.md",
        "d-self.md",
    ]
    assert "aliases are not allowed" in failures[0]
    assert "nested more than 20 levels deep" in failures[1]
    assert await article_count(sessions) == 2
    assert (await watcher.import_ready()).files == 0  # each looked at once


async def test_names_no_column_holds_do_not_stop_the_inbox(
    sessions: async_sessionmaker[AsyncSession], inbox: Path
) -> None:
    """A post named in GBK bytes (a Windows archive unpacked here) and one under a path of over 2,048
    characters: their claims once failed every look at the folder, and no file after them was imported."""
    watcher = inbox_service(sessions, inbox, holder="host-a:1:aaaa", now=Clock().now)
    gbk_name = os.fsdecode("a-国家".encode("gbk") + b".md")
    write_post(inbox, "b-chips", "The first report about chips, with enough words to summarize it.")
    (inbox / "b-chips.md").rename(inbox / gbk_name)
    deep = inbox / "c" / ("d" * 200) / ("e" * 200) / ("f" * 200) / ("g" * 200) / ("h" * 200)
    deep = deep / ("i" * 200) / ("j" * 200) / ("k" * 200) / ("l" * 200) / ("m" * 200) / ("n" * 200)
    deep.mkdir(parents=True)
    write_post(deep, "post", "A report found deep in the folder, with enough words to summarize it.")
    write_post(inbox, "z-rain", "The last report about rain, with enough words to summarize it.")
    assert len(str(deep / "post.md")) > 2048

    await watcher.import_ready()  # notes the sizes
    failures: list[str] = []
    report = await watcher.import_ready(on_failure=lambda f: failures.append(str(f)))

    assert (report.files, report.result.imported, failures) == (3, 3, [])
    async with sessions() as session:
        origins = set(await session.scalars(select(Article.origin)))
    assert str(inbox / "a-\ufffd\ufffd\ufffd\ufffd.md") in origins
    assert (await watcher.import_ready()).files == 0  # each looked at once


async def test_links_out_of_the_inbox_and_hidden_folders_are_not_imported(
    sessions: async_sessionmaker[AsyncSession], inbox: Path, tmp_path: Path
) -> None:
    """Whoever may drop files into the inbox once got newsbot to read, and publish to every subscriber, a
    post file anywhere on the server through a link; and a file staged in a hidden folder (".tmp/x.md", then
    renamed into place) was imported twice."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "drafts").mkdir(parents=True)
    secret = write_post(elsewhere, "secret", "A private draft that nobody meant to publish, with many words.")
    write_post(elsewhere / "drafts", "draft", "Another private draft that was never meant for readers here.")
    (inbox / "a-link.md").symlink_to(secret)
    (inbox / "b-folder").symlink_to(elsewhere / "drafts", target_is_directory=True)
    (inbox / ".tmp").mkdir()
    write_post(inbox / ".tmp", "c-staged", "A report still being written, with enough words to summarize it.")
    (inbox / "sub").mkdir()
    inside = write_post(inbox / "sub", "d-rain", "A report about rain, with enough words to summarize it.")
    (inbox / "e-alias.md").symlink_to(inside)  # a link within the inbox is read as its file
    watcher = inbox_service(sessions, inbox, holder="host-a:1:aaaa", now=Clock().now)

    await watcher.import_ready()  # notes the sizes
    failures: list[str] = []
    report = await watcher.import_ready(on_failure=lambda f: failures.append(str(f)))

    assert failures == [f"{inbox / 'a-link.md'}: a link to a file outside the inbox"]
    assert (report.files, report.result.imported, report.result.duplicates) == (3, 1, 1)
    async with sessions() as session:
        titles = list(await session.scalars(select(Article.title)))
    assert titles == ["Story d-rain"]
    assert (await watcher.import_ready()).files == 0  # each looked at once
