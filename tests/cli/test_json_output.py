"""Every read command's --json twin, in process: valid JSON from the one helper, Chinese kept readable, and
exit statuses from the one error mapping."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.cli import run_cli

POST = """---
title: 华为发布新款芯片
date: 2026-11-25 08:00:00
link: https://news.example.com/chip
---
<p>华为今天发布新一代麒麟芯片，性能比上一代提升三成，功耗下降两成。业内人士认为，这款芯片将提升华为手机的竞争力。</p>
"""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_cli(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_read_commands_write_json(tmp_path: Path) -> None:
    post = tmp_path / "chip.md"
    post.write_text(POST, encoding="utf-8")
    assert cli("import", str(post))[0] == 0
    assert cli("feeds", "add", "https://example.com/rss.xml", "--name", "例子")[0] == 0

    status, out, _ = cli("latest", "--json")
    assert status == 0
    (item,) = json.loads(out)
    assert item["title"] == "华为发布新款芯片"
    assert "华为发布新款芯片" in out  # not \\u escaped
    assert item["link"] == "https://news.example.com/chip"

    status, out, _ = cli("summarize", str(post), "--json")
    assert status == 0
    (summary,) = json.loads(out)
    assert summary["title"] == "华为发布新款芯片"
    assert summary["tags"]

    for argv in (["feeds", "list", "--json"], ["feeds", "export", "--json"]):
        status, out, _ = cli(*argv)
        assert status == 0
        (feed,) = json.loads(out)
        assert feed["name"] == "例子"
        assert feed["url"] == "https://example.com/rss.xml"

    status, out, _ = cli("tags", "--days", "100000", "--json")
    assert status == 0
    assert {"tag", "count"} <= set(json.loads(out)[0])

    status, out, _ = cli("stats", "--json")
    assert status == 0
    assert json.loads(out)["llm"]["enabled"] is False

    status, out, _ = cli("digest", "--dry-run", "--json")
    assert status == 0
    assert json.loads(out) == []  # nobody has subscribed


def test_errors_map_to_exit_statuses_in_one_place(tmp_path: Path) -> None:
    status, _, err = cli("feeds", "add", "ftp://example.com/rss")
    assert status == 1
    assert err == "newsbot: not an http(s) URL: 'ftp://example.com/rss'\n"
    status, _, err = cli("feeds", "remove", "42")
    assert status == 1
    assert err == "newsbot: no feed '42'\n"
    status, _, err = cli("digest", "--send-now")
    assert status == 2
    assert err.startswith("newsbot: TELEGRAM_BOT_TOKEN is not set")
