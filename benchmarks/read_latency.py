"""Part 3, read latency: the exact queries behind /latest, /search and /topics (`db.repositories`) on a
database of generated articles with tags and current summaries, on SQLite and on the local PostgreSQL.

The schema is the real one (`db.engine.upgrade_schema`); rows go in through the drivers' bulk paths. Each
query function runs in its own session, as the bot calls it; its SQL statements are captured with a
`before_cursor_execute` listener and explained (EXPLAIN QUERY PLAN / EXPLAIN). The PostgreSQL database
`newsbot_bench` is created for the run and dropped afterwards. Nothing here changes db/ code.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from benchmarks import datagen
from benchmarks.measure import PartResult, Target, percentile, speed_line, speed_mark, table
from bot.runner import freeze_startup_objects
from db.engine import make_engine, make_sessionmaker, upgrade_schema
from db.repositories import (
    CANDIDATES_PER_READ,
    StoredStories,
    article_views,
    digest_candidates,
    digest_candidates_since,
    latest_articles,
    search_articles,
    stories_stored_between,
    top_tags,
)
from db.stories import story_candidates
from summarizer.matching import query_words

P95_TARGET_MS = 20.0
STORY_LOOKUP_TARGET_MS = 5.0  # issue 12: the lookup runs once per imported article
STORY_LOOKUP = "story lookup"
DIGEST_SELECTION = "digest selection"
# the daily run's whole read of its candidates: several reads, reported on its own, not one read path
WHOLE_SELECTION = "digest selection, whole"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "newsbot_bench"
PAGE = 20

Query = Callable[[AsyncSession], Awaitable[Any]]


def queries(now: datetime) -> list[tuple[str, str, Query]]:
    """(name, call as written in the report, the call)."""
    found: dict[str, list[int]] = {}

    async def _on_demand_ids(s: AsyncSession) -> list[int]:
        return [c.id for c in await digest_candidates_since(s, now - timedelta(hours=24))]

    async def _daily_ids(s: AsyncSession) -> list[int]:
        chosen = await StoredStories.between(
            s, now - timedelta(days=1), now, dated_after=now - timedelta(days=2), limit=1000
        )
        return list(chosen.starts)

    async def _with_ids(
        s: AsyncSession,
        ids_of: Callable[[AsyncSession], Awaitable[list[int]]],
        read: Callable[[list[int]], Awaitable[Any]],
    ) -> Any:
        """`read` of the ids `ids_of` finds, found once (in the warm-up calls, which are not timed)."""
        key = ids_of.__name__
        if key not in found:
            found[key] = await ids_of(s)
        return await read(found[key])

    tags = datagen.tag_names()
    words = datagen.vocabulary()
    common_tag, rare_tag = tags[10], tags[2000]
    word1, word2 = words[60], words[150]
    since = now - timedelta(days=7)
    # a new article's lookup at its import: its 16 band keys match nothing stored (a new story) and its 8
    # keyword keys are the 8 most common words, each shared by hundreds of articles of the last 72 hours
    # (id 0 is never stored)
    lookup_keys = [*datagen.story_keys(0, random.Random(1), []), *("k" + w for w in words[:8])]
    return [
        ("/latest page 1", f"latest_articles(limit={PAGE})", lambda s: latest_articles(s, limit=PAGE)),
        (
            "/latest page 50",
            f"latest_articles(limit={PAGE}, offset={49 * PAGE})",
            lambda s: latest_articles(s, limit=PAGE, offset=49 * PAGE),
        ),
        (
            "/latest tag (common)",
            f"latest_articles(limit={PAGE}, tag='{common_tag}')",
            lambda s: latest_articles(s, limit=PAGE, tag=common_tag),
        ),
        (
            "/latest tag (rare)",
            f"latest_articles(limit={PAGE}, tag='{rare_tag}')",
            lambda s: latest_articles(s, limit=PAGE, tag=rare_tag),
        ),
        (
            "/search 1 word",
            f"search_articles(query_words('{word1}'), limit={PAGE})",
            lambda s: search_articles(s, query_words(word1), limit=PAGE),
        ),
        (
            "/search 2 words",
            f"search_articles(query_words('{word1} {word2}'), limit={PAGE})",
            lambda s: search_articles(s, query_words(f"{word1} {word2}"), limit=PAGE),
        ),
        ("/topics", "top_tags(since=now - 7 days)", lambda s: top_tags(s, since=since)),
        (
            "/digest (on demand)",
            "digest_candidates_since(now - 24 hours): up to 500 leads, as /digest chooses from them",
            lambda s: digest_candidates_since(s, now - timedelta(hours=24)),
        ),
        (
            "/digest's items",
            "article_views(10 of those ids): the full views of the items a digest shows",
            lambda s: _with_ids(s, _on_demand_ids, lambda ids: article_views(s, ids[:10])),
        ),
        (
            DIGEST_SELECTION,
            "StoredStories.between(now - 1 day, now, dated_after=now - 2 days, limit=1000): which stories, "
            "the read under the story lock",
            lambda s: StoredStories.between(
                s, now - timedelta(days=1), now, dated_after=now - timedelta(days=2), limit=1000
            ),
        ),
        (
            "digest candidates",
            f"digest_candidates({CANDIDATES_PER_READ} of those ids): one of the daily run's reads of what "
            "choosing needs",
            lambda s: _with_ids(
                s, _daily_ids, lambda ids: digest_candidates(s, ids[:CANDIDATES_PER_READ])
            ),
        ),
        (
            WHOLE_SELECTION,
            "stories_stored_between(now - 1 day, now, dated_after=now - 2 days, limit=1000): the two "
            f"above, the candidates {CANDIDATES_PER_READ} per read (not one read)",
            lambda s: stories_stored_between(
                s, now - timedelta(days=1), now, dated_after=now - timedelta(days=2), limit=1000
            ),
        ),
        (
            STORY_LOOKUP,
            "story_candidates(16 new band keys + 8 most common keywords, listed_at=now)",
            lambda s: story_candidates(s, lookup_keys, listed_at=now),
        ),
    ]


@dataclass
class Measured:
    name: str
    call: str
    times_ms: list[float]
    rows: int
    plans: list[str] = field(default_factory=list)
    full_scans: list[str] = field(default_factory=list)

    @property
    def p95(self) -> float:
        return percentile(self.times_ms, 95)


class StatementLog:
    """Records the SQL statements an engine sends while `on`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if self.on and not statement.lstrip().upper().startswith("EXPLAIN"):
            self.statements.append((statement, parameters))


