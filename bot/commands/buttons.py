"""Every button the bot sends, declared once: the code that builds its callback data and parses it back.

Callback data is `prefix` or `prefix:field:field…`. Telegram allows 64 bytes, and a topic of 22 Chinese
characters (3 bytes each) or a long search query does not fit: such a button carries a stand-in for its last
field, `~` and a key (a hash of the value, `callback_key`), and the value itself is kept in the database
(`bot/services/callback_values.py`) for the press to find, in any process, after a restart too. So does a
value that starts with `~`, so that a last field starting with `~` is always a key. The command layer keeps a
reply's stashed values before answering, and looks a pressed key up before any handler sees it: handlers
only ever see values. A key nobody kept (forged, or forgotten) answers "expired", as data that does not
parse does.

The data comes back from Telegram as whatever a client sends, so parsing checks every field: a number must be
ASCII digits within its field's bounds, a key must have a key's form, and a press that does not parse is
"expired", never an error. A button whose numbers are out of bounds is not made (`ButtonCode.button` returns
None). Keep prefixes stable: buttons in old messages still carry them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.commands.replies import Button
from bot.numbers import parse_bounded_int

CALLBACK_MAX_BYTES = 64
MAX_OFFSET = 1_000_000  # the deepest page a More button leads to
MAX_PAGE_SIZE = 20  # the longest page of /latest

ButtonValue = int | str

STASH_MARK = "~"  # a last field starting with it is a key (`callback_key`), not a value
_KEY_BYTES = 12  # 96 bits of blake2b: 16 characters of base64url, and no two values in sight share a key
_KEY_FORM = re.compile(r"[A-Za-z0-9_-]{16}")


def callback_key(value: str) -> str:
    """The key a button carries in place of `value`: the same in every process and after restarts."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=_KEY_BYTES, person=b"newsbot-button").digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def is_callback_key(text: str) -> bool:
    return _KEY_FORM.fullmatch(text) is not None


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
        """The callback data carrying `values` (a prefix of the fields), or None when a number is out of its
        field's bounds (the press could not be parsed back). A last string field that would make it longer
        than 64 bytes, or that starts with `~`, goes as its key (see the module docstring)."""
        encoded = self._encode(values)
        return None if encoded is None else encoded[0]

    def button(self, text: str, *values: ButtonValue) -> Button | None:
        """The button carrying `values`, with the value it stashed (kept by the command layer before it is
        sent); None as `data` says."""
        encoded = self._encode(values)
        return None if encoded is None else Button(text, encoded[0], stash=encoded[1])

    def _encode(self, values: Sequence[ButtonValue]) -> tuple[str, tuple[str, str] | None] | None:
        """The callback data and the (key, value) it stashed, if any."""
        if len(values) > len(self.fields):
            raise TypeError(f"button {self.prefix!r} carries {len(self.fields)} fields, not {len(values)}")
        for kind, value in zip(self.fields, values, strict=False):
            if isinstance(kind, Bounded) and not kind.holds(value):
                return None
        texts = [self.prefix, *(str(v) for v in values)]
        stash = None
        if self._stashes(len(values)) and (texts[-1].startswith(STASH_MARK) or _too_long(texts)):
            stash = (callback_key(texts[-1]), texts[-1])
            texts[-1] = STASH_MARK + stash[0]
        # only a field before the last could still be too long, and none of the bot's are
        return None if _too_long(texts) else (":".join(texts), stash)

    def _stashes(self, count: int) -> bool:
        """Whether the last of `count` values is the free string field that may go as a key."""
        return count > 0 and count == len(self.fields) and self.fields[-1] is str

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
                if part and part.startswith(STASH_MARK):
                    if not self._stashes(index + 1) or not is_callback_key(part[len(STASH_MARK) :]):
                        return None
                values.append(part or "")
        return tuple(values)

    def carried_key(self, values: Sequence[ButtonValue]) -> str | None:
        """The key a press carries in place of its last value (`parse` checked its form), or None."""
        if not self._stashes(len(values)):
            return None
        last = values[-1]
        return last[len(STASH_MARK) :] if isinstance(last, str) and last.startswith(STASH_MARK) else None


def _too_long(texts: Sequence[str]) -> bool:
    return len(":".join(texts).encode("utf-8")) > CALLBACK_MAX_BYTES


def stashed_values(rows: Iterable[Iterable[Button]]) -> dict[str, str]:
    """{key: value} of the buttons that carry a key: what must be kept before they are sent."""
    return {b.stash[0]: b.stash[1] for row in rows for b in row if b.stash is not None}


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
