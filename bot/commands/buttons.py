"""Every button the bot sends, declared once: the code that builds its callback data and parses it back.

Callback data is `prefix` or `prefix:field:field…`. Telegram allows 64 bytes; a button whose data would be
longer is not made (`ButtonCode.button` returns None) rather than cut. The data comes back from Telegram as
whatever a client sends, so parsing checks every field: a number must be ASCII digits within its field's
bounds, and a press that does not parse is "expired", never an error. A button whose numbers are out of bounds
is not made either. Keep prefixes stable: buttons in old messages still carry them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.commands.replies import Button
from bot.numbers import parse_bounded_int

CALLBACK_MAX_BYTES = 64
MAX_OFFSET = 1_000_000  # the deepest page a More button leads to
MAX_PAGE_SIZE = 20  # the longest page of /latest

ButtonValue = int | str


@dataclass(frozen=True, slots=True)
class Bounded:
    """A number field of a button: the values it may carry, `low` to `high` included."""

    low: int
    high: int

    def holds(self, value: ButtonValue) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


FieldKind = Bounded | type[str]


@dataclass(frozen=True, slots=True)
class ButtonCode:
    """One kind of button: its prefix and the types of the fields it carries, in order.

    Only the last field may be a free string (it may contain ':'). Missing trailing string fields parse as "".
    """

    prefix: str
    fields: tuple[FieldKind, ...] = ()

    def data(self, *values: ButtonValue) -> str | None:
        """The callback data carrying `values` (a prefix of the fields), or None when over 64 bytes or when a
        number is out of its field's bounds (the press could not be parsed back)."""
        if len(values) > len(self.fields):
            raise TypeError(f"button {self.prefix!r} carries {len(self.fields)} fields, not {len(values)}")
        for kind, value in zip(self.fields, values, strict=False):
            if isinstance(kind, Bounded) and not kind.holds(value):
                return None
        data = ":".join([self.prefix, *(str(v) for v in values)])
        return data if len(data.encode("utf-8")) <= CALLBACK_MAX_BYTES else None

    def button(self, text: str, *values: ButtonValue) -> Button | None:
        data = self.data(*values)
        return None if data is None else Button(text, data)

    def parse(self, rest: str | None) -> tuple[ButtonValue, ...] | None:
        """The fields of data after `prefix:` (None: there was no ':'), or None when they do not fit
        the code.
        """
        if not self.fields:
            return () if not rest else None
        parts = (rest or "").split(":", len(self.fields) - 1)
        values: list[ButtonValue] = []
        for index, kind in enumerate(self.fields):
            part = parts[index] if index < len(parts) else None
            if isinstance(kind, Bounded):
                number = None if part is None else parse_bounded_int(part, low=kind.low, high=kind.high)
                if number is None:
                    return None
                values.append(number)
            else:
                values.append(part or "")
        return tuple(values)


SUBSCRIBE = ButtonCode("sub", (str,))  # "sub:" everything, "sub:TOPIC" one topic
TOPICS = ButtonCode("topics")  # the popular topics to pick from
TOPIC_DIGEST = ButtonCode("t", (str,))  # t:TOPIC, the digest of one topic
OFFSET = Bounded(0, MAX_OFFSET)
LATEST_MORE = ButtonCode("l", (OFFSET, Bounded(1, MAX_PAGE_SIZE)))  # l:OFFSET:SIZE, the next page of /latest
SEARCH_MORE = ButtonCode("s", (OFFSET, str))  # s:OFFSET:QUERY, the next page of a search
SETTINGS = ButtonCode("set", (str, str))  # set:NAME opens a choice, set:NAME:VALUE saves it
MAX_PAUSE_DAYS = 30
DIGEST_MORE = ButtonCode("dg", (OFFSET, str))  # dg:OFFSET:TOPIC, the digest's next items (TOPIC "" for all)
# DIGEST_MORE's TOPIC under a daily digest: the chat's own topics. No topic is "#" (clean_topic drops it).
MY_TOPICS = "#"
MUTE_TOPIC = ButtonCode("mt", (str,))  # mt:WORD, mute a digest's topic
PAUSE = ButtonCode("pz", (Bounded(0, MAX_PAUSE_DAYS),))  # pz:DAYS, no digest for DAYS days (0: resume)
UNSUBSCRIBE = ButtonCode("uns", (str,))  # uns:TOPIC drops one topic, "uns:" the daily digest
# src:f:KEY follows (or unfollows) a publisher, src:d:KEY drops (or undrops) it; KEY is publisher_key(name)
PUBLISHER_CHOICE = ButtonCode("src", (str, str))

ALL_CODES = (
    SUBSCRIBE, TOPICS, TOPIC_DIGEST, LATEST_MORE, SEARCH_MORE, SETTINGS, DIGEST_MORE, MUTE_TOPIC, PAUSE,
    UNSUBSCRIBE, PUBLISHER_CHOICE,
)  # fmt: skip
# presses that change what the chat gets: in groups, for its administrators only
CHANGING_BUTTONS = frozenset({SUBSCRIBE, SETTINGS, MUTE_TOPIC, PAUSE, UNSUBSCRIBE, PUBLISHER_CHOICE})


def publisher_key(name: str) -> str:
    """A short stand-in for a publisher's name in callback data (names can outgrow Telegram's 64 bytes)."""
    return hashlib.blake2b(name.encode("utf-8"), digest_size=5).hexdigest()
_BY_PREFIX = {code.prefix: code for code in ALL_CODES}
assert len(_BY_PREFIX) == len(ALL_CODES), "two button codes share a prefix"


def parse_button(data: str) -> tuple[ButtonCode, tuple[ButtonValue, ...]] | None:
    """Which button was pressed and what it carries; None for data none of our buttons makes."""
    prefix, colon, rest = data.partition(":")
    code = _BY_PREFIX.get(prefix)
    if code is None:
        return None
    values = code.parse(rest if colon else None)
    return None if values is None else (code, values)
