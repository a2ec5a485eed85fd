"""The command line with LLM summaries: `import` against a fake OpenAI-compatible server (working, down,
misbehaving), `resummarize`, `stats`, and the settings that switch the LLM on."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

from bot.cli import run_cli
from bot.config import SettingsError, load_settings
from tests.fakes.openai_server import SUMMARIES, FakeOpenAI, content, slow

KEY = "sk-test-secret-key"


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def latest() -> list[dict[str, object]]:
    code, out, _ = run(["latest", "-n", "100", "--json"])
    assert code == 0
    return json.loads(out)


def llm_env(monkeypatch: pytest.MonkeyPatch, database_url: str, base_url: str, **extra: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_MODEL", "fake-model")
    monkeypatch.setenv("LLM_TIMEOUT", "5")
    monkeypatch.setenv("LLM_BACKOFF", "0.01")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_import_stores_llm_summaries_for_every_article(
    database_url: str, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI().in_thread() as fake:
        llm_env(monkeypatch, database_url, fake.base_url)
        code, out, err = run(["import", str(corpus / "articles")])
        assert (code, err) == (0, "")
        assert out.splitlines() == [
            "llm summaries: 40 new, 0 from cache, 0 kept extractive",
            "imported 50, duplicates 4, failed 0",
        ]
        items = latest()
        assert len(items) == 40  # one item per story
        assert {i["summary_method"] for i in items} == {"llm"}
        assert {i["summary"] for i in items} == {SUMMARIES["zh"]}
        assert all(3 <= len(i["tags"]) <= 6 for i in items)  # type: ignore[arg-type]

        # importing again costs nothing
        code, out, _ = run(["import", str(corpus / "articles")])
        assert (code, out.strip()) == (0, "imported 0, duplicates 54, failed 0")
        assert fake.count == 40  # only the story leads are upgraded

        code, out, err = run(["stats", "--json"])
        assert code == 0
        assert KEY not in out + err
        stats = json.loads(out)
        assert stats["llm"] == {
            "enabled": True,
            "model": "fake-model",
            "prompt_version": "llm-1",
            "daily_requests": None,
            "daily_tokens": None,
        }
        assert (stats["day"]["requests"], stats["day"]["ok"], stats["week"]["failures"]) == (40, 40, 0)
        assert stats["day"]["prompt_tokens"] > 0

        code, out, _ = run(["stats"])
        assert code == 0
        assert "model fake-model" in out
        assert out.splitlines()[2].split() == ["requests", "40", "40"]


@pytest.mark.parametrize("trouble", ["down", "garbage", "slow"])
def test_import_with_the_llm_in_trouble_stores_extractive_summaries(
    trouble: str,
    database_url: str,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeOpenAI()
    fake.default = content("<html>502 Bad Gateway</html>") if trouble == "garbage" else slow(3)
    with fake.in_thread():
        base_url = closed_port_url() if trouble == "down" else fake.base_url
        llm_env(monkeypatch, database_url, base_url, LLM_TIMEOUT="0.3")
        code, out, err = run(["import", str(corpus / "articles")])
    assert code == 0
    assert out.splitlines()[-1] == "imported 50, duplicates 4, failed 0"
    assert "still pending" in out.splitlines()[0]
    assert "failed:" not in err
    assert KEY not in out + err
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.services.llm"]
    assert len(warnings) == 1  # logged once, not once per article
    assert "circuit open" in warnings[0]
    # the circuit opened after a few failures (8-16 requests seen): without it each of the 40 articles the
    # model would summarize is asked at least once (was: the import timed against 20 s)
    assert fake.count <= 30
    items = latest()
    assert len(items) == 40
    assert {i["summary_method"] for i in items} <= {"extractive", "title"}
    # the circuit stopped the calls after 5 failed articles (LLM_BREAKER_FAILURES), plus the 4 in flight
    # (LLM_CONCURRENCY), each with at most two requests (an invalid answer is asked once more)
    assert fake.count <= 2 * (5 + 4)


def test_resummarize_upgrades_what_import_could_not(
    database_url: str, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SUMMARIZER", "extractive")
    with FakeOpenAI().in_thread() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert run(["import", str(corpus / "articles")])[:2] == (0, "imported 50, duplicates 4, failed 0\n")
        assert fake.count == 0  # SUMMARIZER=extractive: the LLM is never called
        code, _, err = run(["resummarize"])
        assert code == 2
        assert "resummarize needs the LLM" in err

        monkeypatch.setenv("SUMMARIZER", "auto")
        code, out, err = run(["resummarize", "--since", "2000-01-01"])
        assert (code, out.strip(), err) == (0, "llm summaries: 40 new, 0 from cache, 0 kept extractive", "")
        assert {i["summary_method"] for i in latest()} == {"llm"}
        code, out, _ = run(["resummarize"])
        assert (code, out.strip()) == (0, "llm summaries: 0 new, 0 from cache, 0 kept extractive")
        assert fake.count == 40


def test_resummarize_since_a_date_leaves_older_articles(
    database_url: str, corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAI().in_thread() as fake:
        llm_env(monkeypatch, database_url, fake.base_url, SUMMARIZER="extractive")
        run(["import", str(corpus / "articles")])
        monkeypatch.setenv("SUMMARIZER", "llm")
        code, out, _ = run(["resummarize", "--since", "2100-01-01"])
        assert (code, out.strip()) == (0, "llm summaries: 0 new, 0 from cache, 0 kept extractive")
        assert fake.count == 0
        with pytest.raises(SystemExit) as exited:  # argparse's own usage error
            run(["resummarize", "--since", "yesterday"])
        assert exited.value.code == 2
        assert "not a date" in capsys.readouterr().err


def test_stats_without_the_llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    code, out, _ = run(["stats"])
    assert code == 0
    assert out.startswith("LLM summaries: off")
    assert out.splitlines()[2].split() == ["requests", "0", "0"]


def test_which_summarizer_the_settings_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings(None).uses_llm
    assert load_settings(None, openai_api_key="k").uses_llm
    assert not load_settings(None, openai_api_key="k", summarizer="extractive").uses_llm
    assert load_settings(None, summarizer="llm", openai_base_url="http://localhost:11434/v1").uses_llm
    with pytest.raises(SettingsError, match="SUMMARIZER=llm needs OPENAI_API_KEY"):
        load_settings(None, summarizer="llm")
    with pytest.raises(SettingsError, match="LLM_CONCURRENCY"):
        load_settings(None, llm_concurrency=0)
    monkeypatch.setenv("LLM_TIMEOUT", "-1")
    with pytest.raises(SettingsError, match="LLM_TIMEOUT"):
        load_settings(None)
