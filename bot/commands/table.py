"""The command table and `CommandService`, the one entry point of the command layer.

Each row of the table ties a command to its handler, its line in /help and its description in Telegram's
command menu (setMyCommands). The texts live in `bot/i18n.py` under `help_<name>` and `menu_<name>`, in every
language; `tests/bot/test_command_table.py` fails when one is missing. Button presses are routed the same way,
by their code (`bot/commands/buttons.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.commands.admin import AdminCommands
from bot.commands.base import ButtonHandler, Handler, Request, say, text_reply
from bot.commands.buttons import (
    CHANGING_BUTTONS,
    DIGEST_MORE,
    LATEST_MORE,
    MUTE_TOPIC,
    PAUSE,
    PUBLISHER_CHOICE,
    SEARCH_MORE,
    SETTINGS,
    SUBSCRIBE,
    TOPIC_DIGEST,
    TOPICS,
    UNSUBSCRIBE,
    ButtonCode,
    callback_key,
    parse_button,
    stashed_values,
)
from bot.commands.reading import ReadingCommands
from bot.commands.replies import Reply
from bot.commands.settings import SettingsCommands
from bot.commands.subscriptions import SubscriptionCommands
from bot.i18n import Lang, choose_language, t
from bot.services.callback_values import CallbackValues
from bot.services.feeds import FeedService
from bot.services.ingest import utc_now
from bot.services.llm_budget import LlmBudget
from bot.services.reading import ReadingService
from bot.services.subscriptions import SubscriptionService
from readmodels import ChatContext
from summarizer.clean import strip_control_characters

if TYPE_CHECKING:
    # for annotations only: its module imports python-telegram-bot, which read commands do without
    from bot.chat_admins import ChatAdmins

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    """One row of the command table."""

    name: str
    handler: Handler
    admin: bool = False  # only ADMIN_IDS may use it; listed in the admin part of /help, not in the menu
    listed: bool = True  # in /help and, unless admin, in Telegram's command menu
    # changes what the chat gets: in a group or channel, only its administrators may (with arguments: a
    # bare /settings only shows the menu)
    changes_chat: bool = False

    @property
    def help_key(self) -> str:
        """The i18n key of its /help line."""
        return f"help_{self.name}"

    @property
    def menu_key(self) -> str:
        """The i18n key of its description in Telegram's command menu."""
        return f"menu_{self.name}"

    @property
    def in_menu(self) -> bool:
        return self.listed and not self.admin


