"""What a feed shows of itself: never the credentials in its URL, and to readers its health in words, not the
raw connection error (which names hosts and ports; admins see it in /feeds)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from pathlib import Path

from sqlalchemy import update

from bot.cli import CredentialFreeFormatter
from bot.composition import Services
from db.models import Source
from readmodels import ChatContext, without_credentials
from tests.bot.conftest import ADMIN_ID

READER = ChatContext(chat_id=701, chat_kind="private", user_id=701, language_code="en")
ADMIN = ChatContext(chat_id=702, chat_kind="private", user_id=ADMIN_ID, language_code="en")
SECRET_URL = "https://reader:hunter2@feeds.example.com/private.xml"
RAW_ERROR = "Cannot connect to host 10.0.0.5:8080 ssl:default [Connection refused] https://reader:hunter2@x"


def test_credentials_are_taken_out_of_every_url_in_a_text() -> None:
    assert without_credentials(SECRET_URL) == "https://feeds.example.com/private.xml"
    assert without_credentials(f"see {SECRET_URL} and ftp://a@b.example/c") == (
        "see https://feeds.example.com/private.xml and ftp://b.example/c"
    )
    assert without_credentials("mail a@b.example, https://example.com/@name") == (
        "mail a@b.example, https://example.com/@name"
    )


async def test_feeds_never_show_credentials_and_readers_see_no_raw_error(services: Services) -> None:
    # /addfeed fetches at once; this feed's host does not resolve, so it is refused, credentials unsaid
    refused = "\n".join((await services.commands.handle(ADMIN, "addfeed", [SECRET_URL])).chunks)
    assert "not added: https://feeds.example.com/private.xml" in refused
    assert "hunter2" not in refused
    await services.feeds.add(SECRET_URL)  # followed all the same (as `newsbot feeds add` does), then failing
    async with services.sessions() as session, session.begin():
        await session.execute(update(Source).values(last_error=RAW_ERROR, error_streak=3))

    reader = "\n".join((await services.commands.handle(READER, "sources", [])).chunks)
    admin = "\n".join((await services.commands.handle(ADMIN, "feeds", [])).chunks)
    for shown in (reader, admin):
        assert "hunter2" not in shown
        assert "reader:" not in shown
    assert "failing 3 times" in reader
    assert "10.0.0.5" not in reader
    assert "10.0.0.5" in admin  # the admin still gets the raw error, to act on it


def test_log_lines_carry_no_credentials() -> None:
    record = logging.LogRecord(
        "aiohttp.client", logging.WARNING, __file__, 1, "GET %s failed", (SECRET_URL,), None
    )
    line = CredentialFreeFormatter("%(message)s").format(record)
    assert line == "GET https://feeds.example.com/private.xml failed"


def test_fetch_names_a_failing_feed_without_its_credentials(newsbot: str, tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on: the fetch fails at connect
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://reader:hunter2@127.0.0.1:{port}/private.xml"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'feeds.db'}",
        "FETCH_ALLOW_PRIVATE": "true",
        "LOG_LEVEL": "debug",
    }
    runs = {}
    for command in (["feeds", "add", url], ["fetch"], ["feeds", "list"], ["feeds", "export", "--json"]):
        result = subprocess.run([newsbot, *command], capture_output=True, text=True, timeout=120, env=env)
        assert "hunter2" not in result.stdout + result.stderr, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        runs[command[-1]] = result
    fetch = runs["fetch"]
    assert fetch.returncode == 1
    # the failure line and the warning the log writes both name the feed, without its credentials
    assert f"failed: http://127.0.0.1:{port}/private.xml: " in fetch.stderr
    assert f"feed http://127.0.0.1:{port}/private.xml failing (1 in a row)" in fetch.stderr
