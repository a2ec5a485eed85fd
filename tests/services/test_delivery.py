"""The outbox sender against real databases, the real `telegram.Bot` and a local fake Telegram server.

Most tests move a fake clock (its sleep advances time at once); the pacing and loop tests use the real clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.services.delivery import OutboxSender, SendLimits, SendReport, SystemClock
from bot.telegram_request import AiohttpRequest
from db.engine import make_engine, make_sessionmaker
from db.models import Delivery, OutboxMessage, Subscriber, Subscription
from db.outbox import OutboxRepo
from tests.fakes.telegram_server import PHOTO_REFUSED, FakeTelegram
from tests.waiting import wait_until

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


class FakeClock:
    """Time that only moves when told to, or when slept on (instantly)."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_sender(
    sessions: Sessions, bot: Bot, clock: FakeClock | SystemClock, *, max_attempts: int = 8, **limits: float
) -> OutboxSender:
    return OutboxSender(sessions, bot, limits=SendLimits(**limits), clock=clock, max_attempts=max_attempts)


async def subscribe(sessions: Sessions, *chats: tuple[int, str]) -> list[Subscriber]:
    subscribers = [Subscriber(chat_id=chat_id, kind=kind, created_at=START) for chat_id, kind in chats]
    async with sessions() as session, session.begin():
        session.add_all(subscribers)
    return subscribers


async def enqueue(
    sessions: Sessions,
    subscriber: Subscriber,
    chunks: Sequence[str],
    *,
    now: datetime = START,
    photo_url: str | None = None,
    delivery: bool = True,
) -> int | None:
    """Queue the chunks (as one delivery, unless told otherwise); returns the delivery id."""
    async with sessions() as session, session.begin():
        delivery_id = None
        if delivery:
            row = Delivery(
                subscriber_id=subscriber.id,
                chat_id=subscriber.chat_id,
                kind="digest",
                status="pending",
                created_at=now,
            )
            session.add(row)
            await session.flush()
            delivery_id = row.id
        await OutboxRepo(session).enqueue(
            subscriber=subscriber, chunks=chunks, delivery_id=delivery_id, now=now, photo_url=photo_url
        )
    return delivery_id


async def outbox_rows(sessions: Sessions, subscriber_id: int | None = None) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if subscriber_id is not None:
            query = query.where(OutboxMessage.subscriber_id == subscriber_id)
        return list(await session.scalars(query))


async def get_delivery(sessions: Sessions, delivery_id: int | None) -> Delivery:
    async with sessions() as session:
        row = await session.get(Delivery, delivery_id)
        assert row is not None
        return row


async def get_subscriber(sessions: Sessions, subscriber_id: int) -> Subscriber:
    async with sessions() as session:
        row = await session.get(Subscriber, subscriber_id)
        assert row is not None
        return row


def texts(fake_telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [p.get("text") or p.get("caption") or "" for p in fake_telegram.sent(chat_id)]


# --- sending -------------------------------------------------------------------------------------------


async def test_parts_go_out_in_order_as_html_without_previews(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    alice, group = await subscribe(sessions, (101, "private"), (-202, "group"))
    first = await enqueue(sessions, alice, ["<b>1</b>", "2", "3"])
    second = await enqueue(sessions, alice, ["4"])
    group_delivery = await enqueue(sessions, group, ["g1", "g2"])

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=6)
    assert texts(fake_telegram, 101) == ["<b>1</b>", "2", "3", "4"]
    assert texts(fake_telegram, -202) == ["g1", "g2"]
    assert all(p["parse_mode"] == "HTML" for p in fake_telegram.sent())
    assert all(p["link_preview_options"] == {"is_disabled": True} for p in fake_telegram.sent())
    rows = await outbox_rows(sessions)
    assert {r.status for r in rows} == {"sent"}
    assert all(r.message_id is not None and r.sent_at is not None for r in rows)
    for delivery_id in (first, second, group_delivery):
        delivery = await get_delivery(sessions, delivery_id)
        first_part = next(r for r in rows if r.delivery_id == delivery_id and r.seq == 0)
        assert delivery.status == "sent"
        assert delivery.message_id == first_part.message_id
        assert delivery.sent_at is not None
    async with sessions() as session:
        assert await OutboxRepo(session).pending_count() == 0


async def test_private_chat_parts_are_paced_one_a_second(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ["1", "2", "3"])

    await make_sender(sessions, bot, clock).send_due()

    sent_at = [r.sent_at for r in await outbox_rows(sessions) if r.sent_at is not None]
    assert len(sent_at) == 3
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(sent_at))


