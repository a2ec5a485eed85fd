"""Issue #11: in webhook mode without WEBHOOK_SECRET, a POST that does not come from Telegram is refused.

The bot runs as `newsbot run` does, against the fake Bot API server; the forged update is an admin's
/addfeed posted straight to the webhook port, as anyone who can reach it could.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.composition import Services, open_services
from bot.config import Settings, SettingsError, load_settings
from bot.runner import run_bot
from bot.updates import webhook_secret
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import free_port, wait_until

ADMIN_ID = 777
FEED_PATH = "/corpus/rss-parser__guardian.rss"
HOOK = "https://bot.example.com/telegram/hook"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_settings(tmp_path: Path, fake: FakeTelegram, port: int) -> Settings:
    """Webhook mode with WEBHOOK_SECRET left at its default, as `.env.example` ships it."""
    return load_settings(
        None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}",
        telegram_bot_token=fake.token,
        telegram_base_url=fake.base_url,
        admin_ids=[ADMIN_ID],
        webhook_url=HOOK,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        fetch_allow_private=True,  # the feed is the test's own server
    )


def addfeed_update(update_id: int, feed: str) -> dict[str, Any]:
    text = f"/addfeed {feed}"
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 0, "text": text,
            "chat": {"id": ADMIN_ID, "type": "private", "first_name": "A"},
            "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "A", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len("/addfeed")}],
        },
    }  # fmt: skip


async def feed_urls(app: Services) -> list[str]:
    return [feed.url for feed in await app.feeds.list_feeds()]


async def test_forged_updates_are_refused_without_a_configured_secret(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegram() as fake, FeedServer() as feeds:
        feeds.add_corpus_feeds()
        feed = feeds.url(FEED_PATH)
        settings = webhook_settings(tmp_path, fake, port)
        assert settings.webhook_secret is None
        secret = webhook_secret(settings)
        stop = asyncio.Event()
        async with open_services(settings) as app:
            running = asyncio.create_task(run_bot(app, install_signals=False, stop=stop))
            try:
                await wait_until(lambda: fake.webhook_url, "fake.webhook_url")
                assert fake.webhook_url == HOOK
                (registered,) = fake.calls_to("setWebhook")
                assert registered.get("secret_token") == secret  # Telegram will send it with every update

                url = f"http://127.0.0.1:{port}/telegram/hook"
                async with aiohttp.ClientSession() as http:
                    async with http.post(url, json=addfeed_update(1, feed)) as missing:
                        assert missing.status == 403
                    wrong = {HEADER: "not-the-secret"}
                    async with http.post(url, json=addfeed_update(2, feed), headers=wrong) as forged:
                        assert forged.status == 403
                    await asyncio.sleep(0.5)  # time enough for a reply, had the bot taken either update
                    assert await feed_urls(app) == []
                    assert fake.sent() == []

                    real = {HEADER: secret}
                    async with http.post(url, json=addfeed_update(3, feed), headers=real) as accepted:
                        assert accepted.status == 200
                await wait_until(lambda: fake.sent(ADMIN_ID), "fake.sent(ADMIN_ID)")
                (reply,) = fake.sent(ADMIN_ID)
                assert feed in reply["text"]
                assert await feed_urls(app) == [feed]
            finally:
                stop.set()
                assert await asyncio.wait_for(running, 30) == 0


def test_derived_secret_is_the_same_everywhere_and_fits_telegram() -> None:
    one = load_settings(None, telegram_bot_token="123:abc", webhook_url=HOOK)
    again = load_settings(None, telegram_bot_token="123:abc", webhook_url=HOOK, webhook_secret="")
    other = load_settings(None, telegram_bot_token="123:xyz", webhook_url=HOOK)
    secret = webhook_secret(one)
    assert webhook_secret(again) == secret  # every replica of the bot expects the one setWebhook registered
    assert webhook_secret(other) != secret
    assert "123:abc" not in secret
    assert 1 <= len(secret) <= 256
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)


def test_a_configured_secret_wins() -> None:
    settings = load_settings(None, telegram_bot_token="123:abc", webhook_secret="my_own-Secret9")
    assert webhook_secret(settings) == "my_own-Secret9"


def test_a_secret_telegram_would_refuse_is_a_settings_error() -> None:
    for bad in ("has space", "ünïcode", "x" * 257):
        with pytest.raises(SettingsError) as caught:
            load_settings(None, webhook_secret=bad)
        assert "WEBHOOK_SECRET" in str(caught.value)
        assert bad not in str(caught.value)  # never echoes the secret
