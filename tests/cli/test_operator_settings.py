"""Small operator-facing settings as the installed `newsbot` script sees them: LOG_LEVEL, and where jieba
keeps its cache (the user's cache folder, not a /tmp file another user may own)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

POST = """---
title: 测试
date: 2026-11-20 08:00
---
<p>今天北京天气晴朗，气温回升。气象台预计明天有小雨，提醒市民出门带伞。</p>
"""


def newsbot_run(
    newsbot: str, args: list[str], tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [newsbot, *args], env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_log_level_debug_shows_debug_lines_and_garbage_is_one_line(newsbot: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    quiet = newsbot_run(newsbot, ["stats"], tmp_path, DATABASE_URL=url)
    loud = newsbot_run(newsbot, ["stats"], tmp_path, DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert quiet.returncode == loud.returncode == 0
    assert "DEBUG" not in quiet.stderr
    assert "newsbot: DEBUG" in loud.stderr
    wrong = newsbot_run(newsbot, ["stats"], tmp_path, DATABASE_URL=url, LOG_LEVEL="loud")
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert "LOG_LEVEL" in wrong.stderr


def test_jieba_cache_goes_to_the_users_cache_folder(newsbot: str, tmp_path: Path) -> None:
    post = tmp_path / "post.md"
    post.write_text(POST, encoding="utf-8")
    cache = tmp_path / "cache"
    done = newsbot_run(newsbot, ["summarize", str(post)], tmp_path, XDG_CACHE_HOME=str(cache))
    assert done.returncode == 0, done.stderr
    assert (cache / "newsbot" / "jieba.cache").is_file()
    assert done.stderr == ""
