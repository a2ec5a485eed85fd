"""What the command layer answers, independent of Telegram: the Telegram adapter and the console both render it.

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


@dataclass(frozen=True, slots=True)
class Reply:
    chunks: list[str]
    buttons: list[list[Button]] = field(default_factory=list)
    # a button press may replace the message it came from instead of sending a new one
    edit: bool = False


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Who is asking: the chat (private, group, supergroup or channel) and the user in it."""

    chat_id: int
    chat_kind: str
    user_id: int | None = None
    language_code: str | None = None
    chat_title: str | None = None
