"""Sending the outbox: due messages go to Telegram within its flood limits, and every outcome is recorded.

`OutboxSender.run()` sends until stopped; `send_due()` sends what is due now and returns a `SendReport`;
`drain()` also waits for what becomes due soon. It only sends: what to say comes rendered (`bot.render`) and
queued (`db.outbox.OutboxRepo.enqueue` / `enqueue_reply`).

Several processes (several `newsbot run`, or `newsbot digest --send-now` beside a running bot):
- Telegram's limits are per bot, so one process at a time sends: the holder of the bot's sender lease (a row
  renewed every third of `lease_seconds`). The others keep trying to take it; one that takes it over waits
  until the previous holder's last second has passed. `send_due()` and `drain()` give it back when done.
- The holder claims due rows in batches (`OutboxRepo.claim`: SKIP LOCKED on PostgreSQL, one write statement on
  SQLite) before sending them; the claims are renewed with the lease and given back on stop, so the rows of a
  process that died are sent by the next holder once its claims have run out: each at most once more, and
  only if it was in flight (Telegram accepted it, the record was not yet committed).
- Accepted messages are recorded in batches (`_SentLog`, a group commit); other outcomes at once.

Pacing, measured on the injected `Clock` with sliding windows like Telegram's:
- all chats together: `global_per_second` (30/s); replies to users go before scheduled mail;
- one chat: `private_per_second` (1/s) - Telegram asks for at most one message a second in any chat;
- a group, supergroup or channel in addition: `group_per_minute` (20/min).
Telegram counts a request when it arrives, which the sender cannot see: it only knows that the request arrived
after it left and before its answer came back. So a request counts in every window from when it leaves until
`length` after its answer (or its failure): however late a request reaches Telegram (a slow network, a busy
machine), the next one cannot arrive within the window of it. The price is the round trip: at 30/s the steady
rate is 30 per (1 s + the round trip + `WINDOW_MARGIN`).
A chat waiting on its budget, a 429 or a backoff never holds up the others: each chat is worked through on its
own, one message at a time in `chat_order` (replies first, then enqueue order, the parts of a delivery by
seq), at most `concurrency` requests in flight.

What Telegram answers, and what happens (error texts matched case-insensitively; nothing stops the sender):
    accepted                     -> "sent" (message_id, sent_at); the delivery settles once no part is pending
    RetryAfter (429)             -> only this chat waits retry_after; not counted as an attempt
    ChatMigrated                 -> the subscriber and its pending messages move to the supergroup; resent now
    Forbidden (403), BadRequest "chat not found" and the like
                                 -> subscriber inactive with the reason; its pending messages "dropped"
    BadRequest about the photo   -> the caption goes out as a text message instead
    BadRequest: the forum topic is deleted or closed
                                 -> resent to the chat itself (General); the chat's digests go there from now
    other BadRequest             -> resent once as plain text; failing again -> "dead"
    NetworkError/TimedOut (5xx, connection), other TelegramError
                                 -> attempts+1, the chat waits 2, 4, 8 ... 300 s; "dead" after max_attempts
`BadRequest` and `TimedOut` are subclasses of `NetworkError` in PTB, so the order of the handlers matters.
A TimedOut request may still have reached Telegram: retrying it can deliver a message twice (at least once).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import enum
import hashlib
import itertools
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.services.ingest import process_name
from bot.telegram_html import html_to_plain, utf16_len
from db.models import OutboxMessage
from db.outbox import REPLY, SCHEDULED, OutboxRepo, SentRecord, chat_order
from summarizer.clean import one_line

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 2.0  # seconds before the first retry; doubled each attempt
BACKOFF_CAP = 300.0
# Added to every pacing window, for the clocks: ours and Telegram's tick at slightly different rates. Latency
# needs no margin: a request counts until its answer (see the module's docstring).
WINDOW_MARGIN = 0.03
# how often a window full of requests still in flight is looked at again
IN_FLIGHT_POLL = 0.02

# BadRequest texts meaning the chat is gone for good (Forbidden always means that)
_CHAT_GONE = (
    "chat not found",
    "group chat was deactivated",
    "have no rights to send a message",
    "not enough rights to send",
    "chat_write_forbidden",
)
# BadRequest texts meaning a forum topic takes no more messages (the chat itself, General, still may)
_TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_closed")
# BadRequest texts meaning Telegram refused the buttons (the text can still go out)
_MARKUP_REFUSED = ("button_url_invalid", "reply markup", "button_data_invalid", "inline keyboard")
# BadRequest texts meaning Telegram could not use the photo (the caption can still go out)
_PHOTO_REFUSED = (
    "not enough rights to send photos",
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
_PREVIEW = LinkPreviewOptions(is_disabled=False)


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
    """At most `count` events in any `length` seconds: the sliding window Telegram counts in.

    An event is a request: it is in flight from `start()` until `finish()` at its answer, and stays in the
    window until `length` after that."""

    def __init__(self, rate: float, period: float) -> None:
        # `rate` events per `period` seconds, e.g. 30/s -> 30 in 1 s; 20/min -> 20 in 60 s; 0.5/s -> 1 in 2 s
        self.count = max(1, math.floor(rate))
        self.length = self.count * period / rate + WINDOW_MARGIN
        self._finished: list[float] = []  # when the answers came, in order
        self._in_flight = 0

    def delay(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        del self._finished[: bisect.bisect_right(self._finished, now - self.length)]
        excess = len(self._finished) + self._in_flight - self.count
        if excess < 0:
            return 0.0
        if excess >= len(self._finished):
            # only requests still in flight would make room: look again soon (a chat sends one message at a
            # time; the global window meets this after a burst, until the burst's answers are back)
            return min(self.length, IN_FLIGHT_POLL)
        return self._finished[excess] + self.length - now

    def start(self) -> None:
        self._in_flight += 1

    def finish(self, now: float) -> None:
        self._in_flight -= 1
        bisect.insort(self._finished, now)  # at the end, unless the clock was set back

    def idle(self, now: float) -> bool:
        return not self._in_flight and (not self._finished or self._finished[-1] <= now - self.length)


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


class _GlobalBudget:
    """The bot-wide window (30/s), first come first served, except that replies go before scheduled mail."""

    def __init__(self, window: _Window, clock: Clock) -> None:
        self.window = window
        self._clock = clock
        self._lock = asyncio.Lock()
        self._replies_waiting = 0
        self._no_replies_waiting = asyncio.Event()
        self._no_replies_waiting.set()

    async def take(self, *, reply: bool) -> None:
        """Wait until one more send fits; count it as in flight (the caller finishes it at the answer)."""
        if reply:
            self._replies_waiting += 1
            self._no_replies_waiting.clear()
        else:
            while self._replies_waiting:
                await self._no_replies_waiting.wait()
        try:
            async with self._lock:
                while (wait := self.window.delay(self._clock.now().timestamp())) > 0:
                    await self._clock.sleep(wait)
                self.window.start()
        finally:
            if reply:
                self._replies_waiting -= 1
                if not self._replies_waiting:
                    self._no_replies_waiting.set()


class _SentLog:
    """Accepted messages recorded in batches: a group commit. While one transaction writes, the next batch
    gathers, so at a few messages a second each is written at once and at hundreds a second they share
    transactions. A process killed between Telegram's answer and the commit sends those again, and the ones in
    flight: so a send first `reserve`s a place, kept until its record is committed (or given back with
    `release` when Telegram did not take the message). At most `limit` are in flight or unrecorded together:
    when the database is slow (SQLite busy with another writer), sending waits for it instead of piling up
    messages that a crash would send twice."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, limit: int) -> None:
        self._sessions = sessions
        self._buffer: list[SentRecord] = []
        self._writing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._limit = limit
        self._unrecorded = 0
        self._room = asyncio.Event()
        self._room.set()

    async def reserve(self) -> None:
        while self._unrecorded >= self._limit:
            self._room.clear()
            await self._room.wait()
        self._unrecorded += 1

    def release(self) -> None:
        """The reserved send did not go out (or failed): its place is free again."""
        self._unrecorded -= 1
        self._room.set()

    def add(self, record: SentRecord) -> None:
        """A reserved send Telegram accepted: its place is kept until the record is committed."""
        self._buffer.append(record)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all(), name="outbox-sent-log")

    async def _write_all(self) -> None:
        while self._buffer:
            try:
                await self.flush()
            except SQLAlchemyError as exc:
                # a database hiccup (a deadlock with another transaction, a lost connection): keep the records
                # and try again shortly (they are in memory only); no traceback for what is retried
                reason = one_line(str(exc))[:200]
                logger.warning("outbox: recording sent messages failed (%s); retrying", reason)
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("outbox: recording sent messages failed; retrying")
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                async with self._sessions() as session, session.begin():
                    await OutboxRepo(session).record_sent(batch)
            except BaseException:
                self._buffer[:0] = batch
                raise
            self._unrecorded -= len(batch)
            self._room.set()

    async def close(self) -> None:
        """Write everything recorded so far (on stop, and at the end of a one-shot send)."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        await self.flush()


def lease_name(token: str) -> str:
    """The sender lease of one bot token (a hash: the token itself is a secret)."""
    return "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:24]


class OutboxSender:
    """Sends due outbox messages with a real `telegram.Bot` (built by the app with its base_url).

    Any number of processes may run one each: the one holding the bot's sender lease sends (Telegram's budgets
    are per bot), the others wait to take over. The holder claims rows in batches (`batch`), works each chat
    through in order, and records what was sent in batches.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bot: Bot,
        *,
        limits: SendLimits,
        clock: Clock,
        max_attempts: int = 8,
        concurrency: int = 8,
        holder: str | None = None,
        lease_seconds: float = 30.0,
        batch: int = 200,
        poll_interval: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._limits = limits
        self._clock = clock
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        # replies never wait for a slot behind scheduled mail
        self._reply_slots = asyncio.Semaphore(max(2, concurrency // 4))
        self._global = _GlobalBudget(_Window(limits.global_per_second, 1.0), clock)
        self._chats: dict[int, list[_Window]] = {}
        self._wake = asyncio.Event()
        self._nudge = asyncio.Event()  # wakes the claiming loop: more rows wanted, or something enqueued
        self._halt = False
        # what is in hand may be another process's now (the lease ran out unrenewed): end the round, drop it
        self._stale = False
        self.holder = holder or process_name()
        self._lease_name = lease_name(bot.token)
        self._lease_length = timedelta(seconds=lease_seconds)
        self._lease_until: datetime | None = None
        self._renew_at: datetime | None = None
        self._batch = batch
        self._poll_interval = poll_interval
        self._queues: dict[int, list[OutboxMessage]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._held = 0
        self._quiet_until: datetime | None = None  # no claim of more scheduled mail before this
        self._last_reply_check: datetime | None = None
        # in flight and accepted-but-unrecorded together: what a crash can send twice
        self._sent_log = _SentLog(sessions, limit=2 * concurrency)

    # --- the loop --------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was enqueued: look at the outbox now instead of after the idle wait."""
        self._wake.set()
        self._nudge.set()

    async def run(self, stop: asyncio.Event, idle: float | None = None) -> None:
        """Send due messages until `stop` is set, as long as this process holds the sender lease; without it,
        try to take it over every few seconds. Between rounds wait `idle` seconds (default: the poll interval)
        or until `wake()`.

        On stop, the chats being worked through finish the request in flight and stop; their other claimed
        messages, and the lease, are given back at once for another process. The idle wait is in real time.
        """
        idle = self._poll_interval if idle is None else idle
        retry = min(self._lease_length.total_seconds() / 3, 2.0)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                wait = idle
                try:
                    if await self._hold_lease():
                        sending = asyncio.ensure_future(self._send_round(SendReport()))
                        await asyncio.wait({sending, stopping}, return_when=asyncio.FIRST_COMPLETED)
                        if not sending.done():
                            self._halt = True
                        report = await sending
                        if report.total():
                            logger.debug("outbox: %s", report)
                    else:
                        wait = retry
                except Exception:
                    # a database outage or a bug: keep the sender alive, try again after the wait
                    logger.exception("outbox: sending round failed")
                finally:
                    self._halt = False
                if stop.is_set():
                    break
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({waking, stopping}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
        finally:
            stopping.cancel()
            await self._let_go()

    async def drain(self, *, patience: timedelta) -> SendReport:
        """Send what is due, then keep sending what becomes due within `patience` (messages Telegram
        asked us to hold back, retries); return what was done. Messages due later stay in the outbox
        for the running bot. Sends nothing when another process holds the sender lease (it sends them).
        """
        deadline = self._clock.now() + patience
        totals = SendReport()
        try:
            if not await self._hold_lease():
                return totals
            totals = await self._send_round(totals)
            while (next_at := await self.next_due_at()) is not None and next_at <= deadline:
                await self._clock.sleep(max(0.0, (next_at - self._clock.now()).total_seconds()))
                if not await self._hold_lease():
                    break
                totals = await self._send_round(totals)
        finally:
            await self._let_go()
        return totals

    async def send_due(self) -> SendReport:
        """Send every message that is due now, within the budgets; return when nothing more is due, giving
        the lease back. Messages deferred into the future (429, backoff) stay pending for a later call.
        Sends nothing when another process holds the sender lease."""
        report = SendReport()
        try:
            while await self._hold_lease():
                before = report.total()
                report = await self._send_round(report)
                if report.total() == before or not await self._claimable():
                    break
        finally:
            await self._let_go()
        return report

    async def _claimable(self) -> bool:
        async with self._sessions() as session:
            return await OutboxRepo(session).has_claimable(holder=self.holder, now=self._clock.now())

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message becomes due (None when nothing is pending)."""
        async with self._sessions() as session:
            return await OutboxRepo(session).next_due_at()

    async def await_digests(self, keys: Sequence[tuple[int, date]], *, patience: timedelta) -> dict[str, int]:
        """The delivery statuses of these digests (subscriber id, local date), once none is pending or
        `patience` has passed (another process may be sending them)."""
        deadline = self._clock.now() + patience
        while True:
            async with self._sessions() as session:
                statuses = await OutboxRepo(session).digest_statuses(keys)
            if not statuses.get("pending") or self._clock.now() >= deadline:
                return statuses
            await self._clock.sleep(0.5)

    async def lease_holder(self) -> str | None:
        """The process sending for this bot now (None when none is)."""
        async with self._sessions() as session:
            return await OutboxRepo(session).lease_holder(self._lease_name, now=self._clock.now())

    # --- the lease -------------------------------------------------------------------------------------

    async def _hold_lease(self) -> bool:
        """Take the sender lease, or renew it when a third of it has passed; False when another has it."""
        now = self._clock.now()
        if self._lease_until is not None and self._renew_at is not None and now < self._renew_at:
            return True
        until = now + self._lease_length
        lapsed = self._lease_until is not None and now >= self._lease_until
        async with self._sessions() as session, session.begin():
            repo = OutboxRepo(session)
            lease = await repo.take_lease(self._lease_name, holder=self.holder, now=now, until=until)
            if lease.held:
                await repo.extend_claims(holder=self.holder, until=until)
        if not lease.held:
            if self._lease_until is not None:
                logger.warning("outbox: %s took over sending for this bot; this one stops", lease.holder)
                self._halt = True
            self._lease_until = None
            return False
        if lapsed and self._held:
            # another process may have taken the lease and these claims meanwhile, and sent them
            logger.warning("outbox: the lease ran out before it was renewed; dropping the messages in hand")
            self._stale = True
        if self._lease_until is None:
            logger.info("outbox: this process (%s) sends for the bot", self.holder)
            if lease.previous_expiry is not None:
                # the previous sender's last second still counts at Telegram: let it pass before sending
                self._quiet_until = lease.previous_expiry + timedelta(seconds=1 + WINDOW_MARGIN)
        self._lease_until = until
        self._renew_at = now + self._lease_length / 3
        return True

    async def _let_go(self) -> None:
        """Give back the lease and every claimed row not sent (stop, one-shot end, lease lost)."""
        try:
            await self._sent_log.close()
            async with self._sessions() as session, session.begin():
                repo = OutboxRepo(session)
                await repo.release_claims(holder=self.holder)
                if self._lease_until is not None:
                    await repo.release_lease(self._lease_name, holder=self.holder, now=self._clock.now())
        except Exception:
            # the claims and the lease run out by themselves; another process takes over then
            logger.exception("outbox: giving back the lease and claims failed")
        finally:
            self._lease_until = None
            self._queues.clear()
            self._held = 0

    # --- claiming and working through chats ------------------------------------------------------------

    async def _send_round(self, report: SendReport) -> SendReport:
        """Claim and send until nothing is due (or halted): chats run side by side, each in order."""
        if self._quiet_until is not None:
            await self._clock.sleep(max(0.0, (self._quiet_until - self._clock.now()).total_seconds()))
            self._quiet_until = None
        try:
            while not self._halt and not self._stale:
                claimed = await self._claim_more(report)
                if not self._workers and not claimed:
                    break
                await self._wait_for_progress()
                if not await self._hold_lease():
                    break
        finally:
            if self._workers:
                await asyncio.gather(*self._workers.values(), return_exceptions=True)
            await self._sent_log.close()
            if self._stale or (self._held and not self._halt):
                if not self._stale:  # should not happen; if it does, nothing may stay stuck
                    logger.warning("outbox: %d claimed messages left unsent; giving them back", self._held)
                # stale: what is still in hand is read again from the table, where another may have sent it
                self._held = 0
                self._queues.clear()
                async with self._sessions() as session, session.begin():
                    await OutboxRepo(session).release_claims(holder=self.holder)
            self._stale = False
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

    async def _wait_for_progress(self) -> None:
        """Until more rows are wanted (few left in hand, or none), something is enqueued here, or the poll
        interval passed. (One event rather than waiting on every chat's task: at hundreds of messages a
        second that wait itself became a cost.)"""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), self._poll_interval)
        self._nudge.clear()

    async def _claim_more(self, report: SendReport) -> int:
        """Claim a batch when a quarter of one is left in hand; replies whenever some may be waiting."""
        now = self._clock.now()
        woken = self._wake.is_set()
        self._wake.clear()
        replies_due = (
            woken
            or self._last_reply_check is None
            or (now - self._last_reply_check).total_seconds() >= self._poll_interval
        )
        if self._held <= self._batch // 4:
            limit, max_priority = self._batch, SCHEDULED
            self._forget_idle_chats()  # the windows of chats not sent to lately: a running bot sees many
        elif replies_due:
            limit, max_priority = self._batch, REPLY
        else:
            return 0
        self._last_reply_check = now
        async with self._sessions() as session:
            if not self._workers and not await OutboxRepo(session).has_claimable(
                holder=self.holder, now=now, max_priority=max_priority
            ):
                return 0  # idle: a read, no write lock taken
        async with self._sessions() as session, session.begin():
            claimed = await OutboxRepo(session).claim(
                holder=self.holder,
                now=now,
                until=self._lease_until or now + self._lease_length,
                limit=limit,
                max_priority=max_priority,
            )
        for chat_id, rows in itertools.groupby(claimed, key=lambda m: m.chat_id):
            queue = self._queues.setdefault(chat_id, [])
            queue.extend(rows)
            queue.sort(key=chat_order)
        self._held += len(claimed)
        for chat_id in {m.chat_id for m in claimed}:
            if chat_id not in self._workers:
                self._workers[chat_id] = asyncio.create_task(self._work_chat(chat_id, report))
        return len(claimed)

    async def _work_chat(self, chat_id: int, report: SendReport) -> None:
        queue = self._queues[chat_id]
        try:
            while queue and not self._halt and not self._stale:
                message = queue[0]
                step = await self._attempt(message, report)
                if message.chat_id != chat_id:  # migrated: the rest follows in memory as it did in the table
                    for later in queue[1:]:
                        later.chat_id, later.chat_kind = message.chat_id, message.chat_kind
                if step is _Step.DONE:
                    queue.pop(0)
                    self._held -= 1
                elif step is _Step.STOP:
                    # the chat waits or is gone; its claims were given back with that outcome
                    self._held -= len(queue)
                    queue.clear()
        except Exception:
            logger.exception("outbox: chat %s failed; its messages are left for a later round", chat_id)
            self._held -= len(queue)
            queue.clear()
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).release_claims(holder=self.holder, chat_id=chat_id)
        finally:
            del self._workers[chat_id]
            if not queue:
                self._queues.pop(chat_id, None)
            if self._held <= self._batch // 4 or not self._workers:
                self._nudge.set()  # time to claim more, or to finish

    # --- one attempt -----------------------------------------------------------------------------------

    async def _attempt(self, message: OutboxMessage, report: SendReport) -> _Step:
        await self._wait_for_chat(message.chat_id, message.chat_kind)
        if self._halt:
            return _Step.STOP
        reply = message.priority == REPLY
        async with self._reply_slots if reply else self._slots:
            # within a slot, so scheduled mail holds at most `concurrency` places and a reply finds one
            await self._sent_log.reserve()
            accepted = False
            try:
                if self._fenced():  # checked after the waits for a slot and a place: they can be long
                    return _Step.STOP
                windows = await self._take_budget(message.chat_id, message.chat_kind, reply=reply)
                try:
                    sent_id = await self._send_counted(message, windows)
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
                except TelegramError as exc:  # NetworkError (5xx, connection), TimedOut, anything unexpected
                    return await self._failed(message, f"{type(exc).__name__}: {exc}", report)
                now = self._clock.now()
                self._sent_log.add(SentRecord(message.id, sent_id, now, message.delivery_id))
                accepted = True
                message.status, message.message_id, message.sent_at = "sent", sent_id, now
                report.sent += 1
                return _Step.DONE
            finally:
                if not accepted:  # Telegram did not take it: nothing to record, the place is free again
                    self._sent_log.release()

    def _fenced(self) -> bool:
        """Sending now could repeat what another process sends: the sender stops, or its lease is so near
        its end (a renewal a third of it overdue: a stall, a database that does not answer, a lock wait)
        that another process may take it, and these claims, before this request is answered."""
        if self._halt or self._stale or self._lease_until is None:
            return True
        if self._clock.now() < self._lease_until - self._lease_length / 3:
            return False
        logger.warning("outbox: the lease was not renewed in time; this round stops before sending more")
        self._stale = True
        return True

    async def _send_counted(self, message: OutboxMessage, windows: Sequence[_Window]) -> int:
        try:
            return await self._send(message)
        finally:  # answered, failed or cancelled: the request reached Telegram by now, if at all
            answered_at = self._timestamp()
            for window in windows:
                window.finish(answered_at)

    async def _send(self, message: OutboxMessage) -> int:
        parse_mode: str | None = ParseMode.HTML
        text = message.text
        limit = MessageLimit.CAPTION_LENGTH if message.photo_url else MessageLimit.MAX_TEXT_LENGTH
        if message.as_plain_text:
            text, parse_mode = _plain(message.text, limit=limit), None
        markup = (
            InlineKeyboardMarkup.de_json(json.loads(message.reply_markup), self._bot)
            if message.reply_markup
            else None
        )
        # a reply answers its command in a group; it still goes out when that message was deleted meanwhile
        answering = (
            ReplyParameters(message.reply_to, allow_sending_without_reply=True) if message.reply_to else None
        )
        if message.photo_url:
            sent = await self._bot.send_photo(
                message.chat_id,
                photo=message.photo_url,
                caption=text or None,
                parse_mode=parse_mode,
                reply_markup=markup,
                disable_notification=message.silent,
                reply_parameters=answering,
                message_thread_id=message.thread_id,
            )
        else:
            sent = await self._bot.send_message(
                message.chat_id,
                text,
                parse_mode=parse_mode,
                link_preview_options=_PREVIEW if message.link_preview else _NO_PREVIEW,
                reply_markup=markup,
                disable_notification=message.silent,
                reply_parameters=answering,
                message_thread_id=message.thread_id,
            )
        return sent.message_id

    # --- outcomes ----------------------------------------------------------------------------------------

    async def _rate_limited(self, message: OutboxMessage, retry_after: float) -> None:
        until = self._clock.now() + timedelta(seconds=retry_after)
        async with self._sessions() as session, session.begin():
            repo = OutboxRepo(session)
            await repo.defer_chat(message.chat_id, until)
            await repo.release_claims(holder=self.holder, chat_id=message.chat_id)

    async def _migrated(self, message: OutboxMessage, new_chat_id: int, report: SendReport) -> _Step:
        old_chat_id = message.chat_id
        if new_chat_id == old_chat_id or message.subscriber_id is None:
            return await self._failed(message, f"migrated to chat {new_chat_id}", report)
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
            repo = OutboxRepo(session)
            if message.subscriber_id is None:  # a reply to a chat without a record: only its mail goes
                dropped = await repo.drop_pending_for_chat(message.chat_id, reason)
            else:
                dropped = await repo.deactivate_subscriber(
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
        # first: "not enough rights to send photos" is a group without media for members, not a gone chat
        if message.photo_url and _matches(exc, _PHOTO_REFUSED):
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).drop_photo(message.id, error=error)
            message.photo_url = None
            report.photos_as_text += 1
            return _Step.AGAIN
        if _matches(exc, _CHAT_GONE):
            return await self._chat_gone(message, error, report)
        if message.thread_id is not None and _matches(exc, _TOPIC_GONE):
            # the topic a chat subscribed in was deleted or closed: General, from now on
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).leave_topic(message.chat_id, message.thread_id, error=error)
            message.thread_id = None
            return _Step.AGAIN
        if message.reply_markup and _matches(exc, _MARKUP_REFUSED):
            # the text can still go: resending the same buttons as plain text would fail the same way
            async with self._sessions() as session, session.begin():
                await OutboxRepo(session).drop_markup(message.id, error=error)
            message.reply_markup = None
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
            repo = OutboxRepo(session)
            await repo.record_failure(
                message.id, error=error, attempts=attempts, chat_id=message.chat_id, not_before=not_before
            )
            await repo.release_claims(holder=self.holder, chat_id=message.chat_id)
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

    async def _take_budget(self, chat_id: int, chat_kind: str, *, reply: bool) -> list[_Window]:
        """Wait for the global budget (replies first, then first come, first served), then count the send
        for the chat too; returns the windows it is in flight in, to be finished at its answer."""
        await self._global.take(reply=reply)
        windows = [self._global.window, *self._chat_windows(chat_id, chat_kind)]
        for window in windows[1:]:
            window.start()
        return windows

    def _forget_idle_chats(self) -> None:
        now = self._timestamp()
        busy = self._queues.keys()
        for chat_id in [c for c, ws in self._chats.items() if c not in busy and all(w.idle(now) for w in ws)]:
            del self._chats[chat_id]
