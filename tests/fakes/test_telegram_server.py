"""The fake Telegram server, driven by the real `telegram.Bot`: its answers raise PTB's real exceptions."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from telegram import Bot, BotCommand, BotCommandScopeChat, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until as eventually


async def test_get_me_and_send_message(fake_telegram: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "newsbot_test_bot"
    first = await bot.send_message(
        42,
        "<b>Hi</b> &amp; bye",
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    second = await bot.send_message(42, "again")
    assert first.text == "Hi & bye"
    assert first.chat.id == 42
    assert first.chat.type == "private"
    assert second.message_id > first.message_id
    sent = fake_telegram.sent(42)
    assert [p["text"] for p in sent] == ["<b>Hi</b> &amp; bye", "again"]
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["link_preview_options"] == {"is_disabled": True}


async def test_wrong_token_is_unauthorized(fake_telegram: FakeTelegram) -> None:
    client = Bot("999:wrong", base_url=fake_telegram.base_url)
    with pytest.raises(InvalidToken):
        await client.initialize()
    await client.shutdown()


async def test_validation_like_telegram(fake_telegram: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "x" * 4097)
    await bot.send_message(1, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)  # tags do not count
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "😀" * 2049)  # 4098 UTF-16 units
    with pytest.raises(BadRequest, match=r'(?i)end tag corresponding to start tag "b"'):
        await bot.send_message(1, "<b>open", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "br"'):
        await bot.send_message(1, "a<br>b", parse_mode=ParseMode.HTML)
    await bot.send_message(1, "a<br>b")  # no parse mode: plain text
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(1, photo="https://example.com/a.jpg", caption="y" * 1025)
    assert len(fake_telegram.sent(1)) == 2


async def test_photo(fake_telegram: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_photo(
        1, photo="https://example.com/a.jpg", caption="<i>c</i>", parse_mode="HTML"
    )
    assert message.caption == "c"
    assert message.photo
    fake_telegram.refuse_photos()
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier/HTTP URL specified"):
        await bot.send_photo(1, photo="https://example.com/a.jpg")


async def test_scripted_faults_raise_ptb_exceptions(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.block(1)
    fake_telegram.kick(-2)
    fake_telegram.deactivate(3)
    fake_telegram.not_found(4)
    fake_telegram.rate_limit(5, retry_after=7)
    fake_telegram.fail(6)
    fake_telegram.migrate(-7, -1007)
    fake_telegram.reject_parse(8)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(1, "x")
    with pytest.raises(Forbidden, match=r"(?i)kicked"):
        await bot.send_message(-2, "x")
    with pytest.raises(Forbidden, match=r"(?i)user is deactivated"):
        await bot.send_message(3, "x")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(4, "x")
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(5, "x")
    assert retry.value.retry_after == timedelta(seconds=7)
    await bot.send_message(5, "x")  # once only
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway") as gateway:
        await bot.send_message(6, "x")
    assert not isinstance(gateway.value, BadRequest)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-7, "x")
    assert migrated.value.new_chat_id == -1007
    await bot.send_message(-1007, "x")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(8, "plain")
    assert [p["chat_id"] for p in fake_telegram.sent()] == [5, -1007]
    assert fake_telegram.scripted_429s == 1


async def test_enforced_limits_answer_429(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.enforce_limits(global_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    await bot.send_message(1, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(1, "y")
    assert fake_telegram.limit_429s == 1


async def test_updates_commands_and_chats(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.push_message(42, "/start@newsbot_test_bot hello")
    fake_telegram.push_callback(42, "more:2", message_id=5)
    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == [1, 2]
    assert updates[0].message is not None
    assert updates[0].message.text == "/start@newsbot_test_bot hello"
    assert updates[0].message.parse_entities() == {updates[0].message.entities[0]: "/start@newsbot_test_bot"}
    assert updates[1].callback_query is not None
    assert updates[1].callback_query.data == "more:2"
    assert await bot.get_updates(offset=3, timeout=1) == ()

    scope = BotCommandScopeChat(42)
    await bot.set_my_commands([BotCommand("latest", "最新")], scope=scope, language_code="zh")
    assert [c.command for c in await bot.get_my_commands(scope=scope, language_code="zh")] == ["latest"]
    assert await bot.get_my_commands() == ()

    channel = await bot.get_chat("@newsbot_channel")
    assert channel.type == "channel"
    assert channel.id < 0
    message = await bot.send_message(42, "a")
    edited = await bot.edit_message_text("b", chat_id=42, message_id=message.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "b"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("b", chat_id=42, message_id=message.message_id)
    assert await bot.answer_callback_query("1")
    pressed = await bot.edit_message_text("page 2", chat_id=42, message_id=5)  # the message under the button
    assert not isinstance(pressed, bool)
    assert pressed.text == "page 2"
    assert await bot.send_chat_action(42, "typing")


async def test_unknown_method_is_not_found(fake_telegram: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")



async def test_slow_sends_count_limits_on_arrival(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.enforce_limits(per_chat_per_second=1)
    fake_telegram.slow_sends(30)  # far longer than the test: the first send stays unanswered throughout
    first = asyncio.create_task(bot.send_message(1, "first", read_timeout=60))
    await eventually(lambda: fake_telegram.calls_to("sendMessage"), "the first send to arrive")
    with pytest.raises(RetryAfter):  # answered on arrival, while the first is still being "processed"
        await bot.send_message(1, "second")
    assert not first.done()
    assert fake_telegram.sent() == []  # accepted only when answered
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first


async def test_slow_sends_deliver_what_the_client_gave_up_on(fake_telegram: FakeTelegram) -> None:
    fake_telegram.slow_sends(0.5)
    impatient = HTTPXRequest(read_timeout=0.05)
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url, request=impatient) as client:
        with pytest.raises(TimedOut):
            await client.send_message(1, "late")
        with pytest.raises(TimedOut):
            await client.edit_message_text("edited", chat_id=1, message_id=1)
        # like Telegram, the message arrives although the client timed out
        await eventually(lambda: fake_telegram.sent(1), "the late message")
        assert [m["text"] for m in fake_telegram.sent(1)] == ["late"]
        fake_telegram.slow_sends(0)
        assert (await client.send_message(1, "fast")).text == "fast"


async def test_a_second_get_updates_terminates_the_waiting_one(fake_telegram: FakeTelegram, bot: Bot) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=10))
    # recorded as the request starts to wait
    await eventually(lambda: fake_telegram.calls_to("getUpdates"), "the first getUpdates")
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
        fake_telegram.push_message(42, "/start")
        assert [u.update_id for u in await other.get_updates(timeout=10)] == [1]  # the newest poll is served
    with pytest.raises(Conflict, match=r"terminated by other getUpdates request; make sure that only one"):
        await waiting
    assert fake_telegram.poll_conflicts == 1


async def test_get_updates_while_a_webhook_is_set(fake_telegram: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("https://bot.example.com/hook")
    with pytest.raises(Conflict, match=r"can't use getUpdates method while webhook is active; use deleteWeb"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()
