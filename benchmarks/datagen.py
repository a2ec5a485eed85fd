"""Generated articles for the read-latency and fan-out parts: realistic Chinese titles, summaries and
tags in bulk.

Words come from the shared corpus (jieba tokens), drawn with Zipf-like weights so some words and tags are
common and most are rare, like news. Rows are produced in chunks from a seeded generator, so the same N gives
the same database on SQLite and on PostgreSQL. Rows are written with the drivers' bulk paths (sqlite3
executemany, asyncpg COPY) into a schema built by the real Alembic migrations.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "articles"
TAGS_PER_ARTICLE = 4
# lookup keys per article, as summarizer.stories makes them: 16 MinHash bands, up to 8 keywords
BANDS = 16
KEYWORD_KEYS = 8
STORY_EVERY = 10
COPY_EVERY = 20
# Distinct tags: real ones keep coming (names, places, products): extract_tags on 1,104 real articles gave
# 5,126 distinct tags, growing nearly linearly, 85% used once. 3,000 made PostgreSQL hash-join a 20-page
# `tags` table where a real one is looked up by index; 100,000 (Zipf-weighted: the top ones dominate) is a
# cautious guess for 1,000,000 articles.
N_TAGS = 100_000
PUBLISHERS = [
    "新华社", "人民日报", "观察者网", "澎湃新闻", "财新", "界面新闻", "Reuters", "BBC 中文", "联合早报",
    "中新网",
]
# the articles span a year: 1M articles is about 2,700 a day
SPAN = timedelta(days=365)
CHUNK = 20_000
# the newest articles carry a body as long as the corpus's (1,076 characters of clean text on average), the
# rest only their title and summary: long texts where the reads look (the last week and more; a page that
# read every text's length once cost 3-4x on PostgreSQL), short ones where only a deep walk goes, so that
# the build stays within the benchmark's time
FULL_TEXT_NEWEST = 20_000
BODY_CHARS = 1_000
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")


@lru_cache(maxsize=1)
def vocabulary() -> list[str]:
    """Distinct Chinese words of the corpus, most frequent first."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    counts: dict[str, int] = {}
    for path in sorted(CORPUS.glob("*.md")):
        text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
        for word in jieba.lcut(text):
            if _CJK_WORD.match(word):
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    cumulative = []
    total = 0.0
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        cumulative.append(total)
    return cumulative


@lru_cache(maxsize=1)
def tag_names() -> list[str]:
    """N_TAGS distinct tags, most used first: the corpus's words, then two of them joined (a name's shape)."""
    words = vocabulary()
    names = words[:N_TAGS]
    seen = set(names)
    for first in words:
        for second in words[:64]:
            if len(names) >= N_TAGS:
                return names
            if (joined := first + second) not in seen:
                seen.add(joined)
                names.append(joined)
    return names


@dataclass(frozen=True)
class ArticleRow:
    id: int
    title: str
    link: str
    publisher: str
    listed_at: datetime
    text: str
    content_hash: str
    summary: str
    tag_ids: tuple[int, ...]  # 1-based ids into tag_names(), strongest first
    terms: str  # what /search finds it by, as `summarizer.matching.search_terms` makes them
    story_keys: tuple[str, ...]  # its story fingerprint's lookup keys (see `story_keys`)

    @property
    def story_id(self) -> int:
        """One article in STORY_EVERY reports the story of the one before it (and is not its lead)."""
        return self.id - 1 if self.id % STORY_EVERY == 0 and self.id > 1 else self.id

    @property
    def copy(self) -> tuple[object, ...] | None:
        """One article in COPY_EVERY was also carried, word for word, by another publisher."""
        if self.id % COPY_EVERY != COPY_EVERY // 2:
            return None
        publisher = PUBLISHERS[(self.id + 1) % len(PUBLISHERS)]
        return (self.id, self.id, None, publisher, self.title, f"https://copy.example.com/{self.id}")


@lru_cache(maxsize=1)
def _word_terms() -> dict[str, list[str]]:
    """Search-mode tokens of each vocabulary word (the generated texts are made of these words)."""
    from summarizer._jieba import cut_for_search

    return {
        word: [t.casefold() for t in cut_for_search(word) if any(ch.isalnum() for ch in t)]
        for word in vocabulary()
    }


