"""The command table, the button registry and the command layer itself, called directly (no Telegram)."""

from __future__ import annotations

import pytest

from bot.commands import Button, Reply
from bot.commands.buttons import (
    ALL_CODES,
    CALLBACK_MAX_BYTES,
    LATEST_MORE,
    SEARCH_MORE,
    SETTINGS,
    SUBSCRIBE,
    TOPIC_DIGEST,
    TOPICS,
    callback_key,
    parse_button,
)
from bot.composition import Services
from bot.i18n import LANGUAGES, MESSAGES
from readmodels import ChatContext
from tests.bot.conftest import ADMIN_ID, SAMPLE, recent_article
from tests.fakes.feed_server import FeedServer

CHAT = ChatContext(chat_id=501, chat_kind="private", user_id=501, language_code="zh-hans")
ENGLISH = ChatContext(chat_id=502, chat_kind="private", user_id=502, language_code="en")
ADMIN = ChatContext(chat_id=503, chat_kind="private", user_id=ADMIN_ID)


def data_of(reply: Reply) -> list[str]:
    return [b.callback_data or "" for row in reply.buttons for b in row]


# ---- the table and the strings ------------------------------------------------------------------------


def test_every_command_has_its_help_line_and_menu_entry_in_every_language(services: Services) -> None:
    commands = services.commands
    missing = []
    for command in commands.table:
        for lang in LANGUAGES:
            if command.listed and command.help_key not in MESSAGES[lang]:
                missing.append(f"{lang}:{command.help_key}")
            if command.in_menu and command.menu_key not in MESSAGES[lang]:
                missing.append(f"{lang}:{command.menu_key}")
    assert missing == []
    assert len(set(commands.command_names)) == len(commands.table)


