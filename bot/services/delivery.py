"""Sending the outbox: due messages go to Telegram within its flood limits, and every outcome is recorded.

`OutboxSender.send_due()` sends what is due now and returns a `SendReport`; `run()` repeats it until stopped.
It only sends: what to say comes rendered (`bot.render`) and queued (`db.outbox.OutboxRepo.enqueue`).

Pacing, measured on the injected `Clock` with sliding windows like Telegram's:
- all chats together: `global_per_second` (30/s);
- one chat: `private_per_second` (1/s) - Telegram asks for at most one message a second in any chat;
- a group, supergroup or channel in addition: `group_per_minute` (20/min).
A chat waiting on its budget, a 429 or a backoff never holds up the others: each chat is worked through on its
own, one message at a time in enqueue order (the parts of a delivery by seq), at most `concurrency` requests
in flight.

What Telegram answers, and what happens (error texts matched case-insensitively; nothing stops the sender):
    accepted                     -> "sent" (message_id, sent_at); the delivery settles once no part is pending
    RetryAfter (429)             -> only this chat waits retry_after; not counted as an attempt
    ChatMigrated                 -> the subscriber and its pending messages move to the supergroup; resent now
    Forbidden (403), BadRequest "chat not found" and the like
                                 -> subscriber inactive with the reason; its pending messages "dropped"
    BadRequest about the photo   -> the caption goes out as a text message instead
    other BadRequest             -> resent once as plain text; failing again -> "dead"
    NetworkError/TimedOut (5xx, connection), other TelegramError
                                 -> attempts+1, the chat waits 2, 4, 8 ... 300 s; "dead" after max_attempts
`BadRequest` and `TimedOut` are subclasses of `NetworkError` in PTB, so the order of the handlers matters.
A TimedOut request may still have reached Telegram: retrying it can deliver a message twice (at least once).

Each state change is its own short transaction with its own session; no session is shared between chats.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import math
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, LinkPreviewOptions
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.telegram_html import html_to_plain, utf16_len
from db.models import OutboxMessage
from db.outbox import OutboxRepo

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 2.0  # seconds before the first retry; doubled each attempt
BACKOFF_CAP = 300.0
# Added to every pacing window: a request sent exactly one window after another may reach Telegram a little
# sooner than that (latency varies), and Telegram counts arrivals.
WINDOW_MARGIN = 0.08
ROUND_SIZE = 1000  # due messages loaded per round

# BadRequest texts meaning the chat is gone for good (Forbidden always means that)
_CHAT_GONE = (
    "chat not found",
    "group chat was deactivated",
    "have no rights to send a message",
    "not enough rights to send",
    "chat_write_forbidden",
)
# BadRequest texts meaning Telegram could not use the photo (the caption can still go out)
_PHOTO_REFUSED = (
    "wrong file identifier",
    "http url",
    "failed to get http url content",
    "wrong type of the web page content",
    "image_process_failed",
    "photo_invalid_dimensions",
    "wrong remote file identifier",
    "photo_invalid",
    "photo_ext_invalid",
)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: aware UTC now, asyncio sleep."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class SendLimits:
    """Telegram's documented flood limits (bot FAQ); lower them for a bot that hits 429s anyway."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20.0


@dataclass
class SendReport:
    """What one `send_due()` did, in messages (`deactivated` and `migrated` count chats)."""

    sent: int = 0
    retried: int = 0
    dropped: int = 0
    dead: int = 0
    rate_limited: int = 0
    plain_text_resends: int = 0
    photos_as_text: int = 0
    migrated: int = 0
    deactivated: int = 0

    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __str__(self) -> str:
        """One line for logs and the command line, e.g. 'sent 12, retried 1' ('nothing sent')."""
        counts = ((f.name.replace("_", " "), getattr(self, f.name)) for f in fields(self))
        return ", ".join(f"{name} {count}" for name, count in counts if count) or "nothing sent"


class _Step(enum.Enum):
    DONE = "done"  # the message left the pending set: go on with the chat's next one
    AGAIN = "again"  # send the same message again now (as text, as plain text, or to the migrated chat)
    STOP = "stop"  # the chat waits (429, backoff) or is gone: nothing more for it this round