_SQLITE_FULL = re.compile(r"\bSCAN (\w+)(?!.*\bUSING\b)")
_SQLITE_SUBQUERY = re.compile(r"\b(?:MATERIALIZE|CO-ROUTINE) (\w+)")
_PG_FULL = re.compile(r"Seq Scan on (\w+)")


async def explain(engine: AsyncEngine, statement: str, parameters: Any) -> tuple[str, list[str]]:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + statement, parameters)
        rows = result.all()
    if sqlite:
        # (id, parent, notused, detail): indent by depth
        depth: dict[int, int] = {0: 0}
        lines = []
        for node_id, parent, _unused, detail in rows:
            depth[node_id] = depth.get(parent, 0) + 1
            lines.append("  " * (depth[node_id] - 1) + detail)
        # an FTS5 match ("SCAN t VIRTUAL TABLE INDEX") and a scan of a small materialized subquery (anon_N,
        # or one the plan names in MATERIALIZE / CO-ROUTINE) are not table scans
        subqueries = {m.group(1) for line in lines if (m := _SQLITE_SUBQUERY.search(line))}
        full = [
            m.group(1)
            for line in lines
            if (m := _SQLITE_FULL.search(line))
            and "VIRTUAL TABLE" not in line
            and not m.group(1).startswith("anon_")
            and m.group(1) not in subqueries
        ]
    else:
        lines = [row[0] for row in rows]
        full = [m.group(1) for line in lines if (m := _PG_FULL.search(line))]
    return "\n".join(lines), full


async def measure(engine: AsyncEngine, now: datetime, *, reps: int, budget_s: float) -> list[Measured]:
    sessions = make_sessionmaker(engine)
    log = StatementLog(engine)
    out = []
    for name, call, query in queries(now):
        for _ in range(2):  # warm the caches and the statement cache
            async with sessions() as s:
                await query(s)
        log.statements.clear()
        log.on = True
        async with sessions() as s:
            found = await query(s)
        log.on = False
        measured = Measured(name, call, [], len(found))
        for statement, parameters in log.statements:
            plan, full = await explain(engine, statement, parameters)
            measured.plans.append(f"{statement.strip()}\n-- plan:\n{plan}")
            measured.full_scans += full
        started = time.perf_counter()
        while len(measured.times_ms) < reps and (
            len(measured.times_ms) < 5 or time.perf_counter() - started < budget_s
        ):
            t0 = time.perf_counter()
            async with sessions() as s:
                await query(s)
            measured.times_ms.append(1000 * (time.perf_counter() - t0))
        out.append(measured)
    return out


