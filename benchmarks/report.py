"""Writes BENCHMARKS.md from the parts' results: the machine, the date, the targets and a section per part."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from benchmarks.measure import PartResult, machine, table


def render(results: list[PartResult], *, command: str, seconds: float) -> str:
    info = machine()
    lines = [
        "# newsbot benchmarks",
        "",
        f"Written by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} minutes. "
        "Figures are the median of the runs made, with min–max and the number of runs; baselines ran in the same "
        "process or run, so comparisons are side by side. Benchmarks are not tests: the test suite only checks "
        "that this command runs (`tests/benchmarks/test_bench_smoke.py`).",
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
    for result in results:
        lines += [f"## {result.title}", ""]
        for section in result.sections:
            lines += [section, ""]
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
