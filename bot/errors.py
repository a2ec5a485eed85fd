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
        super().__init__(f"{where}: {reason}")
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
