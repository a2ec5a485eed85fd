"""`newsbot run` as a process: start-up errors, serving commands, the inbox watcher, the scheduled digest
reaching a chat and a channel through the outbox, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until

POST = """---
title: '国产芯片企业融资创新高'
categories: [科技]
author: 测试新闻
date: {date}
link: https://news.example.com/chips
---
<p>今年以来，国产芯片企业融资总额创下新高。多家芯片设计公司完成大额融资，投资机构看好芯片产业的长期发展。</p>
"""


async def start(newsbot: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        newsbot, "run", env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_no_token_is_one_line_and_exit_2(newsbot: str, tmp_path: Path) -> None:
    process = await start(newsbot, {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}, tmp_path)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip() == "newsbot: TELEGRAM_BOT_TOKEN is not set (put it in .env; see .env.example)"


async def test_rejected_token_is_one_line_and_exit_2(newsbot: str, tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
            "TELEGRAM_BOT_TOKEN": "999:not-the-right-token",
            "TELEGRAM_BASE_URL": fake.base_url,
        }
        process = await start(newsbot, env, tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert lines == ["newsbot: Telegram rejected TELEGRAM_BOT_TOKEN (check the token from @BotFather)"]
    assert "not-the-right-token" not in err.decode()


async def test_runs_serves_imports_sends_digests_and_stops_cleanly(newsbot: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with FakeTelegram() as fake:
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.base_url,
            "INBOX_DIR": str(inbox),
            "INBOX_INTERVAL": "0.5",
            "DIGEST_CHECK_INTERVAL": "0.5",
            "DIGEST_TIME": "00:00",
            "TIMEZONE": "UTC",
            "CHANNEL_ID": "@newsbot_channel",
        }
        chips = tmp_path / "chips.md"
        chips.write_text(POST.format(date=datetime.now(UTC).isoformat()), encoding="utf-8")
        importer = await asyncio.create_subprocess_exec(
            newsbot, "import", str(chips), env={**os.environ, **env}, cwd=tmp_path
        )
        assert await importer.wait() == 0
        process = await start(newsbot, env, tmp_path)
        try:
            await wait_until(lambda: fake.calls_to("getUpdates"), "the bot to poll")
            assert {language for _, language in fake.commands} >= {"zh", "en"}

            fake.push_message(42, "/subscribe")
            await wait_until(lambda: fake.sent(42), "a reply to /subscribe")

            channel = fake.channels["@newsbot_channel"]
            # the inbox file is imported, then the next digest check sends today's digest to both chats
            await wait_until(
                lambda: any("国产芯片" in (m.get("text") or "") for m in fake.sent(42)),
                "the digest to the subscriber",
            )
            await wait_until(lambda: fake.sent(channel), "the digest to the channel")
            (posted,) = fake.sent(channel)
            assert "国产芯片企业融资创新高" in posted["text"]
            # only Open buttons: any reader may press a channel's buttons, and a reply would go to all of them
            rows = posted["reply_markup"]["inline_keyboard"]
            assert rows
            assert all("url" in button and "callback_data" not in button for row in rows for button in row)
            posted_id = max(mid for (chat, mid) in fake._messages if chat == channel)
            fake.push_callback(channel, "dg:10:", message_id=posted_id, chat_type="channel")
            fake.push_callback(channel, "pz:7", message_id=posted_id, chat_type="channel")
            fake.push_message(42, "/mysubs")  # handled after the presses
            await wait_until(lambda: "我的订阅" in fake.sent(42)[-1]["text"], "a reply to /mysubs")
            await asyncio.sleep(1)  # the outbox's time to send anything queued with it
            assert len(fake.sent(channel)) == 1

            # a post dropped into INBOX_DIR is imported while the bot runs
            dropped = POST.format(date="2026-01-01 08:00:00")
            dropped = dropped.replace("国产芯片企业融资创新高", "收件箱里的新文章")
            dropped = dropped.replace("/chips", "/inbox").replace("今年以来", "收件箱消息：今年前十个月")
            (inbox / "new.md").write_text(dropped, encoding="utf-8")
            for _ in range(60):  # the watcher imports a file once its size has stopped changing
                before = len(fake.sent(42))
                fake.push_message(42, "/search 收件箱")
                await wait_until(lambda n=before: len(fake.sent(42)) > n, "a reply to /search")
                if "收件箱里的新文章" in fake.sent(42)[-1]["text"]:
                    break
                await asyncio.sleep(0.5)
            assert "收件箱里的新文章" in fake.sent(42)[-1]["text"]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    # one line says what runs, at the default log level
    (started,) = [line for line in err.decode().splitlines() if "is running as" in line]
    assert started.startswith("newsbot: INFO newsbot.startup: newsbot is running as @newsbot_test_bot: ")
    assert "updates by polling, sqlite database, 0 feeds" in started
    assert f"inbox {inbox}" in started
    assert "LLM summaries off" in started
    digests = [m for m in fake.sent(42) if (m.get("text") or "").startswith("<b>要闻摘要</b>")]
    assert len(digests) == 1  # once, even though the digest check ran many times


async def test_sigterm_while_a_huge_feed_is_stored_stops_after_the_article_in_hand(
    newsbot: str, tmp_path: Path
) -> None:
    """80,000 items once kept a stopping bot busy for minutes. Now a fetch keeps the newest FETCH_MAX_ITEMS,
    and a stop ends the poll after the article in hand; the feed is left due, so the rest come next time."""
    database = tmp_path / "bot.db"
    feeds = FeedServer()
    feeds.add_many_items("/huge.xml", 40_000)  # 4.3 MB, under FETCH_MAX_BYTES
    await feeds.start()
    try:
        async with FakeTelegram() as fake:
            env = {
                "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_BASE_URL": fake.base_url,
                "FETCH_ALLOW_PRIVATE": "true",  # the feed server is on 127.0.0.1
            }
            adding = await asyncio.create_subprocess_exec(
                newsbot, "feeds", "add", feeds.url("/huge.xml"), env={**os.environ, **env}, cwd=tmp_path
            )
            assert await adding.wait() == 0
            process = await start(newsbot, env, tmp_path)
            try:
                await wait_until(lambda: _count(database, "articles") > 0, "the first article stored", 120)
            finally:
                process.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await feeds.close()
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert 0 < _count(database, "articles") < 200  # stopped in the middle of the 200 kept
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT last_fetch_at, fetch_claimed_by FROM sources").fetchall() == [(None, None)]


def _count(database: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
        try:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - our names
        except sqlite3.OperationalError:  # not created yet
            return 0