def test_every_language_has_the_same_strings() -> None:
    keys = {lang: set(MESSAGES[lang]) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys[lang] == keys["zh"], f"{lang} differs from zh: {keys[lang] ^ keys['zh']}"


def test_the_menu_lists_the_same_commands_in_both_languages(services: Services) -> None:
    menus = {lang: services.commands.menu(lang) for lang in LANGUAGES}
    names = [name for name, _ in menus["zh"]]
    assert names == [name for name, _ in menus["en"]]
    assert "start" not in names
    assert "addfeed" not in names
    assert "latest" in names
    assert all(description for menu in menus.values() for _, description in menu)


# ---- buttons --------------------------------------------------------------------------------------------


def test_button_codes_round_trip_and_refuse_what_they_did_not_make() -> None:
    assert len({code.prefix for code in ALL_CODES}) == len(ALL_CODES)
    for code, values in [
        (LATEST_MORE, (10, 5)),
        (SEARCH_MORE, (5, "芯片 a:b")),  # a query may hold ':'
        (TOPIC_DIGEST, ("足球",)),
        (SUBSCRIBE, ("",)),
        (SETTINGS, ("time", "07:30")),
        (SETTINGS, ("tz", "")),
        (TOPICS, ()),
    ]:
        data = code.data(*values) if values != ("tz", "") else code.data("tz")
        assert data is not None
        assert parse_button(data) == (code, values)
    # the wire format of buttons already sent must not change
    assert LATEST_MORE.data(10, 5) == "l:10:5"
    assert SUBSCRIBE.data("") == "sub:"
    assert TOPICS.data() == "topics"
    assert SETTINGS.data("time", "07:30") == "set:time:07:30"
    for garbage in ["", "x", "l:", "l:a:5", "l:1", "l:-1:5", "topics:extra", "zzz:1", "l:99999999999:1"]:
        assert parse_button(garbage) is None, garbage


def test_a_value_over_64_bytes_goes_as_its_key() -> None:
    """A topic of 21 Chinese characters once made no button at all (see tests/bot/test_long_buttons.py)."""
    fits = "中" * ((CALLBACK_MAX_BYTES - len("t:")) // 3)
    assert TOPIC_DIGEST.button("x", fits) == Button("x", f"t:{fits}")
    longer = fits + "中"
    key = callback_key(longer)
    assert TOPIC_DIGEST.button("x", longer) == Button("x", f"t:~{key}", stash=(key, longer))
    assert parse_button(f"t:~{key}") == (TOPIC_DIGEST, (f"~{key}",))
    with pytest.raises(TypeError):
        TOPIC_DIGEST.data("a", "b")


# ---- the command layer, called directly --------------------------------------------------------------


async def stored_sample(services: Services) -> None:
    await services.ingest.store_articles(
        recent_article(i, title=t, body=b, hours_ago=1 + i) for i, (t, b) in enumerate(SAMPLE)
    )


async def test_a_digest_s_next_page_numbers_on_and_goes_back_a_whole_page(services: Services) -> None:
    """Page 2 once numbered its items from 1 while its Open buttons and header said 5-6, and « Back after a
    short last page went back by that page's length, to a page overlapping the first."""
    await stored_sample(services)
    commands = services.commands
    await commands.handle(CHAT, "settings", ["size", "4"])
    first = await commands.handle(CHAT, "digest", [])
    assert "dg:4:" in data_of(first)
    second = await commands.button(CHAT, "dg:4:")
    text = "".join(second.chunks)
    assert " · 第 5–6 条" in text
    numbers = [line.split(". ", 1)[0] for line in text.splitlines() if line[:1].isdigit() and ". " in line]
    assert numbers == ["5", "6"]
    assert "dg:0:" in data_of(second)  # back to the first page, not to items 3-6


async def test_latest_pages_through_its_more_button(services: Services) -> None:
    await stored_sample(services)
    commands = services.commands
    first = await commands.handle(CHAT, "latest", ["2"])
    assert "华为发布新款芯片" in first.chunks[0]
    (more,) = data_of(first)
    assert more == "l:2:2"
    second = await commands.button(CHAT, more)
    assert "中国女足" in "".join(second.chunks)
    assert "华为发布新款芯片" not in "".join(second.chunks)
    last = await commands.button(CHAT, "l:6:2")
    assert last.chunks == ["没有更早的新闻了。"]
    assert (await commands.handle(CHAT, "latest", ["99"])).chunks[0].startswith("请给出 1 到 20")


async def test_help_lists_the_table_and_admin_lines_only_for_admins(services: Services) -> None:
    commands = services.commands
    plain = (await commands.handle(CHAT, "help", [])).chunks[0]
    admin = (await commands.handle(ADMIN, "help", [])).chunks[0]
    for command in commands.table:
        line = f"/{command.name}"
        if command.listed and not command.admin:
            assert line in plain
        if command.admin:
            assert line not in plain
            assert line in admin
    assert plain.startswith("<b>命令</b>\n/latest")
    english = (await commands.handle(ENGLISH, "help", [])).chunks[0]
    assert english.startswith("<b>Commands</b>")


async def test_admin_commands_refuse_everyone_else(services: Services) -> None:
    commands = services.commands
    for name in ("addfeed", "removefeed", "feeds", "stats"):
        assert (await commands.handle(CHAT, name, ["x"])).chunks == ["抱歉，这个命令只有管理员可以使用。"]
    async with FeedServer() as feeds:
        feeds.add_corpus_feeds()
        guardian = feeds.url("/corpus/rss-parser__guardian.rss")
        added = await commands.handle(ADMIN, "addfeed", [guardian])
        # fetched at once: named by its own title, its items stored
        assert added.chunks[0].startswith("已添加订阅源 1：")
        assert "Guardian" in added.chunks[0]
        assert "收录 0 条" not in added.chunks[0]
        # a page that is not a feed is refused, saying why, and not followed
        not_a_feed = await commands.handle(
            ADMIN, "addfeed", [feeds.url("/corpus/rssant__http-yx-bsh-me-feed.xml")]
        )
        assert not_a_feed.chunks[0].startswith("出错了：not added:")
        # nor is a 304 to a request that named no version (it was once followed, with no feed ever seen)
        feeds.add_status("/unmodified.xml", 304)
        unmodified = await commands.handle(ADMIN, "addfeed", [feeds.url("/unmodified.xml")])
        assert unmodified.chunks[0].startswith("出错了：not added:"), unmodified.chunks[0]
        assert unmodified.chunks[0].endswith("unmodified.xml: no feed in its answer (not modified)")
    refused = await commands.handle(ADMIN, "addfeed", ["javascript:alert(1)"])
    assert refused.chunks[0].startswith("出错了")
    listed = (await commands.handle(ADMIN, "feeds", [])).chunks[0]
    assert "guardian.rss" in listed
    assert "yx-bsh" not in listed
    assert "订阅者：" in (await commands.handle(ADMIN, "stats", [])).chunks[0]


async def test_settings_menu_buttons_save_and_reject(services: Services) -> None:
    commands = services.commands
    menu = await commands.handle(CHAT, "settings", [])
    assert data_of(menu) == [
        "set:time",
        "set:tz",
        "set:size",
        "set:lang:en",
        "set:langs",
        "set:silent:on",
        "set:previews:on",
    ]
    times = await commands.button(CHAT, "set:time")
    assert times.edit
    assert "set:time:07:00" in data_of(times)
    saved = await commands.button(CHAT, "set:time:07:00")
    assert saved.chunks[0].startswith("已保存。")
    assert "07:00" in saved.chunks[0]
    english = await commands.button(CHAT, "set:lang:en")
    assert english.chunks[0].startswith("Saved.")
    assert (await commands.button(CHAT, "set:lang:fr")).chunks[0].startswith("Usage: /settings")
    bad = await commands.handle(CHAT, "settings", ["size", "99"])
    assert bad.chunks == ["Items per digest must be 1 to 30: 99"]
    expired = await commands.button(CHAT, "set:colour")
    assert expired.chunks == ["This button has expired; please send the command again."]


async def test_topics_and_subscribe_buttons(services: Services) -> None:
    await stored_sample(services)
    commands = services.commands
    await commands.handle(CHAT, "settings", ["size", "1"])  # a page of one: the topic's second item is More
    topics = await commands.button(CHAT, "topics")
    pressed = data_of(topics)
    assert pressed
    assert all(data.startswith("t:") for data in pressed)
    digest = await commands.button(CHAT, pressed[0])
    follow, *others = [data for data in data_of(digest) if data]  # Open buttons carry a link, not data
    assert follow == f"sub:{pressed[0][2:]}"
    assert any(data.startswith("dg:") and data.endswith(f":{pressed[0][2:]}") for data in others)  # More
    subscribed = await commands.button(CHAT, follow)
    assert subscribed.chunks[0].startswith("已订阅话题")
    mine = await commands.handle(CHAT, "mysubs", [])
    assert pressed[0][2:] in mine.chunks[0]


async def test_garbage_and_unknown_input_get_a_defined_answer(services: Services) -> None:
    commands = services.commands
    assert (await commands.handle(CHAT, "nosuch", [])).chunks[0].startswith("不认识这个命令")
    for data in ["", "l:x:y", "t:", "s:0:", "\x00" * 100, "sub:" + "长" * 100]:
        reply = await commands.button(CHAT, data)
        assert len(reply.chunks) == 1
    assert (await commands.button(CHAT, "t:")).chunks == ["这个按钮已失效，请重新发送命令。"]
    assert (await commands.free_text(CHAT)).chunks[0].startswith("我只懂命令")


async def test_lists_in_running_text_follow_the_chat_s_language(services: Services) -> None:
    """An English chat was told "Following topics: Windows、AI", with the Chinese list mark."""
    commands = services.commands
    english = (await commands.handle(ENGLISH, "subscribe", ["Windows", "AI"])).chunks[0]
    assert "Windows, AI" in english
    assert "、" not in english
    chinese = (await commands.handle(CHAT, "subscribe", ["芯片", "融资"])).chunks[0]
    assert "芯片、融资" in chinese


async def test_a_topic_with_nothing_today_shows_its_latest_items(services: Services) -> None:
    """/topics offers the tags of the last week (or more); tapping one whose stories are two days old once
    answered "nothing in the last 24 hours" under a button that counted them."""
    await services.ingest.store_articles(
        recent_article(i, title=t, body=b, hours_ago=48 + i) for i, (t, b) in enumerate(SAMPLE)
    )
    commands = services.commands
    offered = data_of(await commands.button(CHAT, "topics"))
    assert "t:芯片" in offered
    shown = "".join((await commands.button(CHAT, "t:芯片")).chunks)
    assert shown.startswith("<b>芯片</b>：过去 24 小时没有新的")
    assert "华为发布新款芯片" in shown
    assert "国产芯片企业融资创新高" in shown
    nothing = await commands.handle(CHAT, "digest", ["足球比分"])
    assert nothing.chunks == ["过去 24 小时没有关于“足球比分”的新闻。"]
