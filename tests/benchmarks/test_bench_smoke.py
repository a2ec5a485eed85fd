"""The benchmark command runs end to end on tiny inputs and writes its report. No figure is checked:
benchmarks are not tests (timings on a shared CI machine mean nothing)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_benchmarks_command_writes_the_report(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    parts = ["quality", "ingest", "read", "fanout", "stories", "reader"]
    if importlib.util.find_spec("rouge_score") is None:
        parts.remove("quality")  # needs the `bench` extra: pip install -e '.[bench]'
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--articles", "200", "--ingest-files", "30",
         "--parts", ",".join(parts), "--output", str(output)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text(encoding="utf-8")
    assert "## Machine" in report
    assert "## Targets" in report
    titles = {"quality": "1. Summary quality", "ingest": "2. Ingest throughput", "read": "3. Read latency",
              "fanout": "4. Digest fan-out", "stories": "5. Stories: one item per event",
              "reader": "6. What a reader sees"}
    for part in parts:
        assert f"## {titles[part]}" in report
    # how long each part took is reported; a quick run is not held to the whole run's target
    assert "## Run time" in report
    assert "benchmark: the whole run" not in report
