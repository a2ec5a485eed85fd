"""newsbot's errors, in one tree, so callers catch at the level they can handle.

    NewsbotError               every error newsbot raises on purpose; `str(err)` is one line for a person
     ├── CannotRun             the command cannot run at all: the CLI exits 2
     │    └── SettingsError    a setting (environment or .env) has a value newsbot cannot use
     └── BadInput              something given to newsbot is unusable; the rest of the work goes on: exit 1
          ├── SourceError      a file, feed or OPML document cannot be read (`bot/sources/types.py` holds
          │    │               the subclasses: PostParseError, FeedParseError, FeedFetchError, OpmlError)
          ├── FeedError        a feed command cannot be carried out (not an http(s) URL, no such feed)
          └── InvalidSetting   a chat's /settings value; `key` names the message the chat is shown

Not in the tree: `summarizer.llm.InvalidAnswer`. The summarizer is pure and imports nothing of `bot/`; the LLM
service catches it, asks again or keeps the offline summary, and it never reaches a command.

The command line maps the tree to exit statuses in one place (`bot/cli.py:exit_status`).
"""

from __future__ import annotations

import re

# C0 and C1 controls, and the marks that reorder text on screen
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with its control characters written out ("\\x1b", "\\n", "\\u202e"): what a file name, a
    server or a document puts in a message must not move the cursor, recolour or retitle the terminal, reorder
    the line, or start a second one. Lone surrogates (bytes of a name that are not UTF-8) become U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


class CannotRun(NewsbotError):
    """newsbot cannot start this command (bad setting, unreachable database, rejected token)."""


class SettingsError(CannotRun):
    """A setting has a value newsbot cannot use.

    The message is one line, names the setting, never a secret.
    """


class BadInput(NewsbotError):
    """Something given to newsbot (a file, a feed, an argument, a chat's value) cannot be used."""


class SourceError(BadInput):
    """A source (post file, feed, OPML) cannot be used. `str(err)` says what went wrong and where."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{printable(where)}: {printable(reason)}")
        self.where = where
        self.reason = reason


class FeedError(BadInput):
    """A feed command cannot be carried out; the message is one line for the user."""


class InvalidSetting(BadInput):
    """A /settings value that cannot be used; `key` names the i18n message, `value` what the user gave."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(f"{key}: {value}")
        self.key = key
        self.value = value