async def test_photo_then_text_parts(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ["<i>caption</i>", "more"], photo_url="https://img.example.com/a.jpg")

    await make_sender(sessions, bot, clock).send_due()

    sent = fake_telegram.sent(101)
    assert [p["method"] for p in sent] == ["sendPhoto", "sendMessage"]
    assert sent[0]["photo"] == "https://img.example.com/a.jpg"
    assert sent[0]["caption"] == "<i>caption</i>"
    assert sent[0]["parse_mode"] == "HTML"


@pytest.mark.parametrize(
    "refusal",
    [
        PHOTO_REFUSED,
        # a group whose members may post text but not media: the chat is not gone, its digest goes as text
        "Bad Request: not enough rights to send photos to the chat",
    ],
)
async def test_refused_photo_goes_out_as_text(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock, refusal: str
) -> None:
    (alice,) = await subscribe(sessions, (-101, "supergroup"))
    delivery_id = await enqueue(
        sessions, alice, ["<b>caption</b>"], photo_url="https://img.example.com/a.jpg"
    )
    fake_telegram.refuse_photos(reason=refusal)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report.photos_as_text == 1
    assert report.sent == 1
    assert report.deactivated == 0
    assert [(p["method"], p["text"]) for p in fake_telegram.sent(-101)] == [("sendMessage", "<b>caption</b>")]
    (row,) = await outbox_rows(sessions)
    assert row.status == "sent"
    assert row.photo_url is None
    assert row.last_error is not None
    assert refusal.removeprefix("Bad Request: ").lower() in row.last_error.lower()
    assert (await get_delivery(sessions, delivery_id)).status == "sent"
    async with sessions() as session:
        assert (await session.get(Subscriber, alice.id)).active  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("block", "blocked by the user"),
        ("deactivate", "user is deactivated"),
        ("kick", "kicked from the group chat"),
        ("not_found", "chat not found"),
    ],
)
async def test_gone_chat_deactivates_and_drops(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock, fault: str, reason: str
) -> None:
    gone, other = await subscribe(sessions, (-303, "group"), (404, "private"))
    first = await enqueue(sessions, gone, ["a", "b"])
    second = await enqueue(sessions, gone, ["c"])
    await enqueue(sessions, other, ["hello"])
    getattr(fake_telegram, fault)(-303)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=1, dropped=3, deactivated=1)
    assert fake_telegram.sent(-303) == []
    assert texts(fake_telegram, 404) == ["hello"]
    assert len(fake_telegram.calls_to("sendMessage")) == 2  # one try for the gone chat, not one per message
    subscriber = await get_subscriber(sessions, gone.id)
    assert not subscriber.active
    assert subscriber.inactive_reason is not None
    assert reason in subscriber.inactive_reason.lower()
    assert {r.status for r in await outbox_rows(sessions, gone.id)} == {"dropped"}
    for delivery_id in (first, second):
        assert (await get_delivery(sessions, delivery_id)).status == "dropped"
    assert (await make_sender(sessions, bot, clock).send_due()) == SendReport()


