"""What newsbot needs of the SQLite library Python links (RETURNING, the JSON functions) is checked on
connecting: an SQLite without it stops the start with one line, not an error in every read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.composition import open_services
from bot.config import load_settings
from bot.errors import CannotRun
from db import engine
from db.engine import sqlite_shortfall


def test_what_newsbot_needs_of_sqlite_is_said_in_one_line() -> None:
    assert sqlite_shortfall("3.40.1", True) is None
    assert sqlite_shortfall("3.35.0", True) is None
    assert sqlite_shortfall("3.34.1", True) == (
        "SQLite 3.34.1 is too old: newsbot needs 3.35.0 or newer (RETURNING)"
    )
    assert sqlite_shortfall("3.37.2", False) == (
        "SQLite 3.37.2 is built without its JSON functions (JSON1), which newsbot needs"
    )


def test_the_sqlite_python_links_has_what_newsbot_needs() -> None:
    has_json = sqlite3.connect(":memory:").execute("SELECT json_array(1)").fetchone() == ("[1]",)
    assert sqlite_shortfall(sqlite3.sqlite_version, has_json) is None


async def test_an_sqlite_without_what_newsbot_needs_stops_the_start_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The library here has it all: the check is made to want a version no library has.)"""
    monkeypatch.setattr(engine, "SQLITE_MIN_VERSION", (99, 0, 0))
    settings = load_settings(env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'news.db'}")
    with pytest.raises(CannotRun) as raised:
        async with open_services(settings):
            pass
    assert str(raised.value) == (
        f"cannot open the database: SQLite {sqlite3.sqlite_version} is too old: newsbot needs 99.0.0 or "
        "newer (RETURNING)"
    )
