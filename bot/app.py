"""The Telegram adapter: a python-telegram-bot Application whose handlers turn updates into ChatContext, call
CommandService and send its Reply. No database, formatting or business rules here.

Also the Telegram side of starting up, shared by `newsbot run` and `newsbot digest --send-now`: the token,
getMe, setMyCommands and CHANNEL_ID.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    Chat,
    ChatMember,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.chat_admins import TelegramChatAdmins
from bot.commands import CommandService, Reply
from bot.config import Settings
from bot.errors import CannotRun
from bot.i18n import LANGUAGES, choose_language, t
from bot.keyboards import keyboard, keyboard_json
from bot.services.replies import ReplyService
from bot.services.subscriptions import SubscriptionService
from bot.telegram_html import html_to_plain
from bot.telegram_request import AiohttpRequest
from readmodels import ChatContext

log = logging.getLogger(__name__)


def chat_context(update: Update) -> ChatContext | None:
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    message = update.message  # a command's own message; None for a button press
    # a forum topic's messages say so; in other supergroups message_thread_id marks a reply thread, which
    # is no place to send to
    shown = update.effective_message  # the command, or the bot's message whose button was pressed
    topic = shown.message_thread_id if shown is not None and shown.is_topic_message else None
    return ChatContext(
        chat_id=chat.id,
        chat_kind=chat.type,
        user_id=user.id if user else None,
        language_code=user.language_code if user else None,
        chat_title=chat.title or (user.full_name if user else None),
        message_id=message.message_id if message is not None else None,
        thread_id=topic,
        as_chat=message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id,
    )


async def _answer(query: CallbackQuery, alert: str | None = None) -> None:
    """Answer a button press, with `alert` shown to the one who pressed it."""
    try:
        await query.answer(alert, show_alert=alert is not None)
    except TelegramError as exc:  # "query is too old": after a restart or a backlog; the press still counts
        log.info("answering a button press failed (%s)", exc)


class TelegramAdapter:
    """PTB callbacks: parse the update, ask the command layer, queue what it answers (the outbox sends it)."""

    def __init__(self, commands: CommandService, replies: ReplyService) -> None:
        self._commands = commands
        self._replies = replies

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx, message = chat_context(update), update.effective_message
        if ctx is None or message is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0]
        reply = await self._commands.handle(ctx, name, context.args or [])
        await self.send(ctx, reply)

    async def on_other_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx, message = chat_context(update), update.effective_message
        if ctx is None or message is None or not message.text:
            return
        first = message.text.split()[0]
        if "@" in first and first.split("@", 1)[1].lower() != (context.bot.username or "").lower():
            return  # addressed to another bot in this group
        name = first.lstrip("/").split("@")[0]
        await self.send(ctx, await self._commands.handle(ctx, name, []))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx = chat_context(update)
        if ctx is not None:
            await self.send(ctx, await self._commands.free_text(ctx))

    async def on_migration(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram's notices that a group became a supergroup: one in the old chat, one in the new."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            await self._commands.chat_migrated(message.chat_id, message.migrate_to_chat_id)
        elif message.migrate_from_chat_id:
            await self._commands.chat_migrated(message.migrate_from_chat_id, message.chat_id)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot's own standing in a chat changed: only leaving matters here (joining waits for /start)."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in (ChatMember.BANNED, ChatMember.LEFT):
            return
        private = change.chat.type == Chat.PRIVATE
        reason = "the user blocked the bot" if private else "the bot was removed from the chat"
        await self._commands.chat_left(change.chat.id, reason)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        ctx = chat_context(update)
        if query is None or ctx is None:
            return
        if ctx.chat_kind == "channel":
            # any reader of a channel may press a button, and the answer would go to every reader (a
            # channel's digest has only Open buttons, which are links; these are older messages' or forged)
            await _answer(query)
            return
        reply = await self._commands.button(ctx, query.data or "")
        if reply.notice and ctx.is_group:
            # a member's refused or expired press: told to them alone (Telegram allows 200 characters)
            await _answer(query, html_to_plain("\n".join(reply.chunks))[:200])
            return
        await _answer(query)  # stops the button's spinner; the press counts whether or not this works
        message = query.message
        if reply.edit and isinstance(message, Message) and len(reply.chunks) == 1:
            try:
                await message.edit_text(reply.chunks[0], reply_markup=keyboard(reply.buttons))
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return
                log.info("editing a message failed (%s); sending a new one", exc)
            except TelegramError as exc:  # a 429 or a network error: the outbox paces and retries
                log.info("editing a message failed (%s); sending a new one through the outbox", exc)
        await self.send(ctx, reply)

    async def send(self, ctx: ChatContext, reply: Reply) -> None:
        """Queue the reply's chunks in the outbox, ahead of scheduled mail; buttons go with the last chunk.

        The outbox paces them within the chat's budget, retries a 429 and resends refused HTML as plain text.
        """
        await self._replies.enqueue(
            chat_id=ctx.chat_id,
            chat_kind=ctx.chat_kind,
            chunks=reply.chunks,
            reply_markup=keyboard_json(reply.buttons),
            # in a group several people talk to the bot: each answer is threaded to its command
            reply_to=ctx.message_id if ctx.chat_kind in ("group", "supergroup") else None,
            thread_id=ctx.thread_id,
        )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error("handling an update failed: %s: %s", type(error).__name__, error, exc_info=error)
        if isinstance(update, Update) and (ctx := chat_context(update)) is not None:
            notice = t(choose_language(None, ctx.language_code), "error")
            try:
                await self._replies.enqueue(
                    chat_id=ctx.chat_id, chat_kind=ctx.chat_kind, chunks=[notice], thread_id=ctx.thread_id
                )
                return
            except Exception as exc:  # the database may be what failed: tell the user directly instead
                log.warning("could not queue the error notice for chat %s: %s", ctx.chat_id, exc)
            try:
                await context.bot.send_message(ctx.chat_id, notice, message_thread_id=ctx.thread_id)
            except TelegramError as exc:
                log.warning("could not tell chat %s about the error: %s", ctx.chat_id, exc)


def bot_token(settings: Settings) -> str:
    if settings.telegram_bot_token is None:
        raise CannotRun("TELEGRAM_BOT_TOKEN is not set (put it in .env; see .env.example)")
    return settings.telegram_bot_token.get_secret_value()


async def initialize_bot(bot: Bot, settings: Settings) -> None:
    """getMe: a missing, rejected or unreachable Bot API becomes one line for the operator."""
    try:
        await bot.initialize()
    except InvalidToken:
        await bot.request.shutdown()  # a Bot that failed to initialize does not close its connections
        raise CannotRun("Telegram rejected TELEGRAM_BOT_TOKEN (check the token from @BotFather)") from None
    except NetworkError as exc:
        await bot.request.shutdown()
        raise CannotRun(f"cannot reach the Telegram Bot API at {settings.telegram_base_url}: {exc}") from None


async def resolve_channel(bot: Bot, subscriptions: SubscriptionService, channel: str) -> None:
    """CHANNEL_ID (an id or @name) becomes a subscriber that receives every digest."""
    digits = channel.removeprefix("-")
    chat_ref: int | str = int(channel) if digits.isascii() and digits.isdigit() else channel
    try:
        chat = await bot.get_chat(chat_ref)
    except TelegramError as exc:
        log.error("CHANNEL_ID %s: Telegram says %s; digests will not go to the channel", channel, exc)
        return
    await subscriptions.ensure_channel(chat.id, chat.title)


async def register_commands(application: Application, commands: CommandService) -> None:  # type: ignore[type-arg]
    """setMyCommands from the command table, in Chinese (also the default) and English."""
    for lang in LANGUAGES:
        menu = [BotCommand(name, description) for name, description in commands.menu(lang)]
        await application.bot.set_my_commands(menu, scope=BotCommandScopeDefault(), language_code=lang)
    default = [BotCommand(name, description) for name, description in commands.menu("zh")]
    await application.bot.set_my_commands(default, scope=BotCommandScopeDefault())


def build_application(
    *,
    token: str,
    base_url: str,
    commands: CommandService,
    replies: ReplyService,
    connections: int = 36,
    builder: ApplicationBuilder | None = None,  # type: ignore[type-arg]
) -> Application:  # type: ignore[type-arg]
    """The Application: `connections` for the Bot API calls it makes (the outbox sender's requests in flight,
    and a few), on the aiohttp backend; long polling stays on PTB's own."""
    defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
    application = (
        (builder or ApplicationBuilder())
        .token(token)
        .base_url(base_url)
        .request(AiohttpRequest(connections=connections))
        .defaults(defaults)
        .concurrent_updates(True)
        .build()
    )
    commands.use_chat_admins(TelegramChatAdmins(application.bot))
    adapter = TelegramAdapter(commands, replies)
    application.add_handler(CommandHandler(commands.command_names, adapter.on_command))
    application.add_handler(MessageHandler(filters.COMMAND, adapter.on_other_command))
    application.add_handler(CallbackQueryHandler(adapter.on_button))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, adapter.on_migration))
    application.add_handler(ChatMemberHandler(adapter.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, adapter.on_text)
    )
    application.add_error_handler(adapter.on_error)
    return application
