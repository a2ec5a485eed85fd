"""What `newsbot latest` imports: a read command answers without the libraries only other commands use.

Importing python-telegram-bot, aiohttp, the OpenAI client and jieba's tokenizer and tagger took about half of
the time `newsbot latest -n 1` used to take (issue #14). The command runs in a fresh interpreter here, since
this one has long imported them all; what it loaded is read back from its `sys.modules`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]

# Run as `python -c`: the command as the console script runs it, then which of the modules it loaded.
_LATEST = """
import io, json, sys
from bot.cli import run_cli
out = io.StringIO()
code = run_cli(["latest", "-n", "1"], out=out)
modules = json.loads(sys.argv[1])
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": [m for m in modules if m in sys.modules]}))
"""

# what only other commands need: the bot and `digest --send-now` (telegram), `fetch` and the bot (aiohttp),
# LLM summaries (openai), importing and summarizing (jieba, the summarizer itself, the post and feed parsers'
# YAML and date libraries), and a schema upgrade (alembic: a database at head is recognised without it)
NOT_FOR_LATEST = [
    "openai", "jieba", "jieba.posseg", "telegram", "aiohttp", "alembic", "summarizer.extractive", "yaml",
    "dateutil",
]


@pytest.mark.parametrize("module", NOT_FOR_LATEST)
def test_latest_does_not_import(
    module: str, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'news.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    posts = sorted((corpus / "articles").glob("*.md"))[:3]
    assert run_cli(["import", *map(str, posts)], out=io.StringIO()) == 0
    expected = io.StringIO()
    assert run_cli(["latest", "-n", "1"], out=expected) == 0
    done = subprocess.run(
        [sys.executable, "-c", _LATEST, json.dumps([module])],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert (result["code"], result["out"]) == (0, expected.getvalue())
    assert result["loaded"] == []
