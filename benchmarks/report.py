"""Writes BENCHMARKS.md from the parts' results: the machine, the date, the targets and a section per part."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import PartResult, machine, table

# For each target (by the start of its text): what was tried and what limits it, printed when it is missed.
UNMET: list[tuple[str, str]] = [
    (
        "tags: recall@5",
        "Tried: title weighting, entity boost, part of speech from jieba's dictionary. The reference "
        "keywords are authors' keywords of scientific abstracts, often multi-word terms jieba splits; both "
        "taggers find about one in seven. The gap to the baseline is within one keyword in 300 documents, "
        "and it comes from the stop list and number filter removing words the baseline keeps (which is the "
        "point of the second tag target).",
    ),
    (
        "ingest: import",
        "Tried: part of speech from jieba's dictionary over one ordinary cut (tagging 4x faster), sparse "
        "PageRank bounded by the budget (ranking 2.2x faster), files prepared in worker processes with "
        "two batches in flight, 50 articles per transaction with their summaries, terms, tags and day "
        "counts written once per batch (12.7 -> 6.2 statements per article); rjieba (15-18x faster cuts, "
        "different tokens: not adopted). What limits it: preparing an article costs 11-16 ms of one core "
        "(cleaning, boilerplate, TextRank, tags, language, fingerprint; jieba is a fraction of it) and "
        "storing ~7.4 ms in the importer (SQLAlchemy and aiosqlite's thread hops; about half inside "
        "SQLite), against 2.1 ms for a bare jieba cut. On two cores the worker's preparing is the "
        "bottleneck (a second worker gains ~8%: the importer needs its core); on one core both add up. "
        "Next: one shared tokenization (`analyze()`) and cheaper cleaning/boilerplate passes on the "
        "preparing side; a synchronous sqlite3 path for bulk imports on the storing side (section 7).",
    ),
    (
        "summaries: beat Lead-1",
        "Tuned on the dev split only (section 1): filling the budget best-first, skipping off-topic "
        "sentences, at most 70% of the text beyond the first sentence. The references are ~19-character "
        "headlines: at 150 characters every character past them costs F1, so filling the budget and beating "
        "Lead-1 (41 characters there) pull against each other on this data; at 30 the gap is 0.05 ROUGE-1 "
        "with ROUGE-2 and ROUGE-L ahead, within the noise of 250 pairs.",
    ),
    (
        "read (SQLite",
        "Tried: per-day tag counts for /topics keyed by (day, tag_id) (71 ms before, when the key started "
        "with tag_id and SQLite walked all of it), tag listings on (tag_id, listed_at), FTS5 for search. "
        "What limits it: a week of counts is about 21,000 rows summed and sorted per call, and a two-word "
        "search intersects two FTS5 posting lists. Next: cache /topics for a minute (it changes slowly), or "
        "keep a weekly rollup.",
    ),
    (
        "read (PostgreSQL, 1,000,000 articles)",
        "Tried: a GIN index on to_tsvector('simple', terms); searching the newest id ranges first (that made "
        "two-word searches with few matches take seconds, and was reverted). What limits it: with ORDER BY "
        "article_id DESC LIMIT the planner walks the primary key backwards and computes to_tsvector for "
        "every row until it has enough matches, instead of using the GIN index (see the plans above). Next: "
        "a stored tsvector column with the GIN index on it, and the matches fetched in a MATERIALIZED CTE "
        "before ordering; or the RUM extension, which returns matches in order.",
    ),
    (
        "read (PostgreSQL): no full scan",
        "The only sequential scan is of `tags` (3,000 rows, 50 cost units), which the planner prefers to 20 "
        "index probes when it joins tag names to a page; it does not grow with the number of articles.",
    ),
    (
        "fan-out: ≥ 500",
        "What limits it: the client side of the Bot API calls. On PTB's default httpx backend one "
        "process sent about 790 messages/s at most (8 in flight; 570/s with 32), which is why the Bot API "
        "calls now go through an aiohttp backend (bot/telegram_request.py, about 3,000/s). Building, "
        "claiming and recording share the same two cores with the fake server.",
    ),
    (
        "fan-out: zero 429s",
        "The fake server counts arrival times in a strict sliding window; the sender counts a request when "
        "it leaves, 80 ms of margin on every window. A Bot whose connection pool is smaller than the "
        "requests in flight queues requests after they were counted, and their arrivals bunch up (PTB's own "
        "default pool is one connection).",
    ),
]


def explain(results: list[PartResult]) -> list[str]:
    """The section on missed targets: each with what was tried and what limits it."""
    missed = [t for r in results for t in r.targets if not t.met]
    if not missed:
        return []
    lines = ["## Targets not met: what was tried and what limits them", ""]
    for target in missed:
        why = next((text for prefix, text in UNMET if target.what.startswith(prefix)), "No analysis yet.")
        lines += [f"- **{target.what}** — measured {target.measured}. {why}", ""]
    return lines


def render(results: list[PartResult], *, command: str, seconds: float) -> str:
    info = machine()
    lines = [
        "# newsbot benchmarks",
        "",
        f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} minutes. "
        "Figures are the median of the runs made, with min–max and the number of runs; baselines ran in the "
        "same process or run, so comparisons are side by side. Benchmarks are not tests: the test suite only "
        "checks that this command runs (`tests/benchmarks/test_bench_smoke.py`).",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        "## Targets",
        "",
        table(
            ["target", "measured", "met"],
            [[t.what, t.measured + (f" — {t.note}" if t.note else ""), "yes" if t.met else "**no**"]
             for r in results for t in r.targets],
        ),
        "",
    ]
    lines += explain(results)
    for result in results:
        lines += [f"## {result.title}", ""]
        for section in result.sections:
            lines += [section, ""]
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
