"""Part 2, ingest throughput: `newsbot import` of N distinct articles into a fresh SQLite database, as a whole
process, against a bare `jieba.lcut` pass over the same cleaned texts measured in the same run.

The articles are the shared corpus's posts made distinct (a numbered title, link and closing paragraph),
written to a temporary folder. Peak RSS is the child's own (`os.wait4` rusage). Nothing here optimises ingest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import jieba

from benchmarks.measure import Figure, PartResult, Target, table

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "articles"
RATIO_TARGET = 1.5
RSS_TARGET_MB = 300.0
_TITLE_LINE = re.compile(r"^title:\s*(['\"]?)(.*?)\1\s*$", re.MULTILINE)


def make_articles(folder: Path, count: int) -> list[Path]:
    """Write `count` distinct posts into `folder`, cycling through the corpus."""
    sources = sorted(CORPUS.glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in sources]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        text = texts[i % len(texts)]
        front, sep, body = text.partition("\n---\n")  # front matter ends at the second "---"

        def numbered(m: re.Match[str], i: int = i) -> str:
            title = m.group(2).replace("'", "''") if m.group(1) == "'" else m.group(2).replace("'", "''")
            return f"title: '{title}（{i}）'\nlink: 'https://bench.example.com/{i}'"

        front = _TITLE_LINE.sub(numbered, front, count=1)
        body = body.rstrip() + f"\n\n<p>本文为基准测试第{i}号样本。</p>\n"
        path = folder / f"{i:06d}.md"
        path.write_text(front + sep + body, encoding="utf-8")
        paths.append(path)
    return paths


def cleaned_texts(paths: list[Path]) -> list[str]:
    """Title and clean body of each post, as the import sees them (parsing and cleaning are not timed)."""
    from bot.services.prepare import clean_body
    from bot.sources.posts import parse_post

    out = []
    for path in paths:
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        out.append(raw.title + "\n" + clean_body(raw).text)
    return out


def jieba_pass(texts: list[str]) -> float:
    """Seconds for a bare `jieba.lcut` over every text (dictionary loaded beforehand)."""
    jieba.initialize()
    start = time.perf_counter()
    for text in texts:
        jieba.lcut(text)
    return time.perf_counter() - start


def run_import(folder: Path, workdir: Path) -> tuple[float, float, str]:
    """Run `python -m bot import folder` into a fresh SQLite file; (wall seconds, peak RSS MB, last line)."""
    db = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUMMARIZER")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{db}", SUMMARIZER="extractive", PTB_TIMEDELTA="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out_path = workdir / "import.out"
    with out_path.open("wb") as out:
        start = time.perf_counter()
        # cwd is the scratch folder: no .env of the developer's is read
        child = subprocess.Popen(
            [sys.executable, "-m", "bot", "import", str(folder)], cwd=workdir, env=env, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    lines = out_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    if child.returncode not in (0, 1):
        raise RuntimeError(f"newsbot import failed ({child.returncode}): {' / '.join(lines[-5:])}")
    return elapsed, usage.ru_maxrss / 1024, last


def run(*, quick: bool = False, articles: int | None = None) -> PartResult:
    result = PartResult("2. Ingest throughput")
    big = articles or (60 if quick else 10_000)
    small = max(big // 5, 20)
    runs_small = 1 if quick else 2
    scratch = Path(tempfile.mkdtemp(prefix="newsbot-bench-ingest-"))
    try:
        folder = scratch / "articles"
        paths = make_articles(folder, big)
        small_folder = scratch / "articles-small"
        make_articles(small_folder, small)
        empty = scratch / "empty"
        empty.mkdir()
        texts = cleaned_texts(paths)
        chars = sum(len(t) for t in texts)

        startup = [run_import(empty, scratch)[0] for _ in range(1 if quick else 2)]
        small_runs = [run_import(small_folder, scratch) for _ in range(runs_small)]
        big_runs = [run_import(folder, scratch)]
        jieba_big = [jieba_pass(texts) for _ in range(3)]
        jieba_small = [jieba_pass(texts[:small]) for _ in range(3)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    wall_big = Figure.of([r[0] for r in big_runs], 1)
    rss_big = Figure.of([r[1] for r in big_runs], 0)
    wall_small = Figure.of([r[0] for r in small_runs], 1)
    rss_small = Figure.of([r[1] for r in small_runs], 0)
    lcut_big = Figure.of(jieba_big, 2)
    lcut_small = Figure.of(jieba_small, 2)
    start_fig = Figure.of(startup, 2)
    ratio_big = Figure.of([w / lcut_big.median for w in wall_big.values], 1)
    ratio_small = Figure.of([w / lcut_small.median for w in wall_small.values], 1)
    net_ratio = Figure.of([(w - start_fig.median) / lcut_big.median for w in wall_big.values], 1)
    rows = [
        [
            f"{big:,} files",
            str(wall_big),
            f"{big / wall_big.median:.0f}",
            str(lcut_big),
            str(ratio_big),
            str(rss_big),
            big_runs[0][2],
        ],
        [
            f"{small:,} files",
            str(wall_small),
            f"{small / wall_small.median:.0f}",
            str(lcut_small),
            str(ratio_small),
            str(rss_small),
            small_runs[0][2],
        ],
        ["empty folder (start-up)", str(start_fig), "", "", "", "", ""],
    ]
    header = [
        "import of", "wall s", "articles/s", "bare jieba.lcut s", "import / jieba", "peak RSS MB",
        "import said",
    ]
    result.add(
        "`python -m bot import FOLDER` (the `newsbot import` command) as a child process into a fresh SQLite "
        f"file (`SUMMARIZER=extractive`), {big:,} distinct posts generated from the "
        f"{len(list(CORPUS.glob('*.md')))} corpus articles ({chars / big:,.0f} characters of clean text each "
        "on average). The bare pass is `jieba.lcut` over the same cleaned title + text in the benchmark "
        "process with the dictionary already loaded. Wall time includes the start-up (interpreter, imports, "
        "jieba dictionary, migrations), shown on its own in the last row; without it the ratio is "
        f"{net_ratio}.\n\n" + table(header, rows)
    )
    result.targets += [
        Target(
            f"ingest: import ≤ {RATIO_TARGET}× bare jieba pass ({big:,} files)",
            f"{ratio_big.median:.1f}× ({big / wall_big.median:.0f} articles/s)",
            ratio_big.median <= RATIO_TARGET,
        ),
        Target(
            f"ingest: peak RSS < {RSS_TARGET_MB:.0f} MB",
            f"{rss_big.median:.0f} MB",
            rss_big.median < RSS_TARGET_MB,
        ),
        Target(
            "ingest: memory does not grow with the number of files",
            f"{rss_small.median:.0f} MB at {small:,} files, {rss_big.median:.0f} MB at {big:,}",
            rss_big.median <= rss_small.median * 1.1 + 5,
        ),
    ]
    return result
