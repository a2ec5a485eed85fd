"""Every command as a Telegram update through the real Application, against the fake Bot API server."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from tests.bot.conftest import ADMIN_ID, RunningBot
from tests.fakes.feed_server import FeedServer

PRIVATE = 1001
ENGLISH = 1002
GROUP = -2001


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)


def buttons(message: dict) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url")) for row in rows for b in row]


def assert_all_sends_accepted(bot: RunningBot) -> None:
    attempted = len(bot.fake.calls_to("sendMessage")) + len(bot.fake.calls_to("sendPhoto"))
    assert attempted == len(bot.fake.sent()), "Telegram refused a message the bot sent"


async def test_start_help_and_registered_commands(running_bot: RunningBot) -> None:
    (welcome,) = await running_bot.say(PRIVATE, "/start")
    assert "newsbot" in welcome["text"]
    assert "/latest" in welcome["text"]
    assert welcome["parse_mode"] == "HTML"
    assert [data for _, data in buttons(welcome)] == ["sub:", "topics"]
    (english,) = await running_bot.say(ENGLISH, "/start", language_code="en-US")
    assert english["text"].startswith("Hello!")

    (help_zh,) = await running_bot.say(PRIVATE, "/help")
    assert "/subscribe" in help_zh["text"]
    assert "/addfeed" not in help_zh["text"]
    (help_admin,) = await running_bot.say(PRIVATE + 5, "/help", user_id=ADMIN_ID)
    assert "/addfeed" in help_admin["text"]

    registered = {language: len(commands) for (_, language), commands in running_bot.fake.commands.items()}
    assert registered["zh"] == registered["en"] == 12
    assert_all_sends_accepted(running_bot)


async def test_latest_pages_with_more_button(running_bot: RunningBot) -> None:
    (first,) = await running_bot.say(PRIVATE, "/latest 2")
    assert "华为发布新款芯片" in first["text"]
    assert "国产芯片企业" in first["text"]
    assert first["link_preview_options"]["is_disabled"] is True
    # hashtags of the tags, linked bold titles
    assert re.search(r"#\w+", first["text"])
    assert '<b><a href="https://news.example.com/0">' in first["text"]
    (label, data), = buttons(first)
    assert data == "l:2:2"
    sent = await running_bot.press(PRIVATE, data, message_id=running_bot.last_message_id(PRIVATE))
    assert "中国女足" in sent[-1]["text"]
    (bad,) = await running_bot.say(PRIVATE, "/latest 99")
    assert "20" in bad["text"]
    (english,) = await running_bot.say(ENGLISH, "/latest", language_code="en")
    assert english["text"].startswith("<b>Latest news</b>")
    assert_all_sends_accepted(running_bot)


async def test_hostile_titles_are_escaped(running_bot: RunningBot) -> None:
    (reply,) = await running_bot.say(PRIVATE, "/search 特殊字符")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 测试 &quot;标题&quot;" in reply["text"]
    assert "<script>" not in reply["text"]
    assert_all_sends_accepted(running_bot)


async def test_subscribe_topics_mute_and_mysubs(running_bot: RunningBot) -> None:
    (reply,) = await running_bot.say(PRIVATE, "/subscribe 芯片 #足球")
    assert "芯片" in reply["text"]
    assert "足球" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/mute 华为")
    assert "华为" in reply["text"]
    (mine,) = await running_bot.say(PRIVATE, "/mysubs")
    assert "芯片、足球" in mine["text"]
    assert "华为" in mine["text"]

    (digest,) = await running_bot.say(PRIVATE, "/digest 芯片")
    assert "国产芯片企业融资创新高" in digest["text"]
    assert "华为发布新款芯片" not in digest["text"]  # muted
    (latest,) = await running_bot.say(PRIVATE, "/latest 3")
    assert "华为" not in latest["text"]

    (reply,) = await running_bot.say(PRIVATE, "/unsubscribe 芯片")
    assert "芯片" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/unsubscribe 足球")
    assert "每日摘要已停止" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/unmute 华为")
    assert "华为" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/subscribe")
    assert "08:00" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/unsubscribe all")
    assert "/subscribe" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/subscribe " + "长" * 40)
    assert "32" in reply["text"]
    assert_all_sends_accepted(running_bot)


async def test_topics_buttons_show_a_digest_and_offer_to_subscribe(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, "/settings size 1")  # a page of one: the second chip story is More
    (topics,) = await running_bot.say(PRIVATE, "/topics")
    choices = buttons(topics)
    assert choices
    assert all(data.startswith("t:") for _, data in choices)
    chip = next(data for label, data in choices if data == "t:芯片")
    sent = await running_bot.press(PRIVATE, chip, message_id=running_bot.last_message_id(PRIVATE))
    digest = sent[-1]
    assert "芯片" in digest["text"]
    (label, data), *others = buttons(digest)
    assert data == "sub:芯片"
    assert any(d.startswith("dg:") and d.endswith(":芯片") for _, d in others)  # More, within the topic
    sent = await running_bot.press(PRIVATE, data, message_id=running_bot.last_message_id(PRIVATE))
    assert "芯片" in sent[-1]["text"]
    (mine,) = await running_bot.say(PRIVATE, "/mysubs")
    assert "芯片" in mine["text"]


async def test_digest_on_demand_groups_by_topic(running_bot: RunningBot) -> None:
    (digest,) = await running_bot.say(ENGLISH, "/digest", language_code="en")
    assert digest["text"].startswith("<b>Digest</b>")
    assert "<b>#芯片</b>" in digest["text"]
    # numbered across the digest, the chip stories together under their topic
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", digest["text"], flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 5
    (empty,) = await running_bot.say(ENGLISH, "/digest 火星探测", language_code="en")
    assert "火星探测" in empty["text"]


async def test_settings_through_buttons_and_text(running_bot: RunningBot) -> None:
    (menu,) = await running_bot.say(PRIVATE, "/settings")
    menu_id = running_bot.last_message_id(PRIVATE)
    assert "08:00" in menu["text"]
    assert "Asia/Shanghai" in menu["text"]
    await running_bot.press(PRIVATE, "set:time", message_id=menu_id)
    edit = running_bot.fake.calls_to("editMessageText")[-1]
    assert "07:00" in str(edit["reply_markup"])
    await running_bot.press(PRIVATE, "set:time:07:00", message_id=menu_id)
    await running_bot.press(PRIVATE, "set:lang:en", message_id=menu_id)
    assert "Digest time: 07:00" in running_bot.fake.calls_to("editMessageText")[-1]["text"]
    (reply,) = await running_bot.say(PRIVATE, "/settings tz Europe/London")
    assert "Europe/London" in reply["text"]  # English from now on: the chat chose it
    (reply,) = await running_bot.say(PRIVATE, "/settings tz Mars/Olympus")
    assert "Unknown time zone" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/settings time 25:99")
    assert "Not a time" in reply["text"]
    (reply,) = await running_bot.say(PRIVATE, "/settings size 0")
    assert "1 to 30" in reply["text"]


async def test_groups_unknown_commands_and_free_text(running_bot: RunningBot) -> None:
    (reply,) = await running_bot.say(GROUP, "/latest@newsbot_test_bot 1", chat_type="supergroup", user_id=5)
    assert "华为" in reply["text"]
    before = len(running_bot.fake.sent(GROUP))
    running_bot.fake.push_message(GROUP, "/latest@some_other_bot", chat_type="supergroup", user_id=5)
    running_bot.fake.push_message(GROUP, "just chatting", chat_type="supergroup", user_id=5)
    await running_bot.quiet(GROUP, before)
    # only the group's admins change what it gets: user 6 is a member, 7 an admin (asked with getChatMember)
    running_bot.fake.admins[GROUP] = [8, 7]
    (reply,) = await running_bot.say(GROUP, "/subscribe@newsbot_test_bot", chat_type="supergroup", user_id=6)
    assert "管理员" in reply["text"]
    (reply,) = await running_bot.say(GROUP, "/subscribe@newsbot_test_bot", chat_type="supergroup", user_id=7)
    assert "每日摘要" in reply["text"]

    (hint,) = await running_bot.say(PRIVATE, "/frobnicate")
    assert "/help" in hint["text"]
    (hint,) = await running_bot.say(PRIVATE, "hello there")
    assert "/latest" in hint["text"]


async def test_admin_commands_and_polite_refusal(running_bot: RunningBot) -> None:
    async with FeedServer() as server:
        server.add_corpus_feeds()
        feed = server.url("/corpus/rss-parser__guardian.rss")
        (refusal,) = await running_bot.say(PRIVATE, f"/addfeed {feed}")
        assert "管理员" in refusal["text"]
        (added,) = await running_bot.say(PRIVATE, f"/addfeed {feed}", user_id=ADMIN_ID)
        assert feed in added["text"]
        assert "Guardian" in added["text"]  # named by its own title, fetched at once
    (bad,) = await running_bot.say(PRIVATE, "/addfeed javascript:alert(1)", user_id=ADMIN_ID)
    assert "javascript:alert(1)" in html.unescape(bad["text"])
    (feeds,) = await running_bot.say(PRIVATE, "/feeds", user_id=ADMIN_ID)
    assert "guardian.rss" in feeds["text"]
    (sources,) = await running_bot.say(PRIVATE, "/sources")
    assert "正常，最近成功" in sources["text"]
    (stats,) = await running_bot.say(PRIVATE, "/stats", user_id=ADMIN_ID)
    assert "订阅者：" in stats["text"]
    (removed,) = await running_bot.say(PRIVATE, "/removefeed 1", user_id=ADMIN_ID)
    assert feed in removed["text"]
    (refusal,) = await running_bot.say(PRIVATE, "/stats")
    assert "管理员" in refusal["text"]
    assert_all_sends_accepted(running_bot)


async def test_start_reactivates_a_chat_that_had_left(running_bot: RunningBot) -> None:
    from sqlalchemy import update

    from db.models import Subscriber

    await running_bot.say(PRIVATE, "/subscribe")
    async with running_bot.sessions() as session, session.begin():
        await session.execute(
            update(Subscriber)
            .where(Subscriber.chat_id == PRIVATE)
            .values(active=False, inactive_reason="blocked")
        )
    (welcome,) = await running_bot.say(PRIVATE, "/start")
    assert welcome["text"].startswith("欢迎回来")
    async with running_bot.sessions() as session:
        subscriber = await session.scalar(select(Subscriber).where(Subscriber.chat_id == PRIVATE))
    assert subscriber is not None
    assert subscriber.active
    assert subscriber.inactive_reason is None
