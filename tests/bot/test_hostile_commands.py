"""Commands and button presses with hostile input, through CommandService directly: every one is answered in
words, none raises (issue #11)."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot.commands.buttons import LATEST_MORE, MAX_OFFSET, MAX_PAGE_SIZE, SEARCH_MORE, parse_button
from bot.composition import Services
from bot.console import run_console
from bot.errors import FeedError
from bot.i18n import t
from bot.numbers import parse_bounded_int
from bot.services.subscriptions import MAX_DIGEST_SIZE
from bot.telegram_html import escape
from readmodels import ChatContext
from tests.bot.conftest import ADMIN_ID

ENGLISH = ChatContext(chat_id=601, chat_kind="private", user_id=601, language_code="en")
ADMIN = ChatContext(chat_id=602, chat_kind="private", user_id=ADMIN_ID, language_code="en")

# digits `str.isdigit` accepts and `int` refuses or reads differently, and numbers out of any bound
NOT_COUNTS = ["²", "١٢", "１０", "1_0", "+5", " 5", "0", "-1", "99999999999999999999", "9" * 5000]
EXPIRED = t("en", "button_expired")


def said(key: str, **values: object) -> list[str]:
    return [t("en", key, **values)]


def test_numbers_are_ascii_digits_within_bounds() -> None:
    assert parse_bounded_int("07", low=0, high=23) == 7
    assert parse_bounded_int("20", low=1, high=20) == 20
    for text in [*NOT_COUNTS, "", "21", "1e3", "0x10"]:
        assert parse_bounded_int(text, low=1, high=20) is None, text


@pytest.mark.parametrize("count", NOT_COUNTS)
async def test_latest_answers_a_bad_count_in_words(services: Services, count: str) -> None:
    reply = await services.commands.handle(ENGLISH, "latest", [count])
    assert reply.chunks == said("bad_count", max=MAX_PAGE_SIZE)


@pytest.mark.parametrize("size", ["²", "١٢", "1_0", "0", "31", "99999999999999999999"])
async def test_settings_size_answers_a_bad_size_in_words(services: Services, size: str) -> None:
    reply = await services.commands.handle(ENGLISH, "settings", ["size", size])
    assert reply.chunks == said("settings_bad_size", value=escape(size), max=MAX_DIGEST_SIZE)


@pytest.mark.parametrize(
    "zone", ["America", "Asia", "America/", "../etc", "/etc/passwd", ".", "Asia/Nowhere", "a\x00b"]
)
async def test_settings_tz_answers_an_unknown_zone_in_words(services: Services, zone: str) -> None:
    reply = await services.commands.handle(ENGLISH, "settings", ["tz", zone])
    typed = zone.replace("\x00", "")  # a NUL is no character a reader types: left out
    assert reply.chunks == said("settings_bad_tz", value=escape(typed), max=MAX_DIGEST_SIZE)


@pytest.mark.parametrize(
    "value", ["²:00", "1_0:00", "07:5", "24:00", "07:60", "0730", "99999999999999999999:00"]
)
async def test_settings_time_answers_a_bad_time_in_words(services: Services, value: str) -> None:
    reply = await services.commands.handle(ENGLISH, "settings", ["time", value])
    assert reply.chunks == said("settings_bad_time", value=escape(value), max=MAX_DIGEST_SIZE)


async def test_settings_tz_takes_a_known_zone_in_any_case(services: Services) -> None:
    reply = await services.commands.handle(ENGLISH, "settings", ["tz", "asia/tokyo"])
    assert reply.chunks[0].startswith(t("en", "settings_saved"))
    assert "Asia/Tokyo" in reply.chunks[0]
    assert (await services.subscriptions.touch(ENGLISH)).timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    "data",
    [
        "l:99999999999999999999:5",
        "l:²:5",
        "l:١:5",
        "l:1_0:5",
        f"l:{MAX_OFFSET + 1}:5",
        "l:5:0",
        f"l:5:{MAX_PAGE_SIZE + 1}",
        "l:5:999999999",
        "s:²:chips",
        "s:9223372036854775807:chips",
        "s:99999999999999999999:chips",
    ],
)
async def test_forged_page_buttons_are_expired(services: Services, data: str) -> None:
    assert parse_button(data) is None
    reply = await services.commands.button(ENGLISH, data)
    assert reply.chunks == [EXPIRED]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ("set:size:²", "settings_bad_size"),
        ("set:size:99999999999999999999", "settings_bad_size"),
        ("set:tz:America", "settings_bad_tz"),
        ("set:time:²:00", "settings_bad_time"),
    ],
)
async def test_forged_settings_buttons_are_answered_in_words(services: Services, data: str, key: str) -> None:
    value = data.split(":", 2)[2]
    reply = await services.commands.button(ENGLISH, data)
    assert reply.chunks == said(key, value=escape(value), max=MAX_DIGEST_SIZE)


def test_a_button_out_of_bounds_is_not_made() -> None:
    assert LATEST_MORE.data(MAX_OFFSET, MAX_PAGE_SIZE) is not None
    assert LATEST_MORE.data(MAX_OFFSET + 1, 5) is None
    assert LATEST_MORE.data(5, MAX_PAGE_SIZE + 1) is None
    assert LATEST_MORE.data(-1, 5) is None
    assert SEARCH_MORE.button("More", MAX_OFFSET + 1, "chips") is None


@pytest.mark.parametrize("target", ["²", "99999999999999999999", "0"])
async def test_removefeed_answers_an_id_that_cannot_be_one_in_words(services: Services, target: str) -> None:
    reply = await services.commands.handle(ADMIN, "removefeed", [target])
    assert reply.chunks == said("feed_error", error=escape(f"no feed {target!r}"))


@pytest.mark.parametrize("target", ["²", "99999999999999999999", "0"])
async def test_feeds_remove_refuses_an_id_that_cannot_be_one(services: Services, target: str) -> None:
    kept = await services.feeds.add("https://example.com/feed.xml")
    with pytest.raises(FeedError, match="no feed"):
        await services.feeds.remove(target)
    assert [feed.id for feed in await services.feeds.list_feeds()] == [kept.id]


async def test_the_console_survives_hostile_lines(services: Services) -> None:
    lines = [
        "/latest ²",
        "²",
        "/",
        "/settings tz America",
        "/settings size ²",
        "99999999999999999999",
        "quit",
    ]
    stdout = io.StringIO()
    await run_console(services.commands, ENGLISH, io.StringIO("\n".join(lines) + "\n"), stdout)
    out = stdout.getvalue()
    assert t("en", "bad_count", max=MAX_PAGE_SIZE) in out
    assert "Unknown time zone: America" in out
    assert "Items per digest must be 1 to" in out
    assert t("en", "unknown_command") in out  # the lone "/"
    assert out.count(t("en", "free_text")) == 2  # "²" and the long number: no button to press


async def test_the_same_press_twice_at_once_is_one_change_not_an_error(services: Services) -> None:
    """A double tap: both presses read no row and both inserted it; the second met the unique key and the
    reader was told "something went wrong". Removing twice at once warned of a row already gone."""
    commands = services.commands
    await commands.handle(ENGLISH, "start", [])
    for i in range(5):
        muted = await asyncio.gather(*(commands.handle(ENGLISH, "mute", [f"word{i}"]) for _ in range(2)))
        assert all(f"word{i}" in reply.chunks[0] for reply in muted)
        await commands.handle(ENGLISH, "subscribe", [f"topic{i}", f"other{i}"])
        dropped = await asyncio.gather(*(commands.button(ENGLISH, f"uns:topic{i}") for _ in range(2)))
        assert all(reply.chunks for reply in dropped)
    following = await services.subscriptions.following(ENGLISH)
    assert sorted(following.mutes) == [f"word{i}" for i in range(5)]
    assert sorted(following.topics) == [f"other{i}" for i in range(5)]


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules"])
async def test_zones_that_are_no_place_are_refused(services: Services, zone: str) -> None:
    """'localtime' is the server's own zone (and fails where the server has none), 'Factory' nobody's."""
    reply = await services.commands.handle(ENGLISH, "settings", ["tz", zone])
    assert reply.chunks == said("settings_bad_tz", value=escape(zone), max=MAX_DIGEST_SIZE)
    assert (await services.subscriptions.touch(ENGLISH)).timezone != zone


async def test_control_characters_in_words_and_buttons_are_left_out(services: Services) -> None:
    """A NUL echoed in a reply could not be queued on PostgreSQL ("something went wrong"); a direction
    override turned the echoed word around."""
    found = await services.commands.handle(ENGLISH, "search", ["chi\x00ps\u202e"])
    assert "\x00" not in found.chunks[0]
    assert "\u202e" not in found.chunks[0]
    assert "chips" in found.chunks[0]
    refused = await services.commands.handle(ENGLISH, "settings", ["tz", "Asia/Tok\x00yo"])
    assert "\x00" not in refused.chunks[0]
    pressed = await services.commands.button(ENGLISH, "set:tz:X\x00")
    assert all("\x00" not in chunk for chunk in pressed.chunks)
