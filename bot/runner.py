"""`newsbot run`: the bot, the feed poller, the inbox watcher, the digest scheduler and the outbox sender in one
asyncio process, and their clean shutdown on SIGINT/SIGTERM.

Periodic work runs on the Application's JobQueue; the outbox sender is one long-running task. Stopping waits for
the job in flight (an import or a digest run finishes its transaction) before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes

from bot.app import build_application, register_commands
from bot.commands import CommandService
from bot.config import Settings
from bot.context import AppContext, CannotRun
from bot.services.delivery import OutboxSender, SendLimits, SystemClock
from bot.services.digests import DigestService
from bot.services.ingest import FEED_SUFFIXES, POST_SUFFIXES
from bot.services.reading import ReadingService
from bot.services.subscriptions import SubscriptionService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BotServices:
    commands: CommandService
    subscriptions: SubscriptionService
    digests: DigestService
    reading: ReadingService


def build_bot_services(app: AppContext, *, extra_admins: Sequence[int] = ()) -> BotServices:
    settings = app.settings
    digests = DigestService(app.sessions)
    subscriptions = SubscriptionService(
        app.sessions, default_timezone=settings.timezone, default_digest_time=settings.digest_time
    )
    reading = ReadingService(app.sessions, cache=digests.cache)
    commands = CommandService(
        subscriptions=subscriptions,
        reading=reading,
        feeds=app.feeds,
        admin_ids=[*settings.admin_ids, *extra_admins],
    )
    return BotServices(commands, subscriptions, digests, reading)


def send_limits(app: AppContext) -> SendLimits:
    s = app.settings
    return SendLimits(
        global_per_second=s.send_global_per_second,
        private_per_second=s.send_private_per_second,
        group_per_minute=s.send_group_per_minute,
    )


@dataclass(slots=True)
class InboxWatcher:
    """Imports post files dropped into a folder once their size has stopped changing (not half-written)."""

    folder: Path
    seen: dict[Path, tuple[int, float]] = field(default_factory=dict)
    settling: dict[Path, tuple[int, float]] = field(default_factory=dict)

    def ready_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        ready = []
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in POST_SUFFIXES | FEED_SUFFIXES:
                continue
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime)
            if self.seen.get(path) == signature:
                continue
            if self.settling.get(path) == signature:
                ready.append(path)
                self.seen[path] = signature
                del self.settling[path]
            else:
                self.settling[path] = signature
        return ready


async def resolve_channel(bot: Bot, services: BotServices, channel: str) -> None:
    """CHANNEL_ID (an id or @name) becomes a subscriber that receives every digest."""
    chat_ref: int | str = int(channel) if channel.lstrip("-").isdigit() else channel
    try:
        chat = await bot.get_chat(chat_ref)
    except TelegramError as exc:
        log.error("CHANNEL_ID %s: Telegram says %s; digests will not go to the channel", channel, exc)
        return
    await services.subscriptions.ensure_channel(chat.id, chat.title)


async def initialize_bot(bot: Bot, settings: Settings) -> None:
    """getMe: a missing, rejected or unreachable Bot API becomes one line for the operator."""
    try:
        await bot.initialize()
    except InvalidToken:
        raise CannotRun("Telegram rejected TELEGRAM_BOT_TOKEN (check the token from @BotFather)") from None
    except NetworkError as exc:
        raise CannotRun(f"cannot reach the Telegram Bot API at {settings.telegram_base_url}: {exc}") from None


async def run_bot(app: AppContext, *, install_signals: bool = True, stop: asyncio.Event | None = None) -> int:
    settings = app.settings
    if settings.telegram_bot_token is None:
        raise CannotRun("TELEGRAM_BOT_TOKEN is not set (put it in .env; see .env.example)")
    services = build_bot_services(app)
    application = build_application(
        token=settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        commands=services.commands,
    )
    await initialize_bot(application.bot, settings)
    await application.initialize()
    stop = stop or asyncio.Event()
    sender = OutboxSender(
        app.sessions,
        application.bot,
        limits=send_limits(app),
        clock=SystemClock(),
        max_attempts=settings.send_max_attempts,
    )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    upgrading: asyncio.Task[None] | None = None
    try:
        await register_commands(application)
        if settings.channel_id:
            await resolve_channel(application.bot, services, settings.channel_id)
        _schedule_jobs(application, app, services, sender, http)
        if install_signals:
            _install_signal_handlers(stop)
        await application.start()
        assert application.updater is not None
        if settings.webhook_url:
            await application.updater.start_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                # listen on the path Telegram is told, so a reverse proxy can pass requests through unchanged
                url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
                allowed_updates=["message", "callback_query", "my_chat_member"],
            )
        else:
            await application.updater.start_polling(allowed_updates=["message", "callback_query", "my_chat_member"])
        log.info("newsbot is running as @%s", application.bot.username)
        sending = asyncio.create_task(sender.run(stop), name="outbox-sender")
        if app.llm is not None:
            # LLM summaries replace extractive ones in the background; no command waits for them
            upgrading = asyncio.create_task(app.llm.run(stop), name="llm-upgrades")
        await stop.wait()
        log.info("stopping: finishing work in flight")
        await sending
    finally:
        if upgrading is not None:
            upgrading.cancel()  # each upgrade is one transaction: an interrupted one leaves the old summary
            with contextlib.suppress(asyncio.CancelledError):
                await upgrading
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()  # also stops the JobQueue, waiting for running jobs
        await application.shutdown()
        await http.close()
    return 0


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _schedule_jobs(
    application: Application,  # type: ignore[type-arg]
    app: AppContext,
    services: BotServices,
    sender: OutboxSender,
    http: aiohttp.ClientSession,
) -> None:
    settings = app.settings
    jobs = application.job_queue
    if jobs is None:
        raise CannotRun("python-telegram-bot was installed without its job-queue extra")

    async def poll_feeds(_: ContextTypes.DEFAULT_TYPE) -> None:
        outcomes = await app.feeds.fetch_all(http)
        new = sum(o.result.imported for o in outcomes)
        if new:
            log.info("feeds: %d new articles", new)
            if app.llm is not None:
                app.llm.wake()

    async def run_digests(_: ContextTypes.DEFAULT_TYPE) -> None:
        report = await services.digests.run()
        if report.enqueued:
            sender.wake()

    jobs.run_repeating(poll_feeds, interval=timedelta(seconds=settings.fetch_interval), first=5, name="feeds")
    jobs.run_repeating(run_digests, interval=settings.digest_check_interval, first=1, name="digests")
    if settings.inbox_dir is not None:
        watcher = InboxWatcher(settings.inbox_dir)

        async def import_inbox(_: ContextTypes.DEFAULT_TYPE) -> None:
            files = watcher.ready_files()
            if files:
                result = await app.ingest.import_paths(files, on_failure=lambda f: log.warning("inbox: %s", f))
                log.info("inbox: %s", result.summary_line())
                if result.imported and app.llm is not None:
                    app.llm.wake()

        jobs.run_repeating(import_inbox, interval=settings.inbox_interval, first=1, name="inbox")


# how long `digest --send-now` keeps sending messages that Telegram asked us to hold back
SEND_NOW_PATIENCE = timedelta(minutes=2)


async def send_digests_now(app: AppContext, services: BotServices) -> str:
    """Enqueue today's digest for every digest subscriber not yet served, then send the outbox."""
    settings = app.settings
    if settings.telegram_bot_token is None:
        raise CannotRun("TELEGRAM_BOT_TOKEN is not set (put it in .env; see .env.example)")
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_base_url)
    await initialize_bot(bot, settings)
    try:
        if settings.channel_id:
            await resolve_channel(bot, services, settings.channel_id)
        report = await services.digests.run(force=True)
        clock = SystemClock()
        sender = OutboxSender(
            app.sessions, bot, limits=send_limits(app), clock=clock, max_attempts=settings.send_max_attempts
        )
        deadline = clock.now() + SEND_NOW_PATIENCE
        totals = await sender.send_due()
        while (next_at := await sender.next_due_at()) is not None and next_at <= deadline:
            await clock.sleep(max(0.0, (next_at - clock.now()).total_seconds()))
            totals = totals + await sender.send_due()
    finally:
        await bot.shutdown()
    return (
        f"digests: {report.enqueued} enqueued, {report.empty} with nothing new, {report.already_done} already sent; "
        f"outbox: {totals}"
    )