@lru_cache(maxsize=200_000)
def _tag_terms(tag: str) -> list[str]:
    """Search-mode tokens of a tag that is not a vocabulary word (two of them joined)."""
    from summarizer._jieba import cut_for_search

    return [t.casefold() for t in cut_for_search(tag) if any(ch.isalnum() for ch in t)]


def _terms(words: list[str]) -> str:
    table = _word_terms()
    seen: dict[str, None] = {}
    for word in words:
        for token in table.get(word) or _tag_terms(word):
            seen.setdefault(token, None)
    return " ".join(seen)


def story_keys(article_id: int, rng: random.Random, words: list[str]) -> tuple[str, ...]:
    """Lookup keys shaped like `summarizer.stories.fingerprint`'s: BANDS band keys (hashes of a MinHash band,
    in effect unique to a story) and up to KEYWORD_KEYS keyword keys ("k" + word) from the article's words.

    A band key here starts with the article's id, so keys grow with ids and the bulk load appends to the
    primary key (key, article_id) instead of inserting at random; a lookup by equality costs the same
    whatever the keys' values.
    """
    bands = [f"b{band:02d}{article_id:010d}{rng.getrandbits(32):08x}" for band in range(BANDS)]
    return tuple(bands + ["k" + w for w in dict.fromkeys(words)][:KEYWORD_KEYS])


def articles(
    count: int, *, now: datetime, seed: int = 5, span: timedelta = SPAN
) -> Iterator[list[ArticleRow]]:
    """`count` articles in chunks over `span`, id 1 the oldest and id `count` listed just now."""
    words = vocabulary()
    word_cum = zipf_weights(len(words), 0.9)
    names = tag_names()
    tag_cum = zipf_weights(len(names), 1.0)
    n_tags = len(tag_cum)
    step = span / max(count, 1)
    for start in range(1, count + 1, CHUNK):
        rng = random.Random(seed * 1_000_003 + start)
        rows = []
        for i in range(start, min(start + CHUNK, count + 1)):
            title_words = rng.choices(words, cum_weights=word_cum, k=rng.randint(4, 7))
            summary_words = rng.choices(words, cum_weights=word_cum, k=rng.randint(14, 24))
            title = "".join(title_words)
            summary = "".join(summary_words) + "。"
            tags: list[int] = []
            while len(tags) < TAGS_PER_ARTICLE:
                t = rng.choices(range(1, n_tags + 1), cum_weights=tag_cum)[0]
                if t not in tags:
                    tags.append(t)
            text = title + "\n\n" + summary
            if i > count - FULL_TEXT_NEWEST:
                text += "\n\n" + _body(random.Random(i), words, word_cum)
            rows.append(
                ArticleRow(
                    id=i,
                    title=title,
                    link=f"https://news.example.com/{i}",
                    publisher=PUBLISHERS[i % len(PUBLISHERS)],
                    listed_at=now - step * (count - i),
                    text=text,
                    content_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                    summary=summary,
                    tag_ids=tuple(tags),
                    terms=_terms([*title_words, *summary_words, *(names[t - 1] for t in tags)]),
                    story_keys=story_keys(i, rng, [*title_words, *summary_words]),
                )
            )
        yield rows