def _fill_sqlite_timed(path: Path, count: int, now: datetime) -> float:
    """Fill the SQLite file in a process of its own (it runs beside the PostgreSQL build); seconds taken."""
    t0 = time.perf_counter()
    datagen.fill_sqlite(path, count, now=now)
    return time.perf_counter() - t0


async def _pg_admin() -> Any:
    import asyncpg

    url = make_url(PG_ADMIN_URL)
    return await asyncio.wait_for(
        asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
        ),
        timeout=5,
    )


async def _create_pg_database(name: str) -> str:
    """A fresh, migrated database `name`; the server's version."""
    admin = await _pg_admin()
    try:
        version: str = await admin.fetchval("SHOW server_version")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    engine = make_engine(_pg_url(name))
    try:
        await upgrade_schema(engine)
    finally:
        await engine.dispose()
    return version


async def _drop_pg_database(name: str) -> None:
    admin = await _pg_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@dataclass
class Built:
    sqlite_s: float
    pg_s: float | None  # None: the server did not answer
    pg_version: str


async def _build(sqlite_path: Path, pg_name: str, count: int, now: datetime) -> Built:
    """Both databases built side by side: SQLite in a process of its own while this one feeds PostgreSQL
    (the two builds share the machine's cores, so each would be somewhat faster alone)."""
    engine = make_engine(f"sqlite+aiosqlite:///{sqlite_path}")
    try:
        await upgrade_schema(engine)
    finally:
        await engine.dispose()
    try:
        pg_version: str | None = await _create_pg_database(pg_name)
    except (OSError, TimeoutError) as exc:
        pg_version = None
        unreachable = f"not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__})"
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        sqlite_built = loop.run_in_executor(pool, _fill_sqlite_timed, sqlite_path, count, now)
        pg_s = None
        if pg_version is not None:
            t0 = time.perf_counter()
            dsn = make_url(_pg_url(pg_name)).set(drivername="postgresql")
            await datagen.fill_postgres(dsn.render_as_string(hide_password=False), count, now=now)
            pg_s = time.perf_counter() - t0
        sqlite_s = await sqlite_built
    return Built(sqlite_s, pg_s, pg_version if pg_version is not None else unreachable)


async def _measure_url(url: str, now: datetime, reps: int, budget_s: float) -> list[Measured]:
    # as `newsbot run` does once it has started: a full collection then scans what the work made only
    freeze_startup_objects()
    engine = make_engine(url)
    try:
        return await measure(engine, now, reps=reps, budget_s=budget_s)
    finally:
        await engine.dispose()


def _rows(measured: list[Measured]) -> list[list[object]]:
    rows: list[list[object]] = []
    for m in measured:
        t = m.times_ms
        rows.append(
            [
                m.name,
                f"`{m.call}`",
                f"{percentile(t, 50):.1f}",
                f"{percentile(t, 95):.1f}",
                f"{percentile(t, 99):.1f}",
                f"{min(t):.1f}–{max(t):.1f}",
                len(t),
                m.rows,
                ", ".join(sorted(set(m.full_scans))) or "none",
                ("yes" if m.p95 < P95_TARGET_MS else "**no**")
                + (" (several reads)" if m.name == WHOLE_SELECTION else ""),
            ]
        )
    return rows


HEADER = [
    "query", "call", "p50 ms", "p95 ms", "p99 ms", "min–max ms", "runs", "rows", "full scans", "p95 < 20 ms"
]


def _plans(label: str, measured: list[Measured]) -> str:
    parts = [f"<details><summary>{label}: statements and query plans</summary>\n"]
    for m in measured:
        parts.append(f"**{m.name}** — `{m.call}`\n")
        for plan in m.plans:
            parts.append("```\n" + plan + "\n```")
    parts.append("</details>")
    return "\n".join(parts)


