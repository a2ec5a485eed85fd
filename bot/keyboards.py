"""Inline keyboards as Telegram wants them: PTB's markup for replies, Bot API JSON for the outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.commands.replies import Button

if TYPE_CHECKING:
    from telegram import InlineKeyboardMarkup


def keyboard(buttons: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    # imported here: every command builds the digest writer, few of them need python-telegram-bot
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url) for b in row]
            for row in buttons
        ]
    )


def keyboard_json(buttons: Sequence[Sequence[Button]]) -> str | None:
    """The inline keyboard as Bot API JSON, as the outbox stores it."""
    markup = keyboard(buttons)
    return None if markup is None else json.dumps(markup.to_dict(), ensure_ascii=False)
