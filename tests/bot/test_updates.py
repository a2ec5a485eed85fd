"""Who receives updates (UPDATES, bot/updates.py): two pollers of one bot, a process with UPDATES=off, a
poller meeting a webhook, and the settings that cannot work. Real `run_bot`s against the fake Telegram."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from telegram import Bot
from telegram.error import Conflict, NetworkError

from bot.cli import run_cli
from bot.composition import open_services
from bot.config import Settings, SettingsError, load_settings
from bot.runner import run_bot
from bot.updates import OTHER_POLLER, WEBHOOK_SET, PollingErrors, receive_mode
from tests.bot.conftest import recent_article
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until as eventually


def process_settings(database_url: str, fake: FakeTelegram, **overrides: object) -> Settings:
    """One `newsbot run` process's settings: the shared database, the fake Telegram."""
    return load_settings(
        None,
        database_url=database_url,
        telegram_bot_token=fake.token,
        telegram_base_url=fake.base_url,
        **overrides,
    )


def warnings_saying(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.updates" and text in r.getMessage()]


def troubles(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records at ERROR or above, or carrying a traceback."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_two_pollers_keep_running_and_say_so_once(
    database_url: str, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = process_settings(database_url, fake_telegram)
    stops = [asyncio.Event(), asyncio.Event()]
    async with open_services(settings) as first, open_services(settings) as second:
        runs = [
            asyncio.create_task(run_bot(services, install_signals=False, stop=stop))
            for services, stop in zip((first, second), stops, strict=True)
        ]
        try:
            # each process loses the race to the other now and then, and says so once
            await eventually(lambda: len(warnings_saying(caplog, OTHER_POLLER)) >= 2, "both to warn")
            await eventually(lambda: fake_telegram.poll_conflicts >= 6, "several more conflicts")
            fake_telegram.push_message(55, "/help", language_code="en")
            await eventually(lambda: fake_telegram.sent(55), "a reply to /help")
            assert not any(run.done() for run in runs)
        finally:
            for stop in stops:
                stop.set()
            results = await asyncio.wait_for(asyncio.gather(*runs), 60)
    assert results == [0, 0]
    assert fake_telegram.sent(55)[0]["text"].startswith("<b>Commands</b>")
    assert len(warnings_saying(caplog, OTHER_POLLER)) == 2  # one per process, not one per conflict
    assert troubles(caplog) == []


async def test_updates_off_never_polls_yet_sends(
    database_url: str, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    settings = process_settings(
        database_url,
        fake_telegram,
        updates="off",
        channel_id="@newsbot_channel",
        digest_time="00:00",
        timezone="UTC",
        digest_check_interval=0.2,
    )
    channel = fake_telegram.channels["@newsbot_channel"]
    stop = asyncio.Event()
    async with open_services(settings) as services:
        await services.ingest.store_articles(
            [recent_article(1, title="国产芯片企业融资创新高", body="多家芯片设计公司完成大额融资。")]
        )
        running = asyncio.create_task(run_bot(services, install_signals=False, stop=stop))
        try:
            await eventually(lambda: fake_telegram.sent(channel), "the digest to the channel")
        finally:
            stop.set()
            assert await asyncio.wait_for(running, 60) == 0
    assert "国产芯片企业融资创新高" in fake_telegram.sent(channel)[0]["text"]
    assert fake_telegram.calls_to("getUpdates") == []
    # nor does it touch the webhook another process may have set
    assert fake_telegram.calls_to("deleteWebhook") == []
    assert fake_telegram.calls_to("setWebhook") == []
    assert troubles(caplog) == []


async def test_a_poller_meets_a_webhook_set_elsewhere(
    database_url: str, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    settings = process_settings(database_url, fake_telegram)
    stop = asyncio.Event()
    async with open_services(settings) as services:
        running = asyncio.create_task(run_bot(services, install_signals=False, stop=stop))
        try:
            await eventually(lambda: fake_telegram.calls_to("getUpdates"), "the bot to poll")
            async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as other:
                assert await other.set_webhook("https://other.example.com/hook")  # a process in webhook mode
                await eventually(lambda: warnings_saying(caplog, WEBHOOK_SET), "the webhook warning")
                assert await other.delete_webhook()  # that process goes away
            # this one polls again and answers
            fake_telegram.push_message(56, "/help", language_code="en")
            await eventually(lambda: fake_telegram.sent(56), "a reply to /help")
            assert not running.done()
        finally:
            stop.set()
            assert await asyncio.wait_for(running, 60) == 0
    assert troubles(caplog) == []


def test_webhook_mode_needs_a_url_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPDATES", "webhook")
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    assert str(refused.value) == (
        "invalid setting UPDATES: webhook needs WEBHOOK_URL (the public HTTPS URL Telegram posts updates to)"
    )
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:very-secret-token")
    out, err = io.StringIO(), io.StringIO()
    assert run_cli(["run"], out=out, err=err) == 2
    assert err.getvalue().splitlines() == [f"newsbot: {refused.value}"]
    assert "very-secret-token" not in err.getvalue()


def test_which_mode_the_settings_choose() -> None:
    def mode(**values: object) -> str:
        return receive_mode(load_settings(None, **values))

    assert mode() == "polling"
    assert mode(webhook_url="https://bot.example.com/hook") == "webhook"
    assert mode(webhook_url="https://bot.example.com/hook", updates="polling") == "polling"
    assert mode(webhook_url="https://bot.example.com/hook", updates="off") == "off"
    assert mode(updates="off") == "off"


def test_polling_errors_warn_once_a_minute_and_count_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    errors = PollingErrors(every=60, now=lambda: clock[0])
    terminated = Conflict("Conflict: terminated by other getUpdates request; make sure that only one bot ...")
    for at in (0, 1, 2, 59.9, 60.5, 61):
        clock[0] = at
        errors(terminated)
    errors(Conflict("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook ..."))
    errors(NetworkError("Bad Gateway"))
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.updates"]
    assert lines == [
        OTHER_POLLER,
        f"{OTHER_POLLER} (3 more since the last warning)",
        WEBHOOK_SET,
        "polling Telegram failed (NetworkError: Bad Gateway); retrying",
    ]
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in caplog.records)
