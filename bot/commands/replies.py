"""What the command layer answers, independent of Telegram: the Telegram adapter and the console both
render it.

Who asks is a `readmodels.ChatContext`.

`Reply.chunks` are Telegram HTML strings, each within Telegram's 4096-character limit; buttons belong to the
last chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    callback_data: str | None = None  # at most 64 bytes, as Telegram requires
    url: str | None = None
    # (key, value): the value too long for `callback_data`, which carries its key instead; kept in the
    # database before the button is sent (bot/commands/buttons.py)
    stash: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    chunks: list[str]
    buttons: list[list[Button]] = field(default_factory=list)
    # a button press may replace the message it came from instead of sending a new one
    edit: bool = False
    # for the one who pressed a button only (a refusal, an expired button): in a group it is shown to them
    # as an alert, not posted for every member to read
    notice: bool = False