class _Window:
    """At most `count` events in any `length` seconds: the sliding window Telegram counts in."""

    def __init__(self, rate: float, period: float) -> None:
        # `rate` events per `period` seconds, e.g. 30/s -> 30 in 1 s; 20/min -> 20 in 60 s; 0.5/s -> 1 in 2 s
        self.count = max(1, math.floor(rate))
        self.length = self.count * period / rate + WINDOW_MARGIN
        self._times: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self._times and self._times[0] <= now - self.length:
            self._times.popleft()
        if len(self._times) < self.count:
            return 0.0
        return self._times[0] + self.length - now

    def record(self, now: float) -> None:
        self._times.append(now)

    def idle(self, now: float) -> bool:
        return not self._times or self._times[-1] <= now - self.length


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22.2+ warns on reading retry_after unless PTB_TIMEDELTA is set; it is an int or a timedelta.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _plain(text_html: str, *, limit: int) -> str:
    """The message as plain text, cut to Telegram's limit (a link's URL now counts, so it can grow)."""
    text = html_to_plain(text_html)
    if utf16_len(text) <= limit:
        return text
    cut = text[: limit - 1]
    while utf16_len(cut) > limit - 1:  # astral characters take two units
        cut = cut[:-1]
    return cut + "…"


def _matches(error: TelegramError, markers: Sequence[str]) -> bool:
    text = str(error).casefold()
    return any(marker in text for marker in markers)


