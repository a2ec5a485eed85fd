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

from benchmarks.measure import Figure, PartResult, Target, jieba_pass, table

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "articles"
RATIO_TARGET = 1.5
ONE_CORE_TARGET = 3.0
LATEST_TARGET_S = 0.8
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


def run_import(folder: Path, workdir: Path, *, workers: int = 0) -> tuple[float, float, str]:
    """Run `python -m bot import folder` into a fresh SQLite file with IMPORT_WORKERS=`workers` (0: a
    preparing process per core besides the storing one); (wall seconds, peak RSS MB of the largest process,
    last line)."""
    db = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUMMARIZER", "IMPORT_WORKERS")}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        SUMMARIZER="extractive",
        PTB_TIMEDELTA="1",
        IMPORT_WORKERS=str(workers),
    )
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out_path = workdir / "import.out"
    with out_path.open("wb") as out:
        start = time.perf_counter()
        # cwd is the scratch folder: no .env of the developer's is read
        child = subprocess.Popen(
            [sys.executable, "-m", "bot", "import", str(folder)], cwd=workdir, env=env, stdout=out, stderr=out
        )
        # the child's rusage: its peak RSS is that of the largest process, itself or a worker it waited for
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    lines = out_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    if child.returncode not in (0, 1):
        raise RuntimeError(f"newsbot import failed ({child.returncode}): {' / '.join(lines[-5:])}")
    return elapsed, usage.ru_maxrss / 1024, last


def time_latest(workdir: Path, runs: int) -> list[float]:
    """Wall seconds of `python -m bot latest -n 1` over the database the last import left, start-up included
    (what an operator waits for at a shell)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUMMARIZER")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}", PTB_TIMEDELTA="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "latest", "-n", "1"],
            cwd=workdir,
            env=env,
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - start)
    return times


def run(*, quick: bool = False, articles: int | None = None) -> PartResult:
    """One import per size and setting, and one bare jieba pass per size: the ratios are what the issue
    asks of, and repeating the minutes-long runs would not change the conclusions (see the spread below)."""
    result = PartResult("2. Ingest throughput")
    big = articles or (60 if quick else 2_000)
    small = max(big // 5, 20)
    cores = os.cpu_count() or 1
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

        startup = run_import(empty, scratch)[0]
        small_run = run_import(small_folder, scratch)
        latest = Figure.of(time_latest(scratch, 1 if quick else 5), 2)
        big_run = run_import(folder, scratch)
        one_core = run_import(folder, scratch, workers=1)
        lcut_big = jieba_pass(texts)
        lcut_small = jieba_pass(texts[:small])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def row(label: str, run: tuple[float, float, str], files: int, lcut: float) -> list[str]:
        wall, rss, said = run
        return [
            label,
            f"{wall:.1f}",
            f"{files / wall:.0f}",
            f"{lcut:.2f}",
            f"{wall / lcut:.1f}",
            f"{rss:.0f}",
            said,
        ]

    rows = [
        row(f"{big:,} files, IMPORT_WORKERS=0 ({cores} cores)", big_run, big, lcut_big),
        row(f"{big:,} files, IMPORT_WORKERS=1 (one core)", one_core, big, lcut_big),
        row(f"{small:,} files, IMPORT_WORKERS=0", small_run, small, lcut_small),
        ["empty folder (start-up)", f"{startup:.2f}", "", "", "", "", ""],
        [f"`latest -n 1` over the {small:,}-file database", str(latest), "", "", "", "", ""],
    ]
    header = [
        "import of",
        "wall s",
        "articles/s",
        "bare jieba.lcut s",
        "import / jieba",
        "peak RSS MB",
        "import said",
    ]
    result.add(
        "`python -m bot import FOLDER` (the `newsbot import` command) as a child process into a fresh SQLite "
        f"file (`SUMMARIZER=extractive`), {big:,} distinct posts generated from the "
        f"{len(list(CORPUS.glob('*.md')))} corpus articles ({chars / big:,.0f} characters of clean text each "
        "on average), once with the default IMPORT_WORKERS (a preparing process per core while the "
        "importer stores) and once on one core. The bare pass is `jieba.lcut` over the same cleaned "
        "title + text in the benchmark process with the dictionary already loaded, single-core, measured in "
        "the same run. Wall time includes the start-up (interpreter, imports, jieba dictionary, migrations), "
        "shown on its own in the last row; without it the default run's ratio is "
        f"{(big_run[0] - startup) / lcut_big:.1f}×. "
        "Peak RSS is the largest process's (the importer or one of its workers).\n\n" + table(header, rows)
    )
    result.targets += [
        Target(
            f"ingest: import ≤ {RATIO_TARGET}× bare jieba pass, {cores} cores ({big:,} files)",
            f"{big_run[0] / lcut_big:.1f}× ({big / big_run[0]:.0f} articles/s)",
            big_run[0] / lcut_big <= RATIO_TARGET,
        ),
        Target(
            f"ingest: import ≤ {ONE_CORE_TARGET}× bare jieba pass, IMPORT_WORKERS=1 ({big:,} files)",
            f"{one_core[0] / lcut_big:.1f}× ({big / one_core[0]:.0f} articles/s)",
            one_core[0] / lcut_big <= ONE_CORE_TARGET,
        ),
        Target(
            f"`newsbot latest -n 1` < {LATEST_TARGET_S} s including start-up",
            f"{latest.median:.2f} s (median of {len(latest.values)})",
            latest.median < LATEST_TARGET_S,
        ),
        Target(
            f"ingest: peak RSS < {RSS_TARGET_MB:.0f} MB",
            f"{max(big_run[1], one_core[1]):.0f} MB",
            max(big_run[1], one_core[1]) < RSS_TARGET_MB,
        ),
        Target(
            "ingest: memory does not grow with the number of files",
            f"{small_run[1]:.0f} MB at {small:,} files, {big_run[1]:.0f} MB at {big:,}",
            big_run[1] <= small_run[1] * 1.1 + 5,
        ),
    ]
    return result
