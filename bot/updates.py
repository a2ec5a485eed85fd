"""Receiving updates for a built Application, as UPDATES says: a webhook, long polling, or none at all.

Telegram hands a bot's updates to one receiver: a webhook, or one getUpdates long poll at a time. A second
poller makes Telegram answer 409 Conflict ("terminated by other getUpdates request") to the one waiting,
and while a webhook is set every getUpdates answers 409. So when several `newsbot run` processes share a
database, one receives updates and the others run with UPDATES=off: they still send, fetch feeds and run
digests.

PTB's polling loop survives a 409: it hands the error to `error_callback`, sleeps (1 s, growing 1.5 times
per failure to 30 s, back to none after a successful poll) and polls again, for as long as the process
runs; so a process that lost the race takes over polling once the other poller stops. `PollingErrors`
only keeps the log readable: PTB's own callback logs every failure with a traceback. PTB's pause between
retries does not watch its stop event, so stopping a process that is losing the race can wait it out.

In webhook mode every update must carry Telegram's `X-Telegram-Bot-Api-Secret-Token` header: without it
anyone who can reach the webhook port could post a forged update (say, an admin's /addfeed). The secret is
WEBHOOK_SECRET or, when that is unset, one derived from the bot token (`webhook_secret`), so the processes of
one bot agree on it without configuration. PTB's webhook server answers 403 Forbidden to a POST without the
header or with another value, before the update reaches any handler.

This module starts the Updater and nothing else: no handlers, no stopping (`bot/runner.py` stops it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from telegram.error import Conflict, TelegramError
from telegram.ext import Application

from bot.config import Settings

log = logging.getLogger(__name__)

ReceiveMode = Literal["webhook", "polling", "off"]
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
WARN_EVERY = 60.0  # seconds: a process that keeps losing the poll race says so once a minute, not per retry

OTHER_POLLER = (
    "another process is polling Telegram for this bot (409 Conflict): run one poller and start the others "
    "with UPDATES=off, or use webhook mode; retrying"
)
WEBHOOK_SET = (
    "a webhook is set for this bot, so Telegram refuses polling (409 Conflict): another process runs in "
    "webhook mode; start this one with UPDATES=off; retrying"
)


# the HMAC message keyed with the bot token; changing it changes every derived webhook secret
WEBHOOK_SECRET_LABEL = b"newsbot webhook secret v1"


def webhook_secret(settings: Settings) -> str:
    """The secret_token Telegram sends with each webhook update: WEBHOOK_SECRET, or else the hex HMAC-SHA256
    of a fixed label keyed with the bot token (64 characters of 0-9a-f: within Telegram's A-Z a-z 0-9 _ -,
    1-256 characters).

    Derived rather than random so every process of the bot, and a restarted one, expects the secret that the
    last setWebhook registered; it changes when the token is revoked. Only someone who holds the token can
    compute it, and they could call setWebhook themselves anyway.
    """
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    if settings.telegram_bot_token is None:
        raise RuntimeError("webhook mode without TELEGRAM_BOT_TOKEN")
    token = settings.telegram_bot_token.get_secret_value().encode()
    return hmac.new(token, WEBHOOK_SECRET_LABEL, hashlib.sha256).hexdigest()


def receive_mode(settings: Settings) -> ReceiveMode:
    """What this process does for updates: auto means a webhook when WEBHOOK_URL is set, else polling."""
    if settings.updates == "auto":
        return "webhook" if settings.webhook_url else "polling"
    return settings.updates


async def start_receiving(
    application: Application,  # type: ignore[type-arg]
    settings: Settings,
    *,
    now: Callable[[], float] = time.monotonic,
) -> ReceiveMode:
    """Start the Updater of a started Application as `settings` say; returns the mode."""
    mode = receive_mode(settings)
    if mode == "off":
        # the Updater is never started: no getUpdates, and no deleteWebhook either (PTB's polling start-up
        # deletes any webhook, which would take the updates away from a process in webhook mode)
        log.info("updates: off (UPDATES=off); another process receives them")
        return mode
    updater = application.updater
    if updater is None:
        raise RuntimeError("the Application was built without an Updater")
    if mode == "webhook":
        webhook_url = settings.webhook_url
        if webhook_url is None:  # Settings refuses UPDATES=webhook without WEBHOOK_URL
            raise RuntimeError("webhook mode without WEBHOOK_URL")
        await updater.start_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            # listen on the path Telegram is told, so a reverse proxy can pass requests through unchanged
            url_path=urlsplit(webhook_url).path.lstrip("/"),
            webhook_url=webhook_url,
            # never None: PTB's server checks the header only when it is given one
            secret_token=webhook_secret(settings),
            allowed_updates=ALLOWED_UPDATES,
        )
        log.info("updates: webhook on %s:%d", settings.webhook_listen, settings.webhook_port)
    else:
        await updater.start_polling(
            allowed_updates=ALLOWED_UPDATES, error_callback=PollingErrors(every=WARN_EVERY, now=now)
        )
        log.info("updates: long polling")
    return mode


class PollingErrors:
    """The `error_callback` of `Updater.start_polling`: one warning line per kind of failure, at most once
    every `every` seconds, counting the ones it held back.

    PTB calls it synchronously for each TelegramError from getUpdates (not RetryAfter, TimedOut or
    InvalidToken, which its loop handles itself) and retries afterwards whatever it does; it must not raise.
    """

    def __init__(self, *, every: float = WARN_EVERY, now: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._now = now
        self._last: dict[str, float] = {}  # kind -> when it was last logged
        self._held: dict[str, int] = {}  # kind -> failures not logged since

    def __call__(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            kind = WEBHOOK_SET if "webhook" in error.message.lower() else OTHER_POLLER
        else:
            # network trouble or a 5xx: PTB keeps retrying; what PTB would log, without the traceback
            kind = f"polling Telegram failed ({type(error).__name__}: {error.message}); retrying"
        at = self._now()
        last = self._last.get(kind)
        if last is not None and at - last < self._every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        self._last[kind] = at
        if held:
            log.warning("%s (%d more since the last warning)", kind, held)
        else:
            log.warning("%s", kind)
