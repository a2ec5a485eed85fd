"""`newsbot digest --dry-run` and `--send-now` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from bot.services.ingest import IngestService
from bot.services.subscriptions import SubscriptionService
from bot.sources.types import RawArticle
from db.engine import make_engine, make_sessionmaker, upgrade_schema
from readmodels import ChatContext
from tests.fakes.telegram_server import FakeTelegram


async def prepare(database_url: str) -> None:
    engine = make_engine(database_url)
    await upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    subs = SubscriptionService(sessions, default_timezone="UTC", default_digest_time=time(0, 0))
    await subs.subscribe(ChatContext(11, "private", 11, "zh"), [])
    await subs.subscribe(ChatContext(12, "private", 12, "en"), ["足球"])
    await subs.subscribe(ChatContext(13, "private", 13, "zh"), [])
    now = datetime.now(UTC)
    ingest = IngestService(sessions, default_tz=UTC, summary_max_chars=150, max_file_bytes=10**7)
    await ingest.store_articles(
        RawArticle(
            title=title, body=body, body_format="text", origin=f"t{i}", link=f"https://e.com/{i}",
            author="测试",
            published=now - timedelta(hours=1),
        )
        for i, (title, body) in enumerate(
            [
                (
                    "国产芯片企业融资创新高",
                    "今年以来国产芯片企业融资总额创新高。多家芯片设计公司完成大额融资。",
                ),
                (
                    "中国女足获东亚杯亚军",
                    "中国女足在东亚杯足球比赛中战平日本队，获得亚军。主教练表示将继续备战亚运会。",
                ),
            ]
        )
    )
    await engine.dispose()


async def run(newsbot: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        newsbot, *args, env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_dry_run_prints_and_send_now_sends_once(newsbot: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}"
    await prepare(url)
    async with FakeTelegram() as fake:
        fake.block(13)
        env = {"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_BASE_URL": fake.base_url}

        code, out, err = await run(newsbot, ["digest", "--dry-run"], env, tmp_path)
        assert code == 0, err
        assert "== chat 11 (private" in out
        assert "== chat 12 (private" in out
        assert out.count("国产芯片企业融资创新高") == 2  # chats 11 and 13; chat 12 follows football only
        assert "<b>" not in out
        assert fake.sent() == []  # a dry run sends nothing

        code, out, err = await run(newsbot, ["digest", "--send-now"], env, tmp_path)
        assert code == 0, err
        assert "digests: 3 enqueued" in out
        assert len(fake.sent(11)) == 1
        assert len(fake.sent(12)) == 1
        assert fake.sent(13) == []
        assert "中国女足" in fake.sent(12)[0]["text"]
        assert "芯片" not in fake.sent(12)[0]["text"]

        code, out, err = await run(newsbot, ["digest", "--send-now"], env, tmp_path)
        assert code == 0
        assert "0 enqueued" in out
        assert "3 already sent" not in out
        assert len(fake.sent(11)) == 1  # not twice on the same day
        code, out, err = await run(newsbot, ["digest", "--dry-run"], env, tmp_path)
        assert "no subscriber is waiting" in out


async def test_send_now_without_token_is_one_line(newsbot: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}"
    code, out, err = await run(newsbot, ["digest", "--send-now"], {"DATABASE_URL": url}, tmp_path)
    assert code == 2
    assert err.strip().startswith("newsbot: TELEGRAM_BOT_TOKEN is not set")