def _body(rng: random.Random, words: list[str], word_cum: list[float]) -> str:
    """About BODY_CHARS characters of corpus words, in sentences (its own random stream, so the other
    columns are those of a run without bodies)."""
    sentences: list[str] = []
    length = 0
    while length < BODY_CHARS:
        sentence = "".join(rng.choices(words, cum_weights=word_cum, k=rng.randint(8, 20))) + "。"
        sentences.append(sentence)
        length += len(sentence)
    return "".join(sentences)


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_time(value: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a UTC time (naive, microseconds always written)."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime(_SQLITE_TIME)


ARTICLE_COLUMNS = (
    "id", "title", "link", "publisher", "published_at", "listed_at", "ingested_at", "text", "html",
    "content_hash", "language", "categories", "is_excerpt", "origin", "story_id", "is_story_lead",
)
SUMMARY_COLUMNS = ("id", "article_id", "text", "method", "version", "is_current", "created_at")
TAG_COLUMNS = ("article_id", "tag_id", "rank", "source", "listed_at")
KEY_COLUMNS = ("key", "article_id", "listed_at")
COPY_COLUMNS = ("id", "article_id", "source_id", "publisher", "title", "link", "published_at", "ingested_at")
# The tables the bulk load fills. Their indexes (and on PostgreSQL their keys and foreign keys) are dropped
# before it and built again after it, as PostgreSQL's "Populating a Database" advises: rows with random keys
# (story keys, content hashes) inserted into an index one by one cost several times more than sorting them
# once, and a foreign key checked per row costs a lookup each. SQLite keeps its primary keys and unique
# constraints (they cannot be dropped there); its raw connection does not check foreign keys.
BULK_TABLES = ("articles", "summaries", "article_tags", "article_terms", "story_keys", "story_copies")
# per-day tag counts from the stored tags, as migration 0004 computes them
_SQLITE_DAY_COUNTS = (
    "INSERT INTO tag_day_counts (tag_id, day, count) "
    "SELECT tag_id, date(listed_at), count(*) FROM article_tags GROUP BY tag_id, date(listed_at)"
)
_PG_DAY_COUNTS = (
    "INSERT INTO tag_day_counts (tag_id, day, count) SELECT tag_id, (listed_at AT TIME ZONE 'UTC')::date, "
    "count(*) FROM article_tags GROUP BY tag_id, (listed_at AT TIME ZONE 'UTC')::date"
)

# each story's publishers from its articles and copies, as migration 0016 fills them
_STORY_PUBLISHERS = (
    "INSERT INTO story_publishers (story_id, publisher) "
    "SELECT story_id, publisher FROM articles WHERE story_id IS NOT NULL "
    "UNION SELECT articles.story_id, story_copies.publisher FROM story_copies "
    "JOIN articles ON articles.id = story_copies.article_id WHERE articles.story_id IS NOT NULL"
)


def _article_values(row: ArticleRow, stamp: object) -> tuple[object, ...]:
    return (
        row.id, row.title, row.link, row.publisher, stamp, stamp, stamp, row.text, "",
        row.content_hash, "zh", "", False, "bench", row.story_id, row.story_id == row.id,
    )


def _copy_values(row: ArticleRow, stamp: object) -> tuple[object, ...] | None:
    return None if row.copy is None else (*row.copy, stamp, stamp)


def fill_sqlite(path: Path, count: int, *, now: datetime, span: timedelta = SPAN) -> None:
    """Bulk-insert `count` articles with summaries and tags into a migrated SQLite file."""
    import sqlite3

    names = tag_names()
    con = sqlite3.connect(path)
    try:
        # a file built for measuring needs no syncs, and a cache large enough for the indexes being filled
        # (the journal mode stays newsbot's: other connections may hold the file open)
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-2000000")
        con.execute("PRAGMA temp_store=MEMORY")
        con.executemany(
            "INSERT INTO tags (id, name, key) VALUES (?, ?, ?)",
            [(i + 1, name, name.casefold()) for i, name in enumerate(names)],
        )
        a_sql = (
            f"INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ARTICLE_COLUMNS))})"
        )
        s_sql = (
            f"INSERT INTO summaries ({', '.join(SUMMARY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(SUMMARY_COLUMNS))})"
        )
        t_sql = f"INSERT INTO article_tags ({', '.join(TAG_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
        k_sql = f"INSERT INTO story_keys ({', '.join(KEY_COLUMNS)}) VALUES (?, ?, ?)"
        c_sql = (
            f"INSERT INTO story_copies ({', '.join(COPY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COPY_COLUMNS))})"
        )
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' * len(BULK_TABLES))})",
            BULK_TABLES,
        ).fetchall()
        for name, _ in indexes:
            con.execute(f"DROP INDEX {name}")
        for chunk in articles(count, now=now, span=span):
            stamps = [_sqlite_time(r.listed_at) for r in chunk]
            con.executemany(a_sql, [_article_values(r, s) for r, s in zip(chunk, stamps, strict=True)])
            con.executemany(
                s_sql,
                [
                    (r.id, r.id, r.summary, "extractive", "ext-1", True, s)
                    for r, s in zip(chunk, stamps, strict=True)
                ],
            )
            con.executemany(
                t_sql,
                [
                    (r.id, t, rank, "extractive", s)
                    for r, s in zip(chunk, stamps, strict=True)
                    for rank, t in enumerate(r.tag_ids)
                ],
            )
            # the FTS5 table follows through the migration's triggers
            con.executemany(
                "INSERT INTO article_terms (article_id, terms) VALUES (?, ?)",
                [(r.id, r.terms) for r in chunk],
            )
            con.executemany(
                k_sql, [(k, r.id, s) for r, s in zip(chunk, stamps, strict=True) for k in r.story_keys]
            )
            con.executemany(
                c_sql, [v for r, s in zip(chunk, stamps, strict=True) if (v := _copy_values(r, s))]
            )
            con.commit()
        for _, sql in indexes:
            con.execute(sql)
        con.execute(_SQLITE_DAY_COUNTS)
        con.execute(_STORY_PUBLISHERS)
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as after a while of steady use: the WAL folded in
    finally:
        con.close()