class OutboxSender:
    """Sends due outbox messages with a real `telegram.Bot` (built by the app with its base_url)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bot: Bot,
        *,
        limits: SendLimits,
        clock: Clock,
        max_attempts: int = 8,
        concurrency: int = 8,
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._limits = limits
        self._clock = clock
        self._max_attempts = max_attempts
        self._in_flight = asyncio.Semaphore(concurrency)
        self._global = _Window(limits.global_per_second, 1.0)
        self._global_lock = asyncio.Lock()
        self._chats: dict[int, list[_Window]] = {}
        self._wake = asyncio.Event()
        self._halt = False

    # --- the loop --------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was enqueued: look at the outbox now instead of after the idle wait."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Send due messages until `stop` is set; between rounds wait `idle` seconds or until `wake()`.

        On stop, the chats being worked through finish the request in flight and stop; the rest stays pending.
        The idle wait is in real time (it must be interruptible by `wake()` and `stop`).
        """
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                sending = asyncio.ensure_future(self.send_due())
                await asyncio.wait({sending, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not sending.done():
                    self._halt = True
                try:
                    report = await sending
                except Exception:
                    # a database outage or a bug: keep the sender alive, try again after the idle wait
                    logger.exception("outbox: sending round failed")
                else:
                    if report.total():
                        logger.debug("outbox: %s", report)
                finally:
                    self._halt = False
                if stop.is_set():
                    break
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({waking, stopping}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
        finally:
            stopping.cancel()

    async def drain(self, *, patience: timedelta) -> SendReport:
        """Send what is due, then keep sending what becomes due within `patience` (messages Telegram
        asked us to hold back, retries); return what was done. Messages due later stay in the outbox
        for the running bot.
        """
        deadline = self._clock.now() + patience
        totals = await self.send_due()
        while (next_at := await self.next_due_at()) is not None and next_at <= deadline:
            await self._clock.sleep(max(0.0, (next_at - self._clock.now()).total_seconds()))
            totals = totals + await self.send_due()
        return totals

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message becomes due (None when nothing is pending)."""
        async with self._sessions() as session:
            return await OutboxRepo(session).next_due_at()

    async def send_due(self) -> SendReport:
        """Send every message that is due now, within the budgets; return when nothing more is due.

        Messages deferred into the future (429, backoff) stay pending for a later call.
        """
        report = SendReport()
        while not self._halt:
            self._forget_idle_chats()
            queues = await self._load_round(self._clock.now())
            if not queues:
                break
            before = report.total()
            async with asyncio.TaskGroup() as group:
                for queue in queues:
                    group.create_task(self._work_chat(queue, report))
            if report.total() == before:
                break  # nothing could move (cannot happen unless the rows changed under us); do not spin
        if report.dead or report.deactivated or report.migrated:
            logger.info(
                "outbox: sent %d, dead %d, dropped %d, chats deactivated %d, migrated %d",
                report.sent,
                report.dead,
                report.dropped,
                report.deactivated,
                report.migrated,
            )
        return report

    async def _load_round(self, now: datetime) -> list[list[OutboxMessage]]:
        """Per chat with something due: its pending messages in order, up to the first one not yet due."""
        async with self._sessions() as session:
            repo = OutboxRepo(session)
            due = await repo.due(now, ROUND_SIZE)
            if not due:
                return []
            pending = await repo.pending_for_chats(m.chat_id for m in due)
        queues: list[list[OutboxMessage]] = []
        for _chat_id, messages in itertools.groupby(pending, key=lambda m: m.chat_id):
            queue = list(itertools.takewhile(lambda m: m.not_before <= now, messages))
            if queue:
                queues.append(queue)
        queues.sort(key=lambda q: (q[0].not_before, q[0].id))
        return queues

    async def _work_chat(self, queue: list[OutboxMessage], report: SendReport) -> None:
        index = 0
        while index < len(queue) and not self._halt:
            message = queue[index]
            old_chat_id = message.chat_id
            step = await self._attempt(message, report)
            if message.chat_id != old_chat_id:
                for later in queue[index + 1 :]:
                    later.chat_id, later.chat_kind = message.chat_id, message.chat_kind
            if step is _Step.DONE:
                index += 1
            elif step is _Step.STOP:
                return

    # --- one attempt -----------------------------------------------------------------------------------

    async def _attempt(self, message: OutboxMessage, report: SendReport) -> _Step:
        await self._wait_for_chat(message.chat_id, message.chat_kind)
        if self._halt:
            return _Step.STOP
        async with self._in_flight:
            await self._take_budget(message.chat_id, message.chat_kind)
            try:
                sent_id = await self._send(message)
            except RetryAfter as exc:
                await self._rate_limited(message, _retry_after_seconds(exc))
                report.rate_limited += 1
                return _Step.STOP
            except ChatMigrated as exc:
                return await self._migrated(message, int(exc.new_chat_id), report)
            except Forbidden as exc:
                return await self._chat_gone(message, str(exc), report)
            except BadRequest as exc:
                return await self._bad_request(message, exc, report)
            except TelegramError as exc:  # NetworkError (5xx, connection), TimedOut, and anything unexpected
                return await self._failed(message, f"{type(exc).__name__}: {exc}", report)
            await self._record_sent(message, sent_id)
            report.sent += 1
            return _Step.DONE

    async def _send(self, message: OutboxMessage) -> int:
        parse_mode: str | None = ParseMode.HTML
        text = message.text
        limit = MessageLimit.CAPTION_LENGTH if message.photo_url else MessageLimit.MAX_TEXT_LENGTH
        if message.as_plain_text:
            text, parse_mode = _plain(message.text, limit=limit), None
        if message.photo_url:
            sent = await self._bot.send_photo(
                message.chat_id, photo=message.photo_url, caption=text or None, parse_mode=parse_mode
            )
        else:
            sent = await self._bot.send_message(
                message.chat_id, text, parse_mode=parse_mode, link_preview_options=_NO_PREVIEW
            )
        return sent.message_id

    # --- outcomes ----------------------------------------------------------------------------------------

    async def _record_sent(self, message: OutboxMessage, telegram_message_id: int) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            repo = OutboxRepo(session)
            await repo.mark_sent(message.id, telegram_message_id=telegram_message_id, now=now)
            if message.delivery_id is not None:
                await repo.settle_delivery(message.delivery_id, now=now)
        message.status, message.message_id, message.sent_at = "sent", telegram_message_id, now

    async def _rate_limited(self, message: OutboxMessage, retry_after: float) -> None:
        until = self._clock.now() + timedelta(seconds=retry_after)
        async with self._sessions() as session, session.begin():
            await OutboxRepo(session).defer_chat(message.chat_id, until)

    async def _migrated(self, message: OutboxMessage, new_chat_id: int, report: SendReport) -> _Step:
        old_chat_id = message.chat_id
        if new_chat_id == old_chat_id:
            return await self._failed(message, f"migrated to the same chat {new_chat_id}", report)
        async with self._sessions() as session, session.begin():
            migration = await OutboxRepo(session).migrate_subscriber(
                message.subscriber_id, old_chat_id=old_chat_id, new_chat_id=new_chat_id, now=self._clock.now()
            )
        report.migrated += 1
        if migration.deactivated:
            logger.info(
                "chat %s became supergroup %s, which already subscribes: subscriber %s deactivated",
                old_chat_id,
                new_chat_id,
                message.subscriber_id,
            )
            report.deactivated += 1
            report.dropped += migration.dropped
            return _Step.STOP
        logger.info(
            "chat %s became supergroup %s: subscriber %s and %d pending messages follow",
            old_chat_id,
            new_chat_id,
            message.subscriber_id,
            migration.retargeted,
        )
        message.chat_id, message.chat_kind = new_chat_id, "supergroup"
        return _Step.AGAIN

    async def _chat_gone(self, message: OutboxMessage, reason: str, report: SendReport) -> _Step:
        async with self._sessions() as session, session.begin():
            dropped = await OutboxRepo(session).deactivate_subscriber(
                message.subscriber_id, reason=reason, now=self._clock.now()
            )
        logger.info(
            "chat %s is gone (%s): subscriber %s deactivated, %d pending messages dropped",
            message.chat_id,
            reason,
            message.subscriber_id,
            dropped,
        )
        report.deactivated += 1
        report.dropped += dropped
        return _Step.STOP

    async def _bad_request(self, message: OutboxMessage, exc: BadRequest, report: SendReport) -> _Step:
        error = str(exc)
        if _matches(exc, _CHAT_GONE):
            return await self._chat_gone(message, error, report)
        if message.photo_url and _matches(exc, _PHOTO_REFUSED):
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).drop_photo(message.id, error=error)
            message.photo_url = None
            report.photos_as_text += 1
            return _Step.AGAIN
        if not message.as_plain_text:
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).send_as_plain_text(message.id, error=error)
            message.as_plain_text = True
            report.plain_text_resends += 1
            return _Step.AGAIN
        await self._dead(message, error, message.attempts + 1)
        report.dead += 1
        return _Step.DONE

    async def _failed(self, message: OutboxMessage, error: str, report: SendReport) -> _Step:
        attempts = message.attempts + 1
        if attempts >= self._max_attempts:
            await self._dead(message, error, attempts)
            report.dead += 1
            return _Step.DONE
        backoff = min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_CAP)
        not_before = self._clock.now() + timedelta(seconds=backoff)
        async with self._sessions() as session, session.begin():
            await OutboxRepo(session).record_failure(
                message.id, error=error, attempts=attempts, chat_id=message.chat_id, not_before=not_before
            )
        message.attempts = attempts
        report.retried += 1
        return _Step.STOP

    async def _dead(self, message: OutboxMessage, error: str, attempts: int) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            repo = OutboxRepo(session)
            await repo.mark_dead(message.id, error=error, attempts=attempts)
            if message.delivery_id is not None:
                await repo.settle_delivery(message.delivery_id, now=now)
        message.status, message.last_error, message.attempts = "dead", error, attempts

    # --- budgets -----------------------------------------------------------------------------------------

    def _timestamp(self) -> float:
        return self._clock.now().timestamp()

    def _chat_windows(self, chat_id: int, chat_kind: str) -> list[_Window]:
        windows = self._chats.get(chat_id)
        if windows is None:
            windows = [_Window(self._limits.private_per_second, 1.0)]
            if chat_kind != "private":
                windows.append(_Window(self._limits.group_per_minute, 60.0))
            self._chats[chat_id] = windows
        return windows

    async def _wait_for_chat(self, chat_id: int, chat_kind: str) -> None:
        windows = self._chat_windows(chat_id, chat_kind)
        while not self._halt:
            now = self._timestamp()
            wait = max(w.delay(now) for w in windows)
            if wait <= 0:
                return
            await self._clock.sleep(wait)

    async def _take_budget(self, chat_id: int, chat_kind: str) -> None:
        """Wait for the global budget (first come, first served), then count the send for the chat too."""
        async with self._global_lock:
            while (wait := self._global.delay(self._timestamp())) > 0:
                await self._clock.sleep(wait)
            now = self._timestamp()
            self._global.record(now)
        for window in self._chat_windows(chat_id, chat_kind):
            window.record(now)

    def _forget_idle_chats(self) -> None:
        now = self._timestamp()
        for chat_id in [c for c, ws in self._chats.items() if all(w.idle(now) for w in ws)]:
            del self._chats[chat_id]
