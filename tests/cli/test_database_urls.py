"""DATABASE_URL as operators write it, through the installed `newsbot` script: a database that cannot be
opened is one line on stderr and exit status 2 (README), never a traceback or a password; libpq's
`?sslmode=` works (issue #11)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from db.engine import asyncpg_dsn, make_engine
from tests.conftest import DEFAULT_PG_URL, _pg_admin_url

PASSWORD = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def pg_server() -> str:
    """The URL of the PostgreSQL server the tests use (TEST_DATABASE_URL); skips when none answers."""
    admin = asyncio.run(_pg_admin_url())
    if admin is None:
        pytest.skip(
            "PostgreSQL not reachable at TEST_DATABASE_URL "
            f"({os.environ.get('TEST_DATABASE_URL', DEFAULT_PG_URL)})"
        )
    return admin


def run_newsbot(newsbot: str, database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [newsbot, *(args or ("stats",))], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], start: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(start), lines[0]
    assert PASSWORD not in result.stderr + result.stdout
    return lines[0]


def test_the_url_reaches_asyncpg_as_libpq_writes_it() -> None:
    def dsn(query: str) -> tuple[str, float | None]:
        return asyncpg_dsn(make_url(f"postgresql+asyncpg://u:p%40ss@db.example.com:6543/news?{query}"))

    base = "postgresql://u:p%40ss@db.example.com:6543/news"
    for mode in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
        assert dsn(f"sslmode={mode}") == (f"{base}?sslmode={mode}", None)
    # the driver's own spelling wins
    assert dsn("sslmode=require&ssl=verify-full") == (f"{base}?sslmode=verify-full", None)
    assert dsn("sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=newsbot&connect_timeout=7") == (
        f"{base}?application_name=newsbot&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        7.0,
    )
    with pytest.raises(ValueError, match="connect_timeout must be a number of seconds"):
        dsn("connect_timeout=soon")
    engine = make_engine("postgresql+asyncpg://u@db.example.com/news?application_name=newsbot")
    assert dict(engine.url.query) == {}  # SQLAlchemy would pass each option to asyncpg.connect() by name


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_libpq_options_open_the_database(newsbot: str, database_url: str, tmp_path: Path) -> None:
    # asyncpg.connect() took each of these as a keyword argument and failed with a TypeError traceback
    options = "sslmode=disable&sslrootcert=/nonexistent/ca.pem&application_name=newsbot&connect_timeout=10"
    result = run_newsbot(newsbot, f"{database_url}?{options}", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_an_unknown_option_is_one_line(newsbot: str, pg_server: str, tmp_path: Path) -> None:
    url = make_url(pg_server).set(password=PASSWORD).render_as_string(hide_password=False)
    line = assert_one_line_exit_2(
        run_newsbot(newsbot, f"{url}?no_such_option=1", tmp_path), "newsbot: cannot open the database: "
    )
    assert "no_such_option" in line


def test_a_missing_root_certificate_is_one_line(newsbot: str, pg_server: str, tmp_path: Path) -> None:
    url = make_url(pg_server).set(password=PASSWORD).render_as_string(hide_password=False)
    options = "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
    line = assert_one_line_exit_2(
        run_newsbot(newsbot, f"{url}?{options}", tmp_path), "newsbot: cannot open the database: "
    )
    assert "/nonexistent/ca.pem" in line


def test_an_unknown_database_is_one_line(newsbot: str, pg_server: str, tmp_path: Path) -> None:
    name = f"newsbot_missing_{uuid.uuid4().hex[:12]}"
    url = make_url(pg_server).set(database=name, password=PASSWORD).render_as_string(hide_password=False)
    line = assert_one_line_exit_2(run_newsbot(newsbot, url, tmp_path), "newsbot: cannot open the database: ")
    assert name in line


def test_an_unknown_role_is_one_line_without_the_password(
    newsbot: str, pg_server: str, tmp_path: Path
) -> None:
    role = f"newsbot_nobody_{uuid.uuid4().hex[:12]}"
    url = make_url(pg_server).set(username=role, password=PASSWORD).render_as_string(hide_password=False)
    line = assert_one_line_exit_2(run_newsbot(newsbot, url, tmp_path), "newsbot: cannot open the database: ")
    assert role in line


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sslmode_disable_opens_the_database(newsbot: str, database_url: str, tmp_path: Path) -> None:
    # as a hosted provider hands it out: postgresql:// (no driver) and libpq's sslmode
    url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1) + "?sslmode=disable"
    result = run_newsbot(newsbot, url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_sslmode_require_without_tls_on_the_server_is_one_line(
    newsbot: str, pg_server: str, tmp_path: Path
) -> None:
    # the test server speaks no TLS, so `require` cannot be met (the database is never reached)
    url = make_url(pg_server).set(password=PASSWORD).render_as_string(hide_password=False)
    result = run_newsbot(newsbot, url + "?sslmode=require", tmp_path)
    assert_one_line_exit_2(result, "newsbot: cannot open the database: ")


def test_an_unknown_sslmode_is_a_bad_setting(newsbot: str, tmp_path: Path) -> None:
    url = f"postgresql://newsbot:{PASSWORD}@127.0.0.1:5432/news?sslmode=sometimes"
    result = run_newsbot(newsbot, url, tmp_path)
    line = assert_one_line_exit_2(result, "newsbot: invalid setting DATABASE_URL: ")
    assert "sslmode must be one of" in line
