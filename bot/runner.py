"""`newsbot run`: the bot, the feed poller, the inbox watcher, the digest scheduler and the outbox sender in
one asyncio process, and their clean shutdown on SIGINT/SIGTERM.

Periodic work runs on the Application's JobQueue; the outbox sender is one long-running task. Stopping waits
for the job in flight (an import or a digest run finishes its transaction) before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from datetime import timedelta

import aiohttp
from sqlalchemy.engine import make_url
from telegram.ext import Application, ContextTypes

from bot.app import bot_token, build_application, initialize_bot, register_commands, resolve_channel
from bot.composition import Services
from bot.config import Settings
from bot.errors import CannotRun
from bot.services.delivery import OutboxSender
from bot.sources.feeds import feed_http_session
from bot.updates import start_receiving

log = logging.getLogger(__name__)
# the one line saying what runs: shown at the default LOG_LEVEL (warning) too, see bot/cli.py
startup_log = logging.getLogger("newsbot.startup")


async def run_bot(
    services: Services, *, install_signals: bool = True, stop: asyncio.Event | None = None
) -> int:
    settings = services.settings
    application = build_application(
        token=bot_token(settings),
        base_url=settings.telegram_base_url,
        commands=services.commands,
        replies=services.replies,
        connections=settings.send_concurrency + 4,
    )
    await initialize_bot(application.bot, settings)
    await application.initialize()
    stop = stop or asyncio.Event()
    sender = services.outbox_sender(application.bot)
    services.replies.on_enqueued(sender.wake)  # a reply goes out at once when this process is the sender
    # feeds are fetched through a resolver that refuses private addresses (unless FETCH_ALLOW_PRIVATE)
    http = feed_http_session(settings.fetch_allow_private)
    upgrading: asyncio.Task[None] | None = None
    try:
        await register_commands(application, services.commands)
        if settings.channel_id:
            await resolve_channel(application.bot, services.subscriptions, settings.channel_id)
        _schedule_jobs(application, services, sender, http, stop)
        if install_signals:
            _install_signal_handlers(stop)
        await application.start()
        mode = await start_receiving(application, settings)  # webhook, polling or none, as UPDATES says
        feeds = len(await services.feeds.list_feeds())
        startup_log.info(startup_line(settings, username=application.bot.username, updates=mode, feeds=feeds))
        freeze_startup_objects()
        sending = asyncio.create_task(sender.run(stop), name="outbox-sender")
        if services.llm is not None:
            # LLM summaries replace extractive ones in the background; no command waits for them
            upgrading = asyncio.create_task(services.llm.run(stop), name="llm-upgrades")
        await stop.wait()
        log.info("stopping: finishing work in flight")
        pause_jobs(application)  # no job starts now; those running finish below
        await sending
    finally:
        if upgrading is not None:
            upgrading.cancel()  # each upgrade is one transaction: an interrupted one leaves the old summary
            with contextlib.suppress(asyncio.CancelledError):
                await upgrading
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        pause_jobs(application)
        if application.running:
            await application.stop()  # also stops the JobQueue, waiting for running jobs
        await application.shutdown()
        await http.close()
    return 0


def freeze_startup_objects() -> None:
    """Move what start-up made (modules, the ORM's mappers, the Application: ~80,000 objects that live as
    long as the process) out of the garbage collector's reach. Each full collection scanned them all: a
    ~30 ms pause, every few hundred thousand allocations, in whatever read or command was running (a
    digest read's p95 at 1,000,000 articles was such pauses; BENCHMARKS section 7)."""
    gc.collect()
    gc.freeze()


def pause_jobs(application: Application) -> None:  # type: ignore[type-arg]
    """No job starts from now on. PTB's JobQueue.stop waits for the jobs running when it is called, then
    APScheduler cancels any that began meanwhile: such a job was cut short, with a CancelledError traceback
    in the log (seen when a digest run ended a moment before a feed poll was due). Paused, none begins."""
    jobs = application.job_queue
    if jobs is not None and jobs.scheduler.running:  # running while paused too: pausing again changes nothing
        jobs.scheduler.pause()


def startup_line(settings: Settings, *, username: str | None, updates: str, feeds: int) -> str:
    """One line saying what this process runs, for the operator reading the log."""
    database = make_url(settings.database_url).get_backend_name()
    inbox = str(settings.inbox_dir) if settings.inbox_dir else "off"
    llm = f"on ({settings.openai_model})" if settings.uses_llm else "off"
    return (
        f"newsbot is running as @{username}: updates by {updates}, {database} database, {feeds} feeds polled "
        f"every {settings.fetch_interval:g} s, inbox {inbox}, digests checked every "
        f"{settings.digest_check_interval:g} s, LLM summaries {llm}, sending through the outbox"
    )


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _schedule_jobs(
    application: Application,  # type: ignore[type-arg]
    services: Services,
    sender: OutboxSender,
    http: aiohttp.ClientSession,
    stop: asyncio.Event,
) -> None:
    settings = services.settings
    jobs = application.job_queue
    if jobs is None:
        raise CannotRun("python-telegram-bot was installed without its job-queue extra")

    async def poll_feeds(_: ContextTypes.DEFAULT_TYPE) -> None:
        # a stop ends the poll after the article in hand (the JobQueue's own stop waits for running jobs)
        outcomes = await services.feeds.fetch_all(http, stop=stop)
        new = sum(o.result.imported for o in outcomes)
        if new:
            log.info("feeds: %d new articles", new)
            if services.llm is not None:
                services.llm.wake()

    async def run_digests(_: ContextTypes.DEFAULT_TYPE) -> None:
        report = await services.digests.run()
        if report.enqueued:
            sender.wake()

    jobs.run_repeating(poll_feeds, interval=timedelta(seconds=settings.fetch_interval), first=5, name="feeds")
    jobs.run_repeating(run_digests, interval=settings.digest_check_interval, first=1, name="digests")
    if (inbox := services.inbox) is not None:
        # each inbox file is imported by one process, however many watch the folder (bot/services/inbox.py)

        async def import_inbox(_: ContextTypes.DEFAULT_TYPE) -> None:
            report = await inbox.import_ready(on_failure=lambda f: log.warning("inbox: %s", f))
            if report.files:
                log.info("inbox: %s", report.result.summary_line())
                if report.result.imported and services.llm is not None:
                    services.llm.wake()

        jobs.run_repeating(import_inbox, interval=settings.inbox_interval, first=1, name="inbox")