def run(*, quick: bool = False, articles: int | None = None) -> PartResult:
    result = PartResult("3. Read latency")
    result.add(speed_line(speed_mark()))
    count = articles or (2_000 if quick else 1_000_000)
    reps = 5 if quick else 40
    budget_s = 1.0 if quick else 6.0
    now = datetime.now(UTC)
    # a quick run (the smoke test) must not collide with a full run on the same server
    name = f"{PG_DATABASE}_smoke_{os.getpid()}" if quick else PG_DATABASE
    folder = Path(tempfile.mkdtemp(prefix="newsbot-bench-read-"))
    sqlite_path = folder / "read.db"
    try:
        built = asyncio.run(_build(sqlite_path, name, count, now))
        # measured one database at a time, with nothing else running
        sqlite_measured = asyncio.run(_measure_url(f"sqlite+aiosqlite:///{sqlite_path}", now, reps, budget_s))
        pg_measured = (
            asyncio.run(_measure_url(_pg_url(name), now, reps, budget_s)) if built.pg_s is not None else []
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError, TimeoutError):
            asyncio.run(_drop_pg_database(name))
    sqlite_built, pg_built, pg_version = built.sqlite_s, built.pg_s or 0.0, built.pg_version

    result.add(
        f"{count:,} generated articles (titles and summaries of corpus words drawn with Zipf-like weights, "
        f"{datagen.TAGS_PER_ARTICLE} tags each from {datagen.N_TAGS:,}, spread over {datagen.SPAN.days} "
        f"days, so the last 7 days hold about {count * 7 // datagen.SPAN.days:,}; the newest "
        f"{min(datagen.FULL_TEXT_NEWEST, count):,} also carry a body of about {datagen.BODY_CHARS:,} "
        "characters, as long as the corpus's articles, the rest only their title and summary), each with a "
        "current summary. Built with the Alembic schema, then bulk rows, the two databases side by side "
        "(SQLite in a "
        f"process of its own): SQLite {sqlite_built:.0f} s (sqlite3 executemany, no ANALYZE — newsbot never "
        f"runs it), PostgreSQL {pg_version} {pg_built:.0f} s (COPY, then VACUUM ANALYZE as autovacuum "
        "would). The bulk tables' indexes (and on PostgreSQL their keys and foreign keys) are built after "
        "the rows, as PostgreSQL's guide to populating a database advises, so they start compact where a "
        "live database's grew row by row. The queries are measured after both builds, one database at a "
        "time. Each query is the repository function the bot calls, in a fresh session, after two warm-up "
        f"calls; up to {reps} timed runs (fewer, at least 5, when a query takes "
        f"over {budget_s:.0f} s in all). Plans: SQLite `SCAN t` without an index is a full table scan; `SCAN "
        "t USING INDEX` walks an index in order and stops at the LIMIT (as long as enough rows match); "
        "PostgreSQL `Seq Scan` is a full scan."
    )
    result.add("**SQLite**\n\n" + table(HEADER, _rows(sqlite_measured)))
    if pg_measured:
        result.add("**PostgreSQL**\n\n" + table(HEADER, _rows(pg_measured)))
    else:
        result.add(f"**PostgreSQL**: {pg_version}; skipped.")
    result.add(_plans("SQLite", sqlite_measured))
    if pg_measured:
        result.add(_plans("PostgreSQL", pg_measured))

    for label, measured in (("SQLite", sqlite_measured), ("PostgreSQL", pg_measured)):
        if not measured:
            continue
        reads = [m for m in measured if m.name != WHOLE_SELECTION]
        slow = [f"{m.name} {m.p95:.0f} ms" for m in reads if m.p95 >= P95_TARGET_MS]
        scans = [f"{m.name} ({', '.join(sorted(set(m.full_scans)))})" for m in measured if m.full_scans]
        result.targets.append(
            Target(
                f"read ({label}, {count:,} articles): p95 < {P95_TARGET_MS:.0f} ms for every query",
                "all under" if not slow else "missed: " + "; ".join(slow),
                not slow,
            )
        )
        for m in measured:
            if m.name == WHOLE_SELECTION:
                result.targets.append(
                    Target(
                        f"daily digest's whole selection ({label}, {count:,} articles, 1,000 stories in "
                        f"several reads): p95 < {P95_TARGET_MS:.0f} ms",
                        f"{m.p95:.1f} ms",
                        m.p95 < P95_TARGET_MS,
                    )
                )
            if m.name == STORY_LOOKUP:
                result.targets.append(
                    Target(
                        f"story lookup ({label}, {count:,} articles): p95 < {STORY_LOOKUP_TARGET_MS:.0f} ms",
                        f"{m.p95:.1f} ms",
                        m.p95 < STORY_LOOKUP_TARGET_MS,
                    )
                )
        result.targets.append(
            Target(
                f"read ({label}): no full scan in any plan",
                "none" if not scans else "; ".join(scans),
                not scans,
            )
        )
    return result