async def fill_postgres(dsn: str, count: int, *, now: datetime, span: timedelta = SPAN) -> None:
    """The same rows through asyncpg COPY, then VACUUM ANALYZE (as autovacuum would after a bulk load)."""
    import asyncpg

    names = tag_names()
    con = await asyncpg.connect(dsn)
    try:
        await con.copy_records_to_table(
            "tags",
            records=[(i + 1, name, name.casefold()) for i, name in enumerate(names)],
            columns=["id", "name", "key"],
        )
        rebuild = await _drop_keys_and_indexes(con)
        for chunk in articles(count, now=now, span=span):
            await con.copy_records_to_table(
                "articles",
                records=[_article_values(r, r.listed_at) for r in chunk],
                columns=list(ARTICLE_COLUMNS),
            )
            await con.copy_records_to_table(
                "summaries",
                records=[(r.id, r.id, r.summary, "extractive", "ext-1", True, r.listed_at) for r in chunk],
                columns=list(SUMMARY_COLUMNS),
            )
            await con.copy_records_to_table(
                "article_tags",
                records=[
                    (r.id, t, rank, "extractive", r.listed_at)
                    for r in chunk
                    for rank, t in enumerate(r.tag_ids)
                ],
                columns=list(TAG_COLUMNS),
            )
            await con.copy_records_to_table(
                "article_terms", records=[(r.id, r.terms) for r in chunk], columns=["article_id", "terms"]
            )
            await con.copy_records_to_table(
                "story_keys",
                records=[(k, r.id, r.listed_at) for r in chunk for k in r.story_keys],
                columns=list(KEY_COLUMNS),
            )
            await con.copy_records_to_table(
                "story_copies",
                records=[v for r in chunk if (v := _copy_values(r, r.listed_at))],
                columns=list(COPY_COLUMNS),
            )
        await con.execute("SET maintenance_work_mem = '1GB'")
        for statement in rebuild:
            await con.execute(statement)
        await con.execute(_PG_DAY_COUNTS)
        await con.execute(_STORY_PUBLISHERS)
        for table in ("tags", "articles", "summaries", "story_copies"):
            await con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        # what autovacuum would do after a bulk load, done now so that it does not run during the measurements
        await con.execute("VACUUM ANALYZE")
        # and the load's pages written back now: a checkpoint spreads that over minutes, which overlapped the
        # measurements (a 2-word search's p95 went 14 -> 25 ms, with 108 ms outliers)
        try:
            await con.execute("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:  # not a superuser (nor pg_checkpoint): it happens later
            pass
    finally:
        await con.close()


async def _drop_keys_and_indexes(con: Any) -> list[str]:
    """Drop the bulk tables' foreign keys (and those pointing at them), keys and indexes; return the
    statements that make them again, in an order that works (indexes, keys, then foreign keys)."""
    foreign = await con.fetch(
        "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype = 'f' "
        "AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))",
        list(BULK_TABLES),
    )
    keys = await con.fetch(
        "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY($1)",
        list(BULK_TABLES),
    )
    for row in [*foreign, *keys]:
        await con.execute(f'ALTER TABLE {row["tab"]} DROP CONSTRAINT "{row["conname"]}"')
    indexes = await con.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1)",
        list(BULK_TABLES),
    )
    for row in indexes:
        await con.execute(f'DROP INDEX "{row["indexname"]}"')
    return [
        *(row["indexdef"] for row in indexes),
        *(f'ALTER TABLE {r["tab"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in [*keys, *foreign]),
    ]
