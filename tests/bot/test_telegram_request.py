"""The aiohttp backend of python-telegram-bot (`bot.telegram_request`) against the fake Bot API server: what
reaches Telegram, and each kind of failure as the PTB error the outbox sender handles."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram_request import AiohttpRequest
from tests.fakes.telegram_server import FakeTelegram


@pytest.fixture
async def client(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(fake_telegram.token, base_url=fake_telegram.base_url, request=AiohttpRequest(timeout=0.5))
    await bot.initialize()  # getMe
    try:
        yield bot
    finally:
        await bot.shutdown()


async def test_messages_photos_and_keyboards_arrive_as_sent(client: Bot, fake_telegram: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("更多 ›", callback_data="l:20:20")]])
    sent = await client.send_message(42, "<b>要闻</b> & more", parse_mode="HTML", reply_markup=markup)
    photo_url = "https://img.example.com/a.jpg"
    await client.send_photo(42, photo=photo_url, caption="图 <i>一</i>", parse_mode="HTML")
    text, photo = fake_telegram.sent(42)
    assert sent.message_id > 0
    assert sent.chat.id == 42
    assert text["text"] == "<b>要闻</b> & more"
    assert text["reply_markup"] == {"inline_keyboard": [[{"text": "更多 ›", "callback_data": "l:20:20"}]]}
    assert photo["method"] == "sendPhoto"
    assert (photo["photo"], photo["caption"]) == (photo_url, "图 <i>一</i>")


async def test_telegram_errors_are_ptb_errors(client: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.block(1)
    fake_telegram.rate_limit(2, retry_after=7)
    fake_telegram.migrate(-3, -1003)
    with pytest.raises(Forbidden):
        await client.send_message(1, "x")
    with pytest.raises(RetryAfter) as retry:
        await client.send_message(2, "x")
    assert "7" in str(retry.value)
    with pytest.raises(ChatMigrated) as migrated:
        await client.send_message(-3, "x")
    assert migrated.value.new_chat_id == -1003
    with pytest.raises(BadRequest, match="parse entities"):
        await client.send_message(4, "<blink>x</blink>", parse_mode="HTML")


async def test_a_stalled_answer_is_a_timeout(client: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.stall(5, seconds=2)
    with pytest.raises(TimedOut):
        await client.send_message(5, "x")


async def test_nobody_listening_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = Bot("123:abc", base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.initialize()
        assert not isinstance(caught.value, TimedOut)
    finally:
        await bot.shutdown()