class CommandService:
    """Answers every command and button press as a `Reply`; the Telegram adapter and the console call it.

    A reply's buttons whose values went as keys have those values kept (`callback_values`) before it is
    returned, so they are there when the button is pressed (bot/commands/buttons.py)."""

    def __init__(
        self,
        *,
        subscriptions: SubscriptionService,
        reading: ReadingService,
        feeds: FeedService,
        callback_values: CallbackValues,
        admin_ids: Sequence[int],
        llm_budget: LlmBudget | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._subs = subscriptions
        self._callback_values = callback_values
        self._admins = frozenset(admin_ids)
        self._chat_admins: ChatAdmins | None = None
        read = ReadingCommands(reading=reading, subscriptions=subscriptions, now=now)
        subs = SubscriptionCommands(subscriptions=subscriptions, reading=reading)
        settings = SettingsCommands(subscriptions=subscriptions, now=now, llm=llm_budget is not None)
        admin = AdminCommands(feeds=feeds, reading=reading, llm_budget=llm_budget)
        # the order of /help and of the menu
        self.table: tuple[Command, ...] = (
            Command("start", subs.start, listed=False),
            Command("latest", read.latest),
            Command("digest", read.digest),
            Command("search", read.search),
            Command("subscribe", subs.subscribe, changes_chat=True),
            Command("unsubscribe", subs.unsubscribe, changes_chat=True),
            Command("mute", subs.mute, changes_chat=True),
            Command("unmute", subs.unmute, changes_chat=True),
            Command("mysubs", subs.mysubs),
            Command("topics", read.topics),
            Command("settings", settings.settings, changes_chat=True),
            Command("sources", read.sources),
            Command("help", self.help),
            Command("addfeed", admin.addfeed, admin=True),
            Command("removefeed", admin.removefeed, admin=True),
            Command("feeds", admin.feeds, admin=True),
            Command("stats", admin.stats, admin=True),
        )
        self._commands = {command.name: command for command in self.table}
        self._buttons: dict[ButtonCode, ButtonHandler] = {
            SUBSCRIBE: subs.subscribe_button,
            TOPICS: read.topics_button,
            TOPIC_DIGEST: read.topic_digest,
            LATEST_MORE: read.latest_more,
            SEARCH_MORE: read.search_more,
            SETTINGS: settings.button,
            DIGEST_MORE: read.digest_more,
            MUTE_TOPIC: subs.mute_button,
            PAUSE: subs.pause_button,
            UNSUBSCRIBE: subs.unsubscribe_button,
            PUBLISHER_CHOICE: read.publisher_choice,
        }

    @property
    def command_names(self) -> list[str]:
        return [command.name for command in self.table]

    def is_admin(self, ctx: ChatContext) -> bool:
        return ctx.user_id is not None and ctx.user_id in self._admins

    def use_chat_admins(self, chat_admins: ChatAdmins) -> None:
        """How to tell a group's administrators (Telegram's getChatMember, once the bot is connected); until
        then, changes in groups are refused."""
        self._chat_admins = chat_admins

    async def may_change(self, ctx: ChatContext) -> bool:
        """Whether who asks may change what the chat gets: anyone in a private chat; in a group or channel,
        its administrators (an anonymous one writes as the group itself) and newsbot's ADMIN_IDS."""
        if not ctx.is_group or ctx.as_chat or self.is_admin(ctx):
            return True
        if ctx.user_id is None or self._chat_admins is None:
            return False
        return await self._chat_admins.is_admin(ctx.chat_id, ctx.user_id)

    def menu(self, lang: Lang) -> list[tuple[str, str]]:
        """(command, description) for Telegram's command menu in `lang`."""
        return [(c.name, t(lang, c.menu_key)) for c in self.table if c.in_menu]

    # ---- entry points ------------------------------------------------------------------------------------

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup (Telegram's service message): what it follows moves with it."""
        await self._subs.migrate_chat(old_chat_id, new_chat_id)

    async def chat_left(self, chat_id: int, reason: str) -> None:
        """The bot was blocked or removed from the chat (Telegram's my_chat_member update)."""
        await self._subs.chat_left(chat_id, reason)

    async def _request(self, ctx: ChatContext, args: Sequence[str]) -> Request:
        # without control characters (a NUL, which PostgreSQL stores nowhere: a reply echoing the word
        # could not be queued) and direction overrides (an echoed word turned around)
        args = [word for word in (strip_control_characters(arg) for arg in args) if word]
        subscriber = await self._subs.touch(ctx)
        # a group speaks the language set for it (or else the one it was first spoken to in), whoever asks
        spoken = subscriber.telegram_language if ctx.is_group else ctx.language_code
        lang = choose_language(subscriber.language, spoken or subscriber.telegram_language)
        return Request(ctx, subscriber, lang, list(args))

    async def _kept(self, reply: Reply) -> Reply:
        """`reply`, once the values its buttons carry as keys are kept."""
        await self._callback_values.keep(stashed_values(reply.buttons))
        return reply

    async def handle(self, ctx: ChatContext, command: str, args: Sequence[str]) -> Reply:
        """Answer `/command args`. Unknown commands get a hint; admin commands refuse everyone else."""
        return await self._kept(await self._command(ctx, command, args))

    async def _command(self, ctx: ChatContext, command: str, args: Sequence[str]) -> Reply:
        req = await self._request(ctx, args)
        found = self._commands.get(command.lower())
        if found is None:
            return say(req, "unknown_command")
        if found.admin and not self.is_admin(ctx):
            return say(req, "admin_only")
        if found.changes_chat and (args or command.lower() != "settings") and not await self.may_change(ctx):
            return say(req, "group_admins_only")
        return await found.handler(req)

    async def free_text(self, ctx: ChatContext) -> Reply:
        subscriber = await self._subs.touch(ctx)
        return text_reply(t(choose_language(subscriber.language, ctx.language_code), "free_text"))

    async def button(self, ctx: ChatContext, data: str) -> Reply:
        """Answer a button press; `data` is what a client says one of our buttons carried (unchecked)."""
        return await self._kept(await self._press(ctx, data))

    async def _press(self, ctx: ChatContext, data: str) -> Reply:
        req = await self._request(ctx, [])
        pressed = parse_button(strip_control_characters(data))
        if pressed is None:
            return replace(say(req, "button_expired"), notice=True)
        code, values = pressed
        if (key := code.carried_key(values)) is not None:
            # the value the button stands for, as a press of the button carrying it would have it
            value = await self._callback_values.find(key)
            if value is None or callback_key(value) != key:  # forged, or forgotten
                return replace(say(req, "button_expired"), notice=True)
            values = (*values[:-1], strip_control_characters(value))
        if code in CHANGING_BUTTONS and not await self.may_change(ctx):
            return replace(say(req, "group_admins_only"), notice=True)
        return await self._buttons[code](req, values)

    # ---- /help -------------------------------------------------------------------------------------------

    async def help(self, req: Request) -> Reply:
        lang = req.lang
        lines = [
            t(lang, "help_header"),
            *(t(lang, c.help_key) for c in self.table if c.listed and not c.admin),
        ]
        text = "\n".join(lines)
        if self.is_admin(req.ctx):
            admin = [t(lang, "help_admin_header"), *(t(lang, c.help_key) for c in self.table if c.admin)]
            text += "\n\n" + "\n".join(admin)
        return text_reply(text)
