"""Buttons whose value outgrows Telegram's 64 bytes of callback data: a Chinese topic of 22 to 32 characters
(3 bytes each) or a long search query. Their buttons (unsubscribe, a topic's digest, mute, follow, More) were
left out; now they carry a key and the value is kept in the database, for any process, after a restart too.
A key nobody kept answers "expired", as any button that does not parse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.commands import Reply
from bot.commands.buttons import (
    CALLBACK_MAX_BYTES,
    MAX_OFFSET,
    SEARCH_MORE,
    STASH_MARK,
    SUBSCRIBE,
    UNSUBSCRIBE,
    callback_key,
    parse_button,
)
from bot.commands.reading import SEARCH_MAX_CHARS
from bot.composition import Services, open_services
from bot.i18n import t
from bot.services.callback_values import CallbackValues
from bot.services.subscriptions import MAX_TOPIC_CHARS
from db.models import Article, CallbackValue
from db.repositories import TagRepo
from readmodels import ChatContext
from tests.bot.conftest import NOW, RunningBot, bot_serving, bot_settings, recent_article, store_samples
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until

PRIVATE = 4343
GROUP = -100778
MEMBER, ADMIN = 71, 72
CHAT = ChatContext(chat_id=PRIVATE, chat_kind="private", user_id=PRIVATE, language_code="zh-hans")
LONG_TOPIC = "国产新能源汽车出口欧洲遭遇反补贴调查后的价格战与技术路线之争"  # 30 characters, 90 bytes
LONG_QUERY = "国产芯片 设计公司 大额融资 投资机构 长期发展"  # 24 characters, 64 bytes
EXPIRED = t("zh", "button_expired")
FORGED = f"{STASH_MARK}{'A' * 16}"  # a key's form, but no button carried it


def test_the_long_values_are_the_ones_that_overflowed() -> None:
    assert len(LONG_TOPIC) == 30
    assert len(f"uns:{LONG_TOPIC}".encode()) > CALLBACK_MAX_BYTES
    assert len(f"s:5:{LONG_QUERY}".encode()) > CALLBACK_MAX_BYTES


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url") or "") for row in rows for b in row]


def data_of(message: dict[str, Any], prefix: str) -> list[str]:
    return [data for _, data in buttons(message) if data.startswith(prefix)]


def keyed(prefix: str, value: str) -> str:
    """The data of a button carrying `value` as its key."""
    return f"{prefix}{STASH_MARK}{callback_key(value)}"


async def tag_the_chip_stories(services: Services, tag: str) -> None:
    """The two chip stories of the samples (the only ones sharing a tag) get `tag` as their one tag, as an
    LLM may give them."""
    async with services.sessions() as session, session.begin():
        chips = (await session.scalars(select(Article).where(Article.title.contains("芯片")))).all()
        assert len(chips) == 2
        for article in chips:
            await TagRepo(session).set_article_tags(article.id, article.listed_at, [tag], tagger="llm")


# ---- through Telegram: each button is there, and its press does what the short form does ------------------


async def test_a_long_topic_s_unsubscribe_button_drops_it(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, f"/subscribe {LONG_TOPIC} 芯片")
    (asked,) = await running_bot.say(PRIVATE, "/unsubscribe")
    # it once offered only the short topic and "stop the digest"
    assert sorted(data_of(asked, "uns:")) == sorted(["uns:", "uns:芯片", keyed("uns:", LONG_TOPIC)])
    assert (f"✖ {LONG_TOPIC}", keyed("uns:", LONG_TOPIC)) in buttons(asked)
    assert all(len(data.encode()) <= CALLBACK_MAX_BYTES for _, data in buttons(asked))

    dropped = await running_bot.press(
        PRIVATE, keyed("uns:", LONG_TOPIC), message_id=running_bot.last_message_id(PRIVATE)
    )
    assert dropped[-1]["text"] == t("zh", "unsubscribed_topics", topics=LONG_TOPIC)
    (mine,) = await running_bot.say(PRIVATE, "/mysubs")
    assert LONG_TOPIC not in mine["text"]
    assert "芯片" in mine["text"]


async def test_a_long_tag_s_topic_digest_follow_and_mute_buttons_work(services: Services) -> None:
    await store_samples(services)
    await tag_the_chip_stories(services, LONG_TOPIC)
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        (topics,) = await running.say(PRIVATE, "/topics")
        assert (f"{LONG_TOPIC} (2)", keyed("t:", LONG_TOPIC)) in buttons(topics)

        pressed = await running.press(
            PRIVATE, keyed("t:", LONG_TOPIC), message_id=running.last_message_id(PRIVATE)
        )
        digest = pressed[-1]
        assert digest["text"].startswith(t("zh", "digest_topic_header", topic=LONG_TOPIC))
        assert "华为发布新款芯片" in digest["text"]
        assert "国产芯片企业融资创新高" in digest["text"]
        assert "女足" not in digest["text"]
        assert data_of(digest, "sub:") == [keyed("sub:", LONG_TOPIC)]
        assert data_of(digest, "mt:") == [keyed("mt:", LONG_TOPIC)]

        digest_id = running.last_message_id(PRIVATE)
        followed = await running.press(PRIVATE, keyed("sub:", LONG_TOPIC), message_id=digest_id)
        assert LONG_TOPIC in followed[-1]["text"]
        assert (await running.subscriptions.following(CHAT)).topics == [LONG_TOPIC]
        muted = await running.press(PRIVATE, keyed("mt:", LONG_TOPIC), message_id=digest_id)
        assert muted[-1]["text"] == t("zh", "muted", word=LONG_TOPIC)
        assert (await running.subscriptions.following(CHAT)).mutes == [LONG_TOPIC]


async def test_a_daily_digest_s_mute_button_for_a_long_tag_works(services: Services) -> None:
    await store_samples(services)
    await tag_the_chip_stories(services, LONG_TOPIC)
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        await running.say(PRIVATE, "/subscribe")
        before = len(fake.sent(PRIVATE))
        assert (await running.digests.run(force=True)).enqueued == 1
        (digest,) = await running.wait_sent(PRIVATE, before, 1)
        assert f"<b>#{LONG_TOPIC}</b>" in digest["text"]
        assert data_of(digest, "mt:") == [keyed("mt:", LONG_TOPIC)]

        muted = await running.press(
            PRIVATE, keyed("mt:", LONG_TOPIC), message_id=running.last_message_id(PRIVATE)
        )
        assert muted[-1]["text"] == t("zh", "muted", word=LONG_TOPIC)
        (latest,) = await running.say(PRIVATE, "/latest 10")
        assert "华为发布新款芯片" not in latest["text"]
        assert "女足" in latest["text"]


async def test_a_long_search_pages_through_its_more_button(services: Services) -> None:
    await services.ingest.store_articles(
        recent_article(
            200 + i,
            title=f"第{i}家国产芯片设计公司完成大额融资",
            body=f"第{i}家国产芯片设计公司今天宣布完成大额融资，投资机构看好芯片产业的长期发展。",
            hours_ago=i / 10,
        )
        for i in range(8)
    )
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        (first,) = await running.say(PRIVATE, f"/search {LONG_QUERY}")
        assert data_of(first, "s:") == [f"s:5:{keyed('', LONG_QUERY)}"]
        assert "第0家" in first["text"]
        assert "第5家" not in first["text"]

        pressed = await running.press(
            PRIVATE, f"s:5:{keyed('', LONG_QUERY)}", message_id=running.last_message_id(PRIVATE)
        )
        second = pressed[-1]
        assert second["text"].startswith(t("zh", "search_page_header", query=LONG_QUERY, page=2))
        assert "第7家" in second["text"]
        assert "第0家" not in second["text"]
        assert data_of(second, "s:") == [f"s:0:{keyed('', LONG_QUERY)}"]  # « Back; the last page has no More


@pytest.mark.parametrize(
    "data", [f"uns:{FORGED}", f"mt:{FORGED}", f"t:{FORGED}", f"s:5:{FORGED}", "uns:~short", "t:~" + "A" * 17]
)
async def test_a_forged_key_is_expired_and_changes_nothing(running_bot: RunningBot, data: str) -> None:
    await running_bot.say(PRIVATE, f"/subscribe {LONG_TOPIC}")
    pressed = await running_bot.press(PRIVATE, data, message_id=running_bot.last_message_id(PRIVATE))
    assert pressed[-1]["text"] == EXPIRED
    following = await running_bot.subscriptions.following(CHAT)
    assert (following.topics, following.mutes) == ([LONG_TOPIC], [])


async def test_a_forged_key_in_a_group_is_told_to_its_presser_alone(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    fake.admins[GROUP] = [ADMIN]
    await running_bot.say(GROUP, "/subscribe 芯片", user_id=ADMIN, chat_type="supergroup")
    before = len(fake.sent(GROUP))
    for user in (MEMBER, ADMIN):  # expired before the question of who may change the group's topics
        fake.push_callback(GROUP, f"uns:{FORGED}", message_id=1, user_id=user, chat_type="supergroup")
    await wait_until(lambda: len(fake.callback_alerts) == 2, "two alerts")
    assert all("失效" in alert for alert in fake.callback_alerts)
    await running_bot.quiet(GROUP, before)


# ---- another process, a restart, and values forgotten -----------------------------------------------------


def data_of_reply(reply: Reply) -> list[str]:
    return [b.callback_data or "" for row in reply.buttons for b in row]


async def test_a_button_made_by_one_process_works_in_another(services: Services, database_url: str) -> None:
    """Another process on the database, or this one after a restart, finds what the key stands for."""
    await services.commands.handle(CHAT, "subscribe", [LONG_TOPIC, "芯片"])
    asked = await services.commands.handle(CHAT, "unsubscribe", [])
    assert keyed("uns:", LONG_TOPIC) in data_of_reply(asked)
    async with open_services(bot_settings(database_url)) as other:
        dropped = await other.commands.button(CHAT, keyed("uns:", LONG_TOPIC))
        assert dropped.chunks == [t("zh", "unsubscribed_topics", topics=LONG_TOPIC)]
        # the same value kept again by the other process: one row, the same key
        await other.commands.handle(CHAT, "subscribe", [LONG_TOPIC])
        again = await other.commands.handle(CHAT, "unsubscribe", [])
        assert keyed("uns:", LONG_TOPIC) in data_of_reply(again)
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallbackValue)) == 1


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def test_a_value_no_button_carried_for_30_days_is_forgotten(database_url: str, clock: Clock) -> None:
    now: Callable[[], datetime] = clock
    async with open_services(bot_settings(database_url), now=now) as services:
        await services.commands.handle(CHAT, "subscribe", [LONG_TOPIC])
        await services.commands.handle(CHAT, "unsubscribe", [])

        async def another_process_keeps(value: str) -> None:
            await CallbackValues(services.sessions, now=now).keep({callback_key(value): value})

        clock.now += timedelta(days=29)
        await another_process_keeps(LONG_QUERY)  # forgets what no button carried for 30 days: nothing yet
        assert (await services.commands.button(CHAT, keyed("t:", LONG_TOPIC))).chunks != [EXPIRED]
        clock.now += timedelta(days=2)
        await another_process_keeps(LONG_QUERY + " 其他")
        assert (await services.commands.button(CHAT, keyed("uns:", LONG_TOPIC))).chunks == [EXPIRED]
        assert (await services.subscriptions.following(CHAT)).topics == [LONG_TOPIC]
        # a button sent anew carries it again
        asked = await services.commands.handle(CHAT, "unsubscribe", [])
        assert keyed("uns:", LONG_TOPIC) in data_of_reply(asked)
        dropped = await services.commands.button(CHAT, keyed("uns:", LONG_TOPIC))
        assert dropped.chunks == [t("zh", "unsubscribed_last_topic", topics=LONG_TOPIC)]
        async with services.sessions() as session:
            kept = set(await session.scalars(select(CallbackValue.value)))
        assert kept == {LONG_TOPIC, LONG_QUERY, LONG_QUERY + " 其他"}


# ---- the codes themselves ---------------------------------------------------------------------------------


def test_every_value_the_commands_accept_fits_as_a_key() -> None:
    widest_query = "𠀀" * SEARCH_MAX_CHARS  # 4 bytes each
    data = SEARCH_MORE.data(MAX_OFFSET, widest_query)
    assert data == f"s:{MAX_OFFSET}:{keyed('', widest_query)}"
    assert len(data.encode()) <= CALLBACK_MAX_BYTES
    assert parse_button(data) == (SEARCH_MORE, (MAX_OFFSET, f"{STASH_MARK}{callback_key(widest_query)}"))
    topic = "中" * MAX_TOPIC_CHARS
    assert UNSUBSCRIBE.data(topic) == keyed("uns:", topic)
    # a short value goes as it always did: buttons already sent keep working
    assert UNSUBSCRIBE.data("芯片") == "uns:芯片"
    assert SUBSCRIBE.data("") == "sub:"


def test_a_value_starting_with_the_mark_goes_as_its_key_whatever_its_length() -> None:
    """A search for "~AAAAAAAAAAAAAAAA" must not be read back as a key."""
    button = SEARCH_MORE.button("More", 5, FORGED)
    assert button is not None
    assert button.callback_data == f"s:5:{keyed('', FORGED)}"
    assert button.stash == (callback_key(FORGED), FORGED)


@pytest.mark.parametrize(
    "data", ["uns:~", "uns:~short", "uns:~" + "A" * 17, "uns:~" + "A" * 15 + "=", "set:~x:y"]
)
def test_a_mark_without_a_key_does_not_parse(data: str) -> None:
    assert parse_button(data) is None