async def test_rate_limited_chat_waits_alone(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    limited, b, c = await subscribe(sessions, (1, "private"), (2, "private"), (3, "group"))
    await enqueue(sessions, limited, ["L1", "L2"])
    await enqueue(sessions, b, ["B"])
    await enqueue(sessions, c, ["C"])
    fake_telegram.rate_limit(1, retry_after=30)
    sender = make_sender(sessions, bot, clock)

    report = await sender.send_due()

    assert report == SendReport(sent=2, rate_limited=1)
    assert fake_telegram.sent(1) == []
    rows = await outbox_rows(sessions, limited.id)
    assert [r.status for r in rows] == ["pending", "pending"]
    assert all(r.attempts == 0 for r in rows)  # a 429 is not the message's fault
    assert all(r.not_before >= START + timedelta(seconds=30) for r in rows)

    clock.advance(30)
    assert (await sender.send_due()).sent == 2
    order = [p["chat_id"] for p in fake_telegram.sent()]
    assert order.index(1) > order.index(2)
    assert order.index(1) > order.index(3)
    assert texts(fake_telegram, 1) == ["L1", "L2"]
    assert fake_telegram.scripted_429s == 1


async def test_server_errors_back_off_then_succeed(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ["1", "2"])
    fake_telegram.fail(101, status=502, times=2)
    sender = make_sender(sessions, bot, clock)

    report = await sender.send_due()
    assert report == SendReport(retried=1)
    assert str(report) == "retried 1"
    assert str(SendReport()) == "nothing sent"
    assert await sender.next_due_at() == clock.now() + timedelta(seconds=2)
    first, second = await outbox_rows(sessions)
    assert first.attempts == 1
    assert first.last_error is not None
    assert "bad gateway" in first.last_error.lower()
    assert first.not_before == second.not_before  # part 2 waits with part 1
    assert first.not_before - clock.now() == timedelta(seconds=2)

    clock.advance(2)
    assert await sender.send_due() == SendReport(retried=1)
    first, _ = await outbox_rows(sessions)
    assert first.attempts == 2
    assert first.not_before - clock.now() == timedelta(seconds=4)

    clock.advance(4)
    assert await sender.send_due() == SendReport(sent=2)
    assert texts(fake_telegram, 101) == ["1", "2"]


async def test_dead_after_max_attempts_and_the_chat_goes_on(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    delivery_id = await enqueue(sessions, alice, ["1", "2"])
    fake_telegram.fail(101, status=500, times=3)
    sender = make_sender(sessions, bot, clock, max_attempts=3)

    reports = []
    for _ in range(4):
        reports.append(await sender.send_due())
        clock.advance(300)

    assert [r.retried for r in reports] == [1, 1, 0, 0]
    assert reports[2] == SendReport(dead=1, sent=1)
    first, second = await outbox_rows(sessions)
    assert first.status == "dead"
    assert first.attempts == 3
    assert first.last_error is not None
    assert "internal server error" in first.last_error.lower()
    assert second.status == "sent"
    assert texts(fake_telegram, 101) == ["2"]
    delivery = await get_delivery(sessions, delivery_id)
    assert delivery.status == "failed"
    assert delivery.last_error == first.last_error
    async with sessions() as session:
        repo = OutboxRepo(session)
        assert await repo.dead_count() == 1
        assert await repo.pending_count() == 0
        assert [m.id for m in await repo.dead()] == [first.id]


async def test_timeout_is_retried(sessions: Sessions, fake_telegram: FakeTelegram, clock: FakeClock) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ["1"])
    fake_telegram.stall(101, seconds=1.0)
    impatient = Bot(
        fake_telegram.token, base_url=fake_telegram.base_url, request=AiohttpRequest(timeout=0.2)
    )
    await impatient.initialize()
    try:
        sender = make_sender(sessions, impatient, clock)
        assert await sender.send_due() == SendReport(retried=1)
        (row,) = await outbox_rows(sessions)
        assert row.status == "pending"
        assert row.attempts == 1
        assert row.last_error is not None
        assert row.last_error.startswith("TimedOut")
        clock.advance(2)
        assert (await sender.send_due()).sent == 1
    finally:
        await impatient.shutdown()


async def test_migrated_group_follows_to_the_supergroup(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (group,) = await subscribe(sessions, (-505, "group"))
    delivery_id = await enqueue(sessions, group, ["1", "2"])
    fake_telegram.migrate(-505, -1000505)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=2, migrated=1)
    assert texts(fake_telegram, -1000505) == ["1", "2"]
    subscriber = await get_subscriber(sessions, group.id)
    assert (subscriber.chat_id, subscriber.kind, subscriber.active) == (-1000505, "supergroup", True)
    rows = await outbox_rows(sessions)
    assert {(r.chat_id, r.chat_kind, r.status) for r in rows} == {(-1000505, "supergroup", "sent")}
    delivery = await get_delivery(sessions, delivery_id)
    assert (delivery.status, delivery.chat_id) == ("sent", -1000505)


async def test_migrated_into_a_subscribed_supergroup(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    old, new = await subscribe(sessions, (-505, "group"), (-1000505, "supergroup"))
    async with sessions() as session, session.begin():
        (await session.get(Subscriber, new.id)).wants_digest = True  # type: ignore[union-attr]
    await enqueue(sessions, old, ["old"])
    await enqueue(sessions, new, ["new"])
    fake_telegram.migrate(-505, -1000505)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=1, migrated=1, deactivated=1, dropped=1)
    assert texts(fake_telegram, -1000505) == ["new"]
    subscriber = await get_subscriber(sessions, old.id)
    assert not subscriber.active
    assert subscriber.chat_id == -505
    assert [r.status for r in await outbox_rows(sessions, old.id)] == ["dropped"]


async def test_migrated_into_a_supergroup_where_a_command_made_a_blank_record(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """After the upgrade a member's /mysubs in the supergroup made a record with nothing chosen; the group's
    real subscription (topics, time zone, digest) once gave way to it and was deactivated."""
    old, blank = await subscribe(sessions, (-505, "group"), (-1000505, "supergroup"))
    async with sessions() as session, session.begin():
        group = await session.get(Subscriber, old.id)
        assert group is not None
        group.wants_digest, group.timezone = True, "Europe/Berlin"
        session.add(Subscription(subscriber_id=old.id, kind="topic", value="芯片", created_at=START))
    await enqueue(sessions, old, ["digest"])
    await enqueue(sessions, blank, ["the answer to /mysubs"], delivery=False)
    fake_telegram.migrate(-505, -1000505)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=2, migrated=1)
    assert sorted(texts(fake_telegram, -1000505)) == ["digest", "the answer to /mysubs"]
    moved = await get_subscriber(sessions, old.id)
    assert (moved.chat_id, moved.active, moved.wants_digest, moved.timezone) == (
        -1000505, True, True, "Europe/Berlin"
    )
    async with sessions() as session:
        assert await session.get(Subscriber, blank.id) is None
        topics = await session.scalars(select(Subscription.value).where(Subscription.subscriber_id == old.id))
        assert list(topics) == ["芯片"]
    assert {r.subscriber_id for r in await outbox_rows(sessions)} == {old.id}


async def test_buttons_telegram_refuses_are_dropped_and_the_text_goes(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """An item's "Open" button with a URL Telegram will not take (BUTTON_URL_INVALID): the plain-text retry
    once sent the same buttons, failed the same way, and the reader got nothing."""
    markup = '{"inline_keyboard": [[{"text": "Open", "url": "http://intranet/a"}]]}'
    async with sessions() as session, session.begin():
        await OutboxRepo(session).enqueue_reply(
            chat_id=101, chat_kind="private", chunks=["<b>one</b> item"], reply_markup=markup, now=START
        )
    fake_telegram.refuse_button_urls()

    report = await make_sender(sessions, bot, clock).send_due()

    assert (report.sent, report.dead) == (1, 0)
    (sent,) = fake_telegram.sent(101)
    assert sent["text"] == "<b>one</b> item"
    assert "reply_markup" not in sent
    (row,) = await outbox_rows(sessions)
    assert (row.status, row.reply_markup) == ("sent", None)
    assert row.last_error is not None
    assert "button_url_invalid" in row.last_error.lower()


async def test_rejected_markup_is_resent_as_plain_text(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ['<b>bold <a href="https://e.com/x">link</a> &amp; more'])

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(sent=1, plain_text_resends=1)
    (resent,) = fake_telegram.sent(101)
    assert "parse_mode" not in resent
    assert resent["text"] == "bold link (https://e.com/x) & more"
    (row,) = await outbox_rows(sessions)
    assert row.status == "sent"
    assert row.as_plain_text
    assert row.last_error is not None
    assert "can't parse entities" in row.last_error.lower()


async def test_rejected_twice_is_dead(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    delivery_id = await enqueue(sessions, alice, ["<b>fine</b>"])
    fake_telegram.reject_parse(101, times=2)

    report = await make_sender(sessions, bot, clock).send_due()

    assert report == SendReport(dead=1, plain_text_resends=1)
    (row,) = await outbox_rows(sessions)
    assert row.status == "dead"
    assert row.as_plain_text
    assert (await get_delivery(sessions, delivery_id)).status == "failed"


async def test_outbox_survives_a_restart(
    database_url: str, sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    alice, bob = await subscribe(sessions, (101, "private"), (102, "private"))
    await enqueue(sessions, alice, ["a1", "a2"])
    await enqueue(sessions, bob, ["b1"])
    fake_telegram.fail(101)
    assert await make_sender(sessions, bot, clock).send_due() == SendReport(sent=1, retried=1)

    # a new process: its own engine, bot and sender over the same database
    engine = make_engine(database_url)
    fresh_bot = Bot(fake_telegram.token, base_url=fake_telegram.base_url)
    await fresh_bot.initialize()
    try:
        clock.advance(60)
        report = await make_sender(make_sessionmaker(engine), fresh_bot, clock).send_due()
    finally:
        await fresh_bot.shutdown()
        await engine.dispose()

    assert report == SendReport(sent=2)
    assert texts(fake_telegram, 101) == ["a1", "a2"]
    assert texts(fake_telegram, 102) == ["b1"]


async def test_a_thousand_subscribers(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    chats = [(n, "private") for n in range(1, 701)] + [(-n, "group") for n in range(1, 301)]
    subscribers = await subscribe(sessions, *chats)
    async with sessions() as session, session.begin():
        repo = OutboxRepo(session)
        for s in subscribers:
            await repo.enqueue(subscriber=s, chunks=[f"news for {s.chat_id}"], delivery_id=None, now=START)
    blocked = {chat_id for i, (chat_id, _) in enumerate(chats) if i % 50 == 7}
    limited = {chat_id for i, (chat_id, _) in enumerate(chats) if i % 37 == 3} - blocked
    failing = {chat_id for i, (chat_id, _) in enumerate(chats) if i % 41 == 5} - blocked
    for chat_id in blocked:
        fake_telegram.block(chat_id)
    for chat_id in limited:
        fake_telegram.rate_limit(chat_id, retry_after=1 + chat_id % 3)
    for chat_id in failing:
        fake_telegram.fail(chat_id)

    # the real budgets (30/s, 1/s per chat, 20/min per group) on a clock that runs as fast as it is slept on
    sender = make_sender(sessions, bot, clock)
    totals = await sender.send_due()
    while (next_at := await sender.next_due_at()) is not None:
        clock.advance(max(0.0, (next_at - clock.now()).total_seconds()))
        totals = totals + await sender.send_due()

    active = [chat_id for chat_id, _ in chats if chat_id not in blocked]
    assert all(len(fake_telegram.sent(chat_id)) == 1 for chat_id in active)
    assert all(fake_telegram.sent(chat_id) == [] for chat_id in blocked)
    assert totals.sent == len(active) == len(fake_telegram.sent())
    assert totals.deactivated == totals.dropped == len(blocked)
    assert totals.rate_limited == len(limited)
    assert totals.retried == len(failing - limited) + len(failing & limited)
    rows = await outbox_rows(sessions)
    by_chat = {r.chat_id: r.status for r in rows}
    assert all(by_chat[c] == "dropped" for c in blocked)
    assert all(by_chat[c] == "sent" for c in active)
    async with sessions() as session:
        inactive = set(await session.scalars(select(Subscriber.chat_id).where(Subscriber.active.is_(False))))
    assert inactive == blocked


async def test_real_budgets_cause_no_429s(sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot) -> None:
    """Telegram's limits, enforced by the fake on its own clock: the sender's pacing stays within them."""
    fake_telegram.enforce_limits(global_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    subscribers = await subscribe(
        sessions, *[(n, "private") for n in range(1, 41)], (-1, "group"), (-2, "supergroup")
    )
    now = datetime.now(UTC)
    for s in subscribers:
        await enqueue(sessions, s, ["one", "two"] if s.chat_id in (1, -1) else ["only"], now=now)

    report = await make_sender(sessions, bot, SystemClock()).send_due()

    assert fake_telegram.total_429s == 0
    assert report == SendReport(sent=44)


async def test_a_request_late_to_arrive_holds_its_chat_s_next_one_back(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    """Telegram counts arrivals; a request that reaches it late (slow network, busy machine) must not make the
    chat's next one arrive within a second of it: the next one waits for the answer, not for the departure."""
    fake_telegram.enforce_limits(global_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    fake_telegram.stall(1, 0.4)  # the first part reaches the server's limit check 0.4 s after it left
    [subscriber] = await subscribe(sessions, (1, "private"))
    await enqueue(sessions, subscriber, ["one", "two"], now=datetime.now(UTC))

    report = await make_sender(sessions, bot, SystemClock()).send_due()

    assert fake_telegram.total_429s == 0
    assert report == SendReport(sent=2)


async def test_requests_late_to_arrive_hold_the_global_window_back(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    """Sixteen requests in flight arrive together, late: the thirty-first send waits a second from their
    answers, so no thirty-one arrivals ever fall within one second at the server."""
    fake_telegram.enforce_limits(global_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    subscribers = await subscribe(sessions, *[(n, "private") for n in range(1, 32)])
    for chat_id in range(1, 17):
        fake_telegram.stall(chat_id, 0.4)
    now = datetime.now(UTC)
    for s in subscribers:
        await enqueue(sessions, s, ["only"], now=now)

    sender = OutboxSender(sessions, bot, limits=SendLimits(), clock=SystemClock(), concurrency=16)
    report = await sender.send_due()

    assert fake_telegram.total_429s == 0
    assert report == SendReport(sent=31)


async def test_run_sends_what_is_enqueued_until_stopped(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    (alice,) = await subscribe(sessions, (101, "private"))
    sender = make_sender(sessions, bot, SystemClock())
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop, idle=30))
    try:
        await enqueue(sessions, alice, ["hello"], now=datetime.now(UTC))
        sender.wake()
        for _ in range(100):
            if fake_telegram.sent(101):
                break
            await asyncio.sleep(0.02)
        assert texts(fake_telegram, 101) == ["hello"]
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)


async def test_a_reply_goes_ahead_of_a_digest_run(
    sessions: Sessions, fake_telegram: FakeTelegram, bot: Bot
) -> None:
    """300 digests at Telegram's 30/s take ten seconds; a reply queued after the first of them does not wait
    for them (it is claimed at once and paced first), and nothing meets a 429."""
    fake_telegram.enforce_limits()
    subscribers = await subscribe(sessions, *[(n, "private") for n in range(1, 301)])
    now = datetime.now(UTC)
    for subscriber in subscribers:
        await enqueue(sessions, subscriber, [f"digest {subscriber.chat_id}"], now=now)
    sender = make_sender(sessions, bot, SystemClock())
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        for _ in range(1000):
            if len(fake_telegram.sent()) >= 20:
                break
            await asyncio.sleep(0.02)
        async with sessions() as session, session.begin():
            await OutboxRepo(session).enqueue_reply(
                chat_id=9999, chat_kind="private", chunks=["reply"], reply_markup=None, now=datetime.now(UTC)
            )
        sender.wake()
        for _ in range(1000):
            if fake_telegram.sent(9999):
                break
            await asyncio.sleep(0.02)
        digests_before_reply = len(fake_telegram.sent()) - 1
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    # the 150 claimed before it (and those of the next batch) would otherwise go first
    assert digests_before_reply < 60, digests_before_reply
    assert fake_telegram.total_429s == 0


# --- the repository ----------------------------------------------------------------------------------------


async def test_repo_due_drop_and_retarget(sessions: Sessions) -> None:
    alice, group = await subscribe(sessions, (101, "private"), (-7, "group"))
    later = START + timedelta(minutes=5)
    await enqueue(sessions, group, ["g"], now=later, delivery=False)
    await enqueue(sessions, alice, ["a1", "a2"], delivery=False)
    async with sessions() as session, session.begin():
        repo = OutboxRepo(session)
        assert [m.text for m in await repo.due(START, limit=10)] == ["a1", "a2"]
        assert [m.text for m in await repo.due(later, limit=10)] == ["a1", "a2", "g"]
        assert await repo.next_due_at() == START
        assert await repo.retarget(group.id, -1007) == 1
        assert await repo.drop_pending_for(alice.id, "test") == 2
        assert await repo.pending_count() == 1
    rows = await outbox_rows(sessions)
    assert [(r.chat_id, r.status) for r in rows] == [(-1007, "pending"), (101, "dropped"), (101, "dropped")]


# --- several senders: a lease that ran out --------------------------------------------------------------


async def test_a_sender_whose_lease_ran_out_while_stalled_sends_nothing_another_took_over(
    sessions: Sessions, other_process: Sessions, fake_telegram: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """Sender A's request hangs (a stalled VM, a slow network) past its lease; B takes the lease and the
    claims and sends the chat's messages. A once went on from its memory and sent the rest a second time."""
    (alice,) = await subscribe(sessions, (101, "private"))
    await enqueue(sessions, alice, ["m0", "m1", "m2"])
    fake_telegram.stall(101, 1.0)  # A's request for m0 is answered a second late
    # A looks at its lease again only after 2 s: its chat's worker goes on meanwhile
    a = OutboxSender(
        sessions, bot, limits=SendLimits(), clock=clock, holder="A", lease_seconds=30, poll_interval=2.0
    )
    b = OutboxSender(other_process, bot, limits=SendLimits(), clock=clock, holder="B", lease_seconds=30)
    sending = asyncio.create_task(a.send_due())
    await wait_until(lambda: fake_telegram.calls_to("sendMessage"), "A's request for m0", 10, poll=0.01)
    clock.advance(31)  # meanwhile A's lease and its claims ran out

    by_b = await b.send_due()
    by_a = await sending

    assert by_b.sent == 3
    sent = texts(fake_telegram, 101)
    # m0 was in flight at A when B took over: Telegram may well have it twice; nothing else may be
    assert (sent.count("m1"), sent.count("m2")) == (1, 1)
    assert by_a.sent <= 1
    assert {r.status for r in await outbox_rows(sessions)} == {"sent"}
