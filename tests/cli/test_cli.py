"""The `newsbot` command line as a user runs it: in-process for speed, and as the installed console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import run_cli


def run(argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = run_cli(argv, out=out, err=err)
        finally:
            sys.stdin = old
    else:
        code = run_cli(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_import_latest_and_tags(database_url: str, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    code, out, err = run(["import", str(corpus / "articles")])
    assert (code, out.strip(), err) == (0, "imported 50, duplicates 4, failed 0", "")
    code, out, _ = run(["import", str(corpus / "articles")])
    assert (code, out.strip()) == (0, "imported 0, duplicates 54, failed 0")

    code, out, _ = run(["latest", "-n", "20", "--json"])
    assert code == 0
    items = json.loads(out)
    assert len(items) == 20
    for item in items:
        assert set(item) == {
            "title", "link", "source", "published", "summary", "summary_method", "language", "tags", "image",
            "chars", "also",
        }
        assert item["language"] == "zh"  # the corpus posts are Chinese (ISO 639-1)
        assert 0 < len(item["summary"]) <= 150
        if item["chars"] >= 200:
            assert 3 <= len(item["tags"]) <= 6
        assert item["published"].endswith("+00:00")
    # one item per story: the rewritten coverage of 核能发电 by 观察者网 and 36kr is one, the other in "also"
    code, out, _ = run(["latest", "-n", "100", "--json"])
    nuclear = [item for item in json.loads(out) if "核能发电" in item["title"]]
    assert [item["source"] for item in nuclear] == ["观察者网"]
    assert [(also["source"], set(also)) for also in nuclear[0]["also"]] == [
        ("36kr", {"title", "link", "source", "published"})
    ]

    code, out, _ = run(["latest", "-n", "2"])
    assert code == 0
    first = items[0]
    assert first["title"] in out
    assert first["summary"] in out
    # shown in the configured zone (Asia/Shanghai by default): the post says 04:44 GMT
    assert out.startswith("2022-09-03 12:44  36kr\n")

    tag = items[0]["tags"][0]
    code, out, _ = run(["latest", "--tag", tag, "--json"])
    assert code == 0
    assert first["title"] in [i["title"] for i in json.loads(out)]
    code, out, _ = run(["latest", "--source", "cnBeta", "--json"])
    assert code == 0
    assert {i["source"] for i in json.loads(out)} == {"cnBeta"}

    code, out, _ = run(["tags", "--days", "100000", "--json"])
    counts = json.loads(out)
    assert code == 0
    assert counts
    assert counts[0]["count"] >= counts[-1]["count"]


def test_import_of_a_mixed_folder_exits_1_naming_each_bad_file(
    newsbot: str, tmp_path: Path, corpus: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "good.md").write_bytes((corpus / "articles" / "0001.md").read_bytes())
    (folder / "junk.md").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (folder / "broken.rss").write_text("<rss><channel><title>x</title><item>", encoding="utf-8")
    result = subprocess.run(
        [newsbot, "import", str(folder)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"},
    )
    assert result.returncode == 1
    assert result.stdout.strip() == "imported 1, duplicates 0, failed 2"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert any("junk.md" in line for line in lines)
    assert any("broken.rss" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_bad_setting_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:very-secret-token")
    monkeypatch.setenv("SUMMARY_MAX_CHARS", "lots")
    code, out, err = run(["latest"])
    assert code == 2
    assert out == ""
    assert err.strip() == (
        "newsbot: invalid setting SUMMARY_MAX_CHARS: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    monkeypatch.setenv("SUMMARY_MAX_CHARS", "150")
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/newsbot")
    code, _, err = run(["latest"])
    assert code == 2
    assert "DATABASE_URL" in err
    assert len(err.strip().splitlines()) == 1
    assert "very-secret-token" not in err


def test_settings_come_from_dotenv(tmp_path: Path, corpus: Path) -> None:
    # the autouse fixture runs each test in tmp_path, where newsbot looks for .env
    (tmp_path / ".env").write_text("SUMMARY_MAX_CHARS=30\nTIMEZONE=UTC\n", encoding="utf-8")
    code, out, _ = run(["summarize", str(corpus / "articles" / "0001.md")])
    assert code == 0
    summary = out.splitlines()[1].strip()
    assert 0 < len(summary) <= 30


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    code, _, err = run(["latest"])
    assert code == 2
    assert err.startswith("newsbot: cannot open the database:")
    assert len(err.strip().splitlines()) == 1


def test_summarize_files_and_jsonl(corpus: Path, tmp_path: Path) -> None:
    code, out, err = run(["summarize", "--max-chars", "60", str(corpus / "articles" / "0001.md"),
                          str(tmp_path / "missing.md")])
    assert code == 1
    assert "missing.md" in err
    title, summary, tags = out.splitlines()[:3]
    assert title == "1056秒！中国人造太阳运行时间突破千秒"
    assert 0 < len(summary.strip()) <= 60
    assert tags.strip().startswith("#")

    lines = [
        json.dumps({"id": 7, "title": "核聚变", "text": "中国人造太阳运行时间突破千秒。这是世界纪录。"}),
        "not json",
        "[" * 100_000,  # deeper than Python's JSON decoder recurses
        json.dumps({"id": "b", "title": "", "text": ""}),
    ]
    code, out, err = run(["summarize", "--jsonl"], stdin="\n".join(lines) + "\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert "stdin line 2" in err
    assert "stdin line 3: nested too deeply" in err
    assert [r["id"] for r in rows] == [7, None, None, "b"]
    assert rows[0]["summary"] == "中国人造太阳运行时间突破千秒。这是世界纪录。"
    assert "error" in rows[1]
    assert "error" in rows[2]


def test_feed_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feeds.db'}")
    assert run(["feeds", "add", "https://example.com/rss", "--name", "Example"])[0] == 0
    code, _, err = run(["feeds", "add", "https://example.com/rss"])
    assert code == 1
    assert err.strip() == "newsbot: already following https://example.com/rss"
    code, out, _ = run(["feeds", "list"])
    assert code == 0
    assert "Example" in out
    assert "never fetched" in out
    assert "error streak 0" in out
    code, out, _ = run(["feeds", "export"])
    assert code == 0
    assert 'xmlUrl="https://example.com/rss"' in out
    (tmp_path / "subs.opml").write_text(out, encoding="utf-8")
    code, out, _ = run(["feeds", "remove", "https://example.com/rss"])
    assert code == 0
    assert out.startswith("removed feed 1")
    code, out, _ = run(["feeds", "import", str(tmp_path / "subs.opml")])
    assert (code, out.strip()) == (0, "added 1 feeds, 0 already followed")
    (tmp_path / "bad.opml").write_text("<html>nope", encoding="utf-8")
    code, _, err = run(["feeds", "import", str(tmp_path / "bad.opml")])
    assert code == 1
    assert "bad.opml" in err
    code, out, _ = run(["feeds", "list", "--json"])
    assert [f["url"] for f in json.loads(out)] == ["https://example.com/rss"]


def test_a_reader_that_stops_early_gets_no_traceback(newsbot: str, corpus: Path) -> None:
    """`newsbot latest | head -1`: a reader that goes away ends newsbot quietly, without a traceback."""
    subprocess.run([newsbot, "import", str(corpus / "articles")], check=True, capture_output=True)
    command = [newsbot, "latest", "-n", "50"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as reader:
        assert reader.stdout is not None
        assert reader.stderr is not None
        # gone before newsbot has written anything (it takes a moment to start):
        # its first write meets a closed pipe
        reader.stdout.close()
        errors = reader.stderr.read().decode()
        status = reader.wait(timeout=60)
    assert "Traceback" not in errors
    assert "BrokenPipeError" not in errors
    assert status == 1


def test_a_file_name_cannot_drive_the_terminal(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post named with escape sequences (recolour, retitle the window) or a right-to-left override once
    reached the operator's terminal as they were, inside "failed: NAME: ..."; they are written out now."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("a\x1b]0;owned\x07.md", "b\u202edm.exe.md", "c\rline.md"):
        (tmp_path / name).write_text("---\ntitle: [\n---\nx\n", encoding="utf-8")
    code, out, err = run(["import", str(tmp_path)])
    assert (code, out) == (1, "imported 0, duplicates 0, failed 3\n")
    lines = err.splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        f"{tmp_path}/a\\x1b]0;owned\\x07.md",
        f"{tmp_path}/b\\u202edm.exe.md",
        f"{tmp_path}/c\\rline.md",
    ]
    assert not any(ch in err for ch in "\x1b\x07\u202e\r")


def test_hostile_command_lines_are_one_named_failure_each(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of these once hung, raised a traceback or stored what no fetch can use (issue #11)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)  # reading it would block for ever
    code, _, err = run(["summarize", str(fifo)])
    assert (code, err) == (1, f"failed: {fifo}: not a regular file\n")
    code, out, err = run(["import", str(tmp_path)])
    assert (code, out) == (1, "imported 0, duplicates 0, failed 1\n")
    assert err == f"failed: {fifo}: not a regular file\n"

    site = "news.example.com"
    refused = {
        f"http://user:hunter2@{site}:99999/rss": f"newsbot: not a port number in 'http://{site}:99999/rss'",
        "http://news%20example.com/rss": "newsbot: not a host name: 'news%20example.com'",
        f"https://{site}/" + "a" * 3000: f"newsbot: URL longer than 2048 characters: https://{site}/",
    }
    for url, said in refused.items():
        code, out, err = run(["feeds", "add", url])
        assert code == 1, url
        assert err.startswith(said), err
        assert len(err.splitlines()) == 1
        assert "hunter2" not in err
    assert run(["feeds", "list"])[1] == "no feeds; add one with: newsbot feeds add URL\n"

    with pytest.raises(SystemExit) as exit_:
        run(["latest", "-n", "99999999999999999999999"])
    assert exit_.value.code == 2  # argparse's usage line and "must be 1 to 10000", not an OverflowError


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        # a password with an unescaped "@": sqlalchemy's message quoted "Secr3t@host"
        ("DATABASE_URL", "postgresql+asyncpg://user:pa@ss:Secr3t@host/db", "is not a database URL"),
        ("FETCH_INTERVAL", "inf", "finite number"),  # once failed every command with a traceback
        ("FETCH_INTERVAL", "1e14", "less than or equal to 604800"),
        ("LLM_TIMEOUT", "nan", "finite number"),
        ("OPENAI_API_KEY", "sk-Secr3t\u201d", "printable ASCII"),  # a pasted quote: a traceback per article
        ("TELEGRAM_BOT_TOKEN", "123456:Secr3t token", "printable ASCII"),
    ],
)
def test_garbage_settings_are_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run(["latest"])
    assert (code, out) == (2, "")
    assert err.startswith(f"newsbot: invalid setting {name}: ")
    assert said in err
    assert len(err.splitlines()) == 1
    assert "Secr3t" not in err


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"TIMEZONE=\xff\xfe\n")  # the autouse fixture runs each test in tmp_path
    code, out, err = run(["latest"])
    assert (code, out, err) == (2, "", "newsbot: .env is not UTF-8 text\n")


def test_feed_files_and_dates_that_once_hung_or_raised(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feeds import` of a FIFO hung (Ctrl-C could not stop it) and of /dev/zero read until memory ran out;
    `feeds export -o` into a missing folder and `resummarize --since 0001-01-01` ended in a traceback."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    fifo = tmp_path / "feeds.opml"
    os.mkfifo(fifo)
    assert run(["feeds", "import", str(fifo)]) == (1, "", f"failed: {fifo}: not a regular file\n")
    code, out, err = run(["feeds", "import", "/dev/zero"])
    assert (code, out, err) == (1, "", "failed: /dev/zero: not a regular file\n")
    missing = tmp_path / "missing" / "feeds.opml"
    assert run(["feeds", "export", "-o", str(missing)]) == (
        1,
        "",
        f"failed: {missing}: cannot write: No such file or directory\n",
    )
    with pytest.raises(SystemExit) as exit_:
        run(["resummarize", "--since", "0001-01-01"])
    assert exit_.value.code == 2
