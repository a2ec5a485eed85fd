"""What every command module shares: the request a handler answers and small reply builders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.commands.buttons import ButtonValue
from bot.commands.replies import Button, Reply
from bot.i18n import Lang, t
from bot.telegram_html import split_text
from readmodels import ChatContext, SubscriberView


@dataclass(frozen=True, slots=True)
class Request:
    """A command or button press to answer: who asks, their chat's record, the language to answer in, the
    command's words after its name."""

    ctx: ChatContext
    subscriber: SubscriberView
    lang: Lang
    args: list[str]


Handler = Callable[[Request], Awaitable[Reply]]
ButtonHandler = Callable[[Request, tuple[ButtonValue, ...]], Awaitable[Reply]]


def text_reply(*chunks: str, buttons: list[list[Button]] | None = None, edit: bool = False) -> Reply:
    """A reply of HTML text, split into messages Telegram accepts."""
    parts = [piece for chunk in chunks for piece in split_text(chunk)]
    return Reply(chunks=parts, buttons=buttons or [], edit=edit)


def say(req: Request, key: str, /, **values: object) -> Reply:
    """A reply of one message from the strings table, in the request's language."""
    return text_reply(t(req.lang, key, **values))


def button_rows(buttons: Sequence[Button | None], per_row: int) -> list[list[Button]]:
    """Buttons laid out `per_row` to a row; the ones that could not be made (None) are left out."""
    made = [b for b in buttons if b is not None]
    return [made[i : i + per_row] for i in range(0, len(made), per_row)]
