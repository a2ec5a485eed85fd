"""`newsbot console` through its real stdin and stdout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.cli import run_cli


def test_console_runs_the_same_commands_as_telegram(newsbot: str, tmp_path: Path, corpus: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"}
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    try:
        assert run_cli(["import", str(corpus / "articles")]) == 0
    finally:
        del os.environ["DATABASE_URL"]
    session = "/start\n/latest 2\n1\n/subscribe 芯片\n/mysubs\n/stats\nhello\n/nope\nquit\n"
    result = subprocess.run(
        [newsbot, "console"], input=session, capture_output=True, text=True, timeout=120, env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "newsbot console" in out
    assert "[1] 订阅每日摘要  [2] 选择话题" in out  # the /start buttons, numbered
    assert "100家巴西企业将入驻阿里巴巴国际站" in out  # /latest 2: the newest corpus item, as plain text
    assert "[1] 更多 »" in out
    assert "10年期美债收益率" not in out.split("[1] 更多 »")[0]  # only two items on the first page
    assert "芯片" in out.split("/mysubs")[0] or "已订阅话题：芯片" in out
    assert "只有管理员" in out  # /stats without --admin
    assert "我只懂命令" in out
    assert "不认识这个命令" in out
    assert "<b>" not in out
    assert "&lt;" not in out


def test_console_in_english_as_admin(newsbot: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"}
    result = subprocess.run(
        [newsbot, "console", "--lang", "en", "--admin"], input="/stats\n/latest\n", capture_output=True,
        text=True, timeout=120, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Statistics" in result.stdout
    assert "No news yet." in result.stdout
