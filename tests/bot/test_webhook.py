"""Webhook mode: with WEBHOOK_URL set, `run_bot` registers the webhook and answers updates posted to it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.composition import open_services
from bot.config import load_settings
from bot.runner import run_bot
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import free_port, wait_until


async def test_webhook_mode(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegram() as fake:
        settings = load_settings(
            None,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}",
            telegram_bot_token=fake.token,
            telegram_base_url=fake.base_url,
            webhook_url="https://bot.example.com/telegram/hook",
            webhook_listen="127.0.0.1",
            webhook_port=port,
            webhook_secret="s3cret-token",
        )
        stop = asyncio.Event()
        async with open_services(settings) as app:
            running = asyncio.create_task(run_bot(app, install_signals=False, stop=stop))
            try:
                await wait_until(lambda: fake.webhook_url, "fake.webhook_url")
                assert fake.webhook_url == "https://bot.example.com/telegram/hook"
                assert not fake.calls_to("getUpdates")
                update = {
                    "update_id": 1,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "text": "/help",
                        "chat": {"id": 55, "type": "private", "first_name": "A"},
                        "from": {"id": 55, "is_bot": False, "first_name": "A", "language_code": "en"},
                        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                    },
                }
                url = f"http://127.0.0.1:{port}/telegram/hook"
                async with aiohttp.ClientSession() as http:
                    async with http.post(url, json=update) as refused:
                        assert refused.status == 403  # no secret token: not from Telegram
                    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
                    async with http.post(url, json=update, headers=headers) as accepted:
                        assert accepted.status == 200
                await wait_until(lambda: fake.sent(55), "fake.sent(55)")
                assert fake.sent(55)[0]["text"].startswith("<b>Commands</b>")
            finally:
                stop.set()
                assert await asyncio.wait_for(running, 30) == 0
