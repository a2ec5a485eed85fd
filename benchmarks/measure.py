"""What every part shares: repeated measurements with median and min–max, targets, and the
machine's description.

A part returns a `PartResult` (markdown sections and the targets it checked); `benchmarks.report` puts them
together. Nothing here asserts on a figure; the one thing timed here is `speed_mark`, the machine's own speed.
"""

from __future__ import annotations

import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """Several runs of one measurement; shown as "median (min–max)"."""

    values: tuple[float, ...]
    digits: int = 1

    @classmethod
    def of(cls, values: list[float] | tuple[float, ...], digits: int = 1) -> Figure:
        return cls(tuple(values), digits)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def __str__(self) -> str:
        d = self.digits
        if len(self.values) == 1:
            return f"{self.median:.{d}f} (1 run)"
        return f"{self.median:.{d}f} ({self.low:.{d}f}–{self.high:.{d}f}, n={len(self.values)})"


@dataclass(frozen=True)
class Target:
    """One target of the issue: what it asks, the figure measured, whether it is met, and why not."""

    what: str
    measured: str
    met: bool
    note: str = ""


@dataclass
class PartResult:
    title: str
    sections: list[str] = field(default_factory=list)  # markdown blocks, in order
    targets: list[Target] = field(default_factory=list)

    def add(self, markdown: str) -> None:
        self.sections.append(markdown.strip("\n"))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def peak_rss_mb_self() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    found = {}
    names = ("jieba", "SQLAlchemy", "aiosqlite", "asyncpg", "python-telegram-bot", "alembic", "rouge-score")
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, str]:
    import os
    import sqlite3

    info = {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "Python": sys.version.split()[0],
        "OS": platform.platform(),
        "SQLite": sqlite3.sqlite_version,
    }
    info.update(versions())
    return info


def jieba_pass(texts: list[str]) -> float:
    """Seconds for a bare `jieba.lcut` over every text (dictionary loaded beforehand)."""
    import jieba

    jieba.initialize()
    start = time.perf_counter()
    for text in texts:
        jieba.lcut(text)
    return time.perf_counter() - start


def speed_mark(repeats: int = 5) -> float:
    """Seconds of a fixed single-core workload, the best of `repeats`: `jieba.lcut` over the shared corpus's
    articles with the dictionary loaded. newsbot's code does not touch it, so a part's figures that moved
    with it moved with the machine (CPU steal on a shared VM has doubled both from one day to the next)."""
    from benchmarks.datagen import CORPUS

    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.md"))]
    return min(jieba_pass(texts) for _ in range(repeats))


def speed_line(seconds: float) -> str:
    """The speed mark as a part reports it, before its figures."""
    return (
        "Machine speed when this part began: the speed mark (`benchmarks.measure.speed_mark`, `jieba.lcut` "
        f"over the corpus's articles, best of 5) took {seconds:.3f} s; lower is faster. Compare a figure "
        "across runs only with this beside it."
    )
