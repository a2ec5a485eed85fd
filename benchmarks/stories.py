"""Part 5, stories: how well the corpus's reports of one event are grouped, and what grouping costs.

Pairwise precision and recall over every pair of the corpus's 54 posts against the groups SOURCES.md labels
(reposts, retitled copies, rewritten coverage), with the closest different-story pairs (the hard negatives)
and each miss named. The cost: `fingerprint` per article, and the stored-candidate lookup and comparisons per
article on a database holding the imported corpus, against the import's own time per article in the same run.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from datetime import UTC
from pathlib import Path

from benchmarks.corpus import ARTICLES, labelled_story_groups
from benchmarks.measure import PartResult, Target, percentile, table

COST_TARGET = 0.10  # grouping's share of the import time


def _labelled_pairs() -> set[frozenset[str]]:
    return {frozenset(pair) for group in labelled_story_groups() for pair in itertools.combinations(group, 2)}


def _prepared() -> dict[str, tuple[str, object, object]]:
    """number -> (title, fingerprint, listed time) of each corpus post, as the import prepares it."""
    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post

    found: dict[str, tuple[str, object, object]] = {}
    for path in sorted(ARTICLES.glob("*.md")):
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        prepared = prepare_article(raw, max_chars=150)
        found[path.stem] = (prepared.title, prepared.story, raw.published)
    return found


def grouping_section() -> tuple[str, list[Target]]:
    from summarizer.stories import SAME_STORY_THRESHOLD, same_story, story_similarity

    posts = _prepared()
    labelled = _labelled_pairs()
    tp = fp = fn = 0
    misses, merges, negatives = [], [], []
    for a, b in itertools.combinations(sorted(posts), 2):
        (title_a, fa, when_a), (title_b, fb, when_b) = posts[a], posts[b]
        hours = abs((when_a - when_b).total_seconds()) / 3600 if when_a and when_b else 1.0  # type: ignore[operator]
        score = story_similarity(fa, fb)  # type: ignore[arg-type]
        grouped = same_story(fa, fb, hours_apart=hours)  # type: ignore[arg-type]
        pair = frozenset((a, b))
        if pair in labelled:
            tp += grouped
            fn += not grouped
            if not grouped:
                misses.append([f"{a}/{b}", title_a, title_b, f"{score:.2f}", f"{hours:.0f}"])
        else:
            fp += grouped
            if grouped:
                merges.append([f"{a}/{b}", title_a, title_b, f"{score:.2f}", f"{hours:.0f}"])
            negatives.append((score, a, b, title_a, title_b))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    closest = sorted(negatives, reverse=True)[:8]
    text = [
        f"Every pair of the {len(posts)} corpus posts ({len(posts) * (len(posts) - 1) // 2} pairs), "
        f"{len(labelled)} of them labelled the same story; threshold {SAME_STORY_THRESHOLD:.2f}, "
        "hours apart from the posts' own dates.",
        "",
        table(
            ["labelled pairs grouped", "other pairs merged", "precision", "recall"],
            [[f"{tp} of {len(labelled)}", fp, f"{precision:.3f}", f"{recall:.3f}"]],
        ),
        "",
        "The closest pairs that are different stories (the hard negatives), by similarity:",
        "",
        table(
            ["pair", "title", "title", "similarity"],
            [[f"{a}/{b}", ta, tb, f"{s:.2f}"] for s, a, b, ta, tb in closest],
        ),
    ]
    if misses:
        text += [
            "",
            "Labelled pairs not grouped:",
            "",
            table(["pair", "title", "title", "similarity", "hours"], misses),
        ]
    if merges:
        text += [
            "",
            "Different stories merged:",
            "",
            table(["pair", "title", "title", "similarity", "hours"], merges),
        ]
    targets = [
        Target("stories: every labelled corpus pair grouped", f"{tp} of {len(labelled)}", fn == 0),
        Target("stories: no false merge on the corpus", f"{fp} merged", fp == 0),
    ]
    return "\n".join(text), targets


async def _cost(quick: bool) -> tuple[str, list[Target]]:
    """fingerprint and lookup+compare per article against the import's time per article."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from bot.services.ingest import IngestService
    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post
    from db.engine import make_engine, make_sessionmaker, upgrade_schema
    from db.models import Article
    from db.stories import story_candidates
    from summarizer import analyze, extract_tags, summarize
    from summarizer.stories import StoryFingerprint, fingerprint, story_similarity

    paths = sorted(ARTICLES.glob("*.md"))[: 10 if quick else None]
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(folder) / 'stories.db'}")
        await upgrade_schema(engine)
        sessions = make_sessionmaker(engine)
        service = IngestService(
            sessions, default_tz=ZoneInfo("Asia/Shanghai"), summary_max_chars=150, max_file_bytes=10_000_000
        )
        started = time.perf_counter()
        await service.import_paths(paths)
        import_ms = (time.perf_counter() - started) * 1000 / len(paths)

        fingerprint_ms = []
        for path in paths:
            raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
            prepared = prepare_article(raw, max_chars=150)
            # as in prepare_article: the summary and the tags have cut the text already, the fingerprint
            # reads their analysis (what grouping adds to an import is its own work, not a second cut)
            analysis = analyze(prepared.text, title=prepared.title)
            extract_tags(prepared.text, title=prepared.title, analysis=analysis)
            if prepared.text:
                summarize(prepared.text, title=prepared.title, max_chars=150, analysis=analysis)
            t0 = time.perf_counter()
            fingerprint(prepared.title, prepared.text, analysis=analysis)
            fingerprint_ms.append((time.perf_counter() - t0) * 1000)

        lookup_ms = []
        async with sessions() as session:
            rows = (
                await session.execute(select(Article.id, Article.listed_at, Article.story_fingerprint))
            ).all()
            for article_id, listed_at, stored in rows:
                mine = StoryFingerprint.from_json(stored)
                t0 = time.perf_counter()
                for candidate in await story_candidates(
                    session, mine.lookup_keys, listed_at=listed_at, exclude=article_id
                ):
                    if candidate.fingerprint:
                        story_similarity(mine, StoryFingerprint.from_json(candidate.fingerprint))
                lookup_ms.append((time.perf_counter() - t0) * 1000)
        await engine.dispose()
    fingerprint_mean = statistics.mean(fingerprint_ms)
    grouping_ms = fingerprint_mean + statistics.mean(lookup_ms)
    share = grouping_ms / import_ms
    text = table(
        ["per article", "ms"],
        [
            ["import (whole, grouping included)", f"{import_ms:.1f}"],
            ["fingerprint (mean; on the analysis the summary and tags made)", f"{fingerprint_mean:.2f}"],
            ["candidate lookup and comparisons (mean)", f"{statistics.mean(lookup_ms):.2f}"],
            ["candidate lookup and comparisons (p95)", f"{percentile(lookup_ms, 95):.2f}"],
            ["grouping's share of the import", f"{share:.1%}"],
        ],
    )
    note = (
        "The lookup here runs on the imported corpus only; the read part (`story lookup`) measures it at "
        "1,000,000 articles on SQLite and PostgreSQL against the < 5 ms target."
    )
    return text + "\n\n" + note, [
        Target("stories: grouping ≤ 10% of the import time", f"{share:.1%}", share <= COST_TARGET)
    ]


def run(*, quick: bool = False) -> PartResult:
    result = PartResult("5. Stories: one item per event")
    text, targets = grouping_section()
    result.add(text)
    result.targets += targets
    cost, cost_targets = asyncio.run(_cost(quick))
    result.add(cost)
    result.targets += cost_targets
    return result
