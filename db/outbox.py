"""The outbox: queries over scheduled messages (`OutboxMessage`) and the deliveries they belong to.

`OutboxRepo` takes a session owned by the caller; it never opens, commits or closes one. It does not talk to
Telegram: `bot.services.delivery.OutboxSender` does, and records what happened through these methods.

Message states: "pending" until Telegram accepted it ("sent"), its chat is gone ("dropped"), or the last
allowed attempt failed ("dead", kept with `last_error`). Within one chat, messages go out in `chat_order`:
replies first, then the order they were enqueued (the parts of a delivery by `seq`).

Several processes share one outbox. A sender `claim`s due rows before sending them: the claim names the
process and lasts until `claim_until`, so no other process takes the rows while it holds them, and the rows
of a process that died are claimed again once the claim has run out. A chat whose rows another process holds
is left alone until those are settled, so a chat's messages keep their order across a takeover. Which
process sends at all is decided by the sender lease (`take_lease`): Telegram's flood limits are per bot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Delivery, OutboxMessage, SenderLease, Subscriber, Subscription

# OutboxMessage.priority: lower goes first
REPLY = 0  # a reply to someone waiting for it
SCHEDULED = 1  # digests, channel posts

PENDING = "pending"
SENT = "sent"
DROPPED = "dropped"
DEAD = "dead"
# Delivery.status once its last part left the outbox
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"
DELIVERY_DROPPED = "dropped"


def chat_order(message: OutboxMessage) -> tuple[int, datetime, int, int, int]:
    """The order of one chat's messages: replies first, then enqueue time, delivery, part, id."""
    return (message.priority, message.created_at, message.delivery_id or 0, message.seq, message.id)


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message Telegram accepted, to be recorded with others in one transaction."""

    outbox_id: int
    telegram_message_id: int
    sent_at: datetime
    delivery_id: int | None


@dataclass(frozen=True, slots=True)
class Lease:
    """The outcome of `take_lease`: whether this process holds it, and when the previous holding ran out."""

    held: bool
    holder: str | None
    previous_expiry: datetime | None


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate_subscriber` did: retargeted to the new chat, or deactivated (the new chat is taken)."""

    subscriber_id: int
    retargeted: int
    dropped: int
    deactivated: bool


class OutboxRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- enqueue and read ------------------------------------------------------------------------------

    async def enqueue(
        self,
        *,
        subscriber: Subscriber,
        chunks: Sequence[str],
        delivery_id: int | None,
        now: datetime,
        photo_url: str | None = None,
    ) -> list[OutboxMessage]:
        """Queue `chunks` (Telegram HTML) for the subscriber's chat as parts seq 0..n-1, due at `now`.

        With `photo_url` the first part goes out as that photo with the chunk as its caption; the caller keeps
        that chunk within the caption limit (1024).
        """
        return await self._add(
            chunks,
            delivery_id=delivery_id,
            subscriber_id=subscriber.id,
            chat_id=subscriber.chat_id,
            chat_kind=subscriber.kind,
            priority=SCHEDULED,
            now=now,
            photo_url=photo_url,
            thread_id=subscriber.thread_id,
        )

    async def enqueue_reply(
        self,
        *,
        chat_id: int,
        chat_kind: str,
        chunks: Sequence[str],
        reply_markup: str | None,
        now: datetime,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> list[OutboxMessage]:
        """Queue a reply to a chat, ahead of everything scheduled; `reply_markup` (Bot API JSON) goes with
        the last part, and the first answers message `reply_to` when given (a command in a group); all go
        to forum topic `thread_id` when given (the command's)."""
        subscriber_id = await self._session.scalar(select(Subscriber.id).where(Subscriber.chat_id == chat_id))
        return await self._add(
            chunks,
            delivery_id=None,
            subscriber_id=subscriber_id,
            chat_id=chat_id,
            chat_kind=chat_kind,
            priority=REPLY,
            now=now,
            reply_markup=reply_markup,
            reply_to=reply_to,
            thread_id=thread_id,
        )

    async def _add(
        self,
        chunks: Sequence[str],
        *,
        delivery_id: int | None,
        subscriber_id: int | None,
        chat_id: int,
        chat_kind: str,
        priority: int,
        now: datetime,
        photo_url: str | None = None,
        reply_markup: str | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> list[OutboxMessage]:
        """The parts seq 0..n-1, due at `now`, all to forum topic `thread_id` (None: the chat itself): the
        photo and the message answered go with the first, the keyboard with the last."""
        last = len(chunks) - 1
        messages = [
            OutboxMessage(
                delivery_id=delivery_id,
                subscriber_id=subscriber_id,
                chat_id=chat_id,
                chat_kind=chat_kind,
                priority=priority,
                seq=seq,
                text=text,
                photo_url=photo_url if seq == 0 else None,
                reply_markup=reply_markup if seq == last else None,
                reply_to=reply_to if seq == 0 else None,
                thread_id=thread_id,
                status=PENDING,
                attempts=0,
                not_before=now,
                as_plain_text=False,
                created_at=now,
            )
            for seq, text in enumerate(chunks)
        ]
        self._session.add_all(messages)
        await self._session.flush()
        return messages

    # --- claims ----------------------------------------------------------------------------------------

    def _claimable(self, holder: str, now: datetime) -> list[ColumnElement[bool]]:
        other = aliased(OutboxMessage)
        held_elsewhere = exists().where(
            other.chat_id == OutboxMessage.chat_id,
            other.status == PENDING,
            other.claimed_by.is_not(None),
            other.claimed_by != holder,
            other.claim_until >= now,
        )
        return [
            OutboxMessage.status == PENDING,
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claim_until < now),
            ~held_elsewhere,
        ]

    async def has_claimable(self, *, holder: str, now: datetime, max_priority: int = SCHEDULED) -> bool:
        """Whether `claim` would find anything (a read: cheap to ask often, takes no write lock)."""
        found = await self._session.scalar(
            select(OutboxMessage.id)
            .where(*self._claimable(holder, now), OutboxMessage.priority <= max_priority)
            .limit(1)
        )
        return found is not None

    async def claim(
        self, *, holder: str, now: datetime, until: datetime, limit: int, max_priority: int = SCHEDULED
    ) -> list[OutboxMessage]:
        """Claim up to `limit` due, unclaimed rows for `holder` until `until`: replies first, then oldest due.

        One statement, so one write transaction on SQLite; on PostgreSQL the candidates are locked with SKIP
        LOCKED, so concurrent claimers take different rows instead of waiting for each other.
        Returns the claimed rows sorted by chat and `chat_order`.
        """
        candidates = (
            select(OutboxMessage.id)
            .where(*self._claimable(holder, now), OutboxMessage.priority <= max_priority)
            .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        if self._session.bind.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=OutboxMessage)
        result = await self._session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(candidates.scalar_subquery()))
            .values(claimed_by=holder, claim_until=until)
            .returning(OutboxMessage),
            execution_options={"synchronize_session": False},
        )
        return sorted(result, key=lambda m: (m.chat_id, chat_order(m)))

    async def extend_claims(self, *, holder: str, until: datetime) -> int:
        """Keep holding every pending row `holder` has claimed (called as the sender renews its lease)."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == holder, OutboxMessage.status == PENDING)
            .values(claim_until=until)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def release_claims(self, *, holder: str, chat_id: int | None = None) -> int:
        """Give back `holder`'s pending rows (of one chat, or all), for any sender to claim again."""
        condition = [OutboxMessage.claimed_by == holder, OutboxMessage.status == PENDING]
        if chat_id is not None:
            condition.append(OutboxMessage.chat_id == chat_id)
        result = await self._session.execute(
            update(OutboxMessage).where(*condition).values(claimed_by=None, claim_until=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- the sender lease ------------------------------------------------------------------------------

    async def take_lease(self, name: str, *, holder: str, now: datetime, until: datetime) -> Lease:
        """Take or renew the lease `name` for `holder` until `until`; it is taken only when free or run out.

        One upsert statement, so two processes asking at once cannot both get it.
        """
        previous = await self._session.scalar(select(SenderLease.expires_at).where(SenderLease.name == name))
        insert = postgresql.insert if self._session.bind.dialect.name == "postgresql" else sqlite.insert
        upsert = insert(SenderLease).values(name=name, holder=holder, expires_at=until)
        got = await self._session.scalar(
            upsert.on_conflict_do_update(
                index_elements=[SenderLease.name],
                set_={"holder": holder, "expires_at": until},
                where=or_(SenderLease.holder == holder, SenderLease.expires_at < now),
            ).returning(SenderLease.holder)
        )
        if got == holder:
            return Lease(held=True, holder=holder, previous_expiry=previous)
        current = await self._session.scalar(select(SenderLease.holder).where(SenderLease.name == name))
        return Lease(held=False, holder=current, previous_expiry=previous)

    async def release_lease(self, name: str, *, holder: str, now: datetime) -> None:
        """Give the lease up now (the expiry marks when this holder last sent, for the next one's pacing)."""
        await self._session.execute(
            update(SenderLease)
            .where(SenderLease.name == name, SenderLease.holder == holder)
            .values(expires_at=now)
        )

    async def lease_holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease now (None when nobody does)."""
        row = (
            await self._session.execute(
                select(SenderLease.holder, SenderLease.expires_at).where(SenderLease.name == name)
            )
        ).first()
        if row is None or row.expires_at < now:
            return None
        return str(row.holder)

    async def due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first (served by ix_outbox_status_not_before)."""
        result = await self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        return list(result)

    async def pending_for_chats(self, chat_ids: Iterable[int]) -> list[OutboxMessage]:
        """Every pending message of these chats, due or not, in `chat_order` per chat."""
        ids = sorted(set(chat_ids))
        if not ids:
            return []
        result = await self._session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == PENDING, OutboxMessage.chat_id.in_(ids))
        )
        return sorted(result, key=lambda m: (m.chat_id, chat_order(m)))

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message becomes due; None when nothing is pending."""
        earliest: datetime | None = await self._session.scalar(
            select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == PENDING)
        )
        return earliest

    async def digest_statuses(self, keys: Sequence[tuple[int, date]]) -> dict[str, int]:
        """How many of these digests (subscriber id, local date) are in each delivery status."""
        counts: dict[str, int] = {}
        for start in range(0, len(keys), 500):  # bound the statement's parameters
            chunk = list(keys[start : start + 500])
            result = await self._session.execute(
                select(Delivery.status, func.count())
                .where(
                    Delivery.kind == "digest",
                    tuple_(Delivery.subscriber_id, Delivery.digest_date).in_(chunk),
                )
                .group_by(Delivery.status)
            )
            for status, count in result.tuples():
                counts[status] = counts.get(status, 0) + int(count)
        return counts

    async def pending_count(self) -> int:
        return await self._count(PENDING)

    async def dead_count(self) -> int:
        return await self._count(DEAD)

    async def _count(self, status: str) -> int:
        count = await self._session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status)
        )
        return int(count or 0)

    async def dead(self, limit: int = 100) -> list[OutboxMessage]:
        """Dead letters, newest first, for an operator to look at."""
        result = await self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == DEAD)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return list(result)

    # --- state changes ---------------------------------------------------------------------------------

    async def record_sent(self, records: Sequence[SentRecord]) -> None:
        """Many accepted messages at once (one executemany), and the deliveries they complete settled."""
        if not records:
            return
        await self._session.execute(
            update(OutboxMessage),
            [
                {
                    "id": r.outbox_id,
                    "status": SENT,
                    "message_id": r.telegram_message_id,
                    "sent_at": r.sent_at,
                    "claimed_by": None,
                    "claim_until": None,
                }
                for r in records
            ],
        )
        deliveries = sorted({r.delivery_id for r in records if r.delivery_id is not None})
        if deliveries:
            await self.settle_deliveries(deliveries, now=max(r.sent_at for r in records))

    async def mark_sent(self, message_id: int, *, telegram_message_id: int, now: datetime) -> None:
        """Telegram accepted the message. Recorded even if it was dropped meanwhile: it did go out."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=SENT, message_id=telegram_message_id, sent_at=now)
        )

    async def mark_dead(self, message_id: int, *, error: str, attempts: int | None = None) -> None:
        values: dict[str, object] = {"status": DEAD, "last_error": error}
        if attempts is not None:
            values["attempts"] = attempts
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
            .values(**values)
        )

    async def record_failure(
        self, message_id: int, *, error: str, attempts: int, chat_id: int, not_before: datetime
    ) -> None:
        """A failed attempt, retried at `not_before`; the chat's later messages wait too, keeping order."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
            .values(attempts=attempts, last_error=error)
        )
        await self.defer_chat(chat_id, not_before)

    async def defer_chat(self, chat_id: int, not_before: datetime) -> int:
        """Hold every pending message of the chat until `not_before` (never moving one earlier)."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == PENDING,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.not_before < not_before,
            )
            .values(not_before=not_before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def send_as_plain_text(self, message_id: int, *, error: str) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(as_plain_text=True, last_error=error)
        )

    async def drop_markup(self, message_id: int, *, error: str) -> None:
        """Telegram refused the buttons (a URL it will not take): the message goes out without them."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(reply_markup=None, last_error=error)
        )

    async def leave_topic(self, chat_id: int, thread_id: int, *, error: str) -> None:
        """Telegram no longer takes messages in the chat's forum topic `thread_id` (deleted, closed): its
        waiting messages, and the chat's digests from now on, go to the chat itself (General) instead."""
        await self._session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.thread_id == thread_id,
                OutboxMessage.status == PENDING,
            )
            .values(thread_id=None, last_error=error)
        )
        await self._session.execute(
            update(Subscriber)
            .where(Subscriber.chat_id == chat_id, Subscriber.thread_id == thread_id)
            .values(thread_id=None)
        )

    async def drop_photo(self, message_id: int, *, error: str) -> None:
        """Telegram refused the photo: the message goes out as text (its caption) instead."""
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(photo_url=None, last_error=error)
        )

    async def drop_pending_for(self, subscriber_id: int, reason: str) -> int:
        """Drop the subscriber's pending messages (the reason goes to last_error); returns how many."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.subscriber_id == subscriber_id, OutboxMessage.status == PENDING)
            .values(status=DROPPED, last_error=reason)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drop_pending_for_chat(self, chat_id: int, reason: str) -> int:
        """Drop every pending message to the chat (for replies to a chat without a subscriber record)."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING)
            .values(status=DROPPED, last_error=reason)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def retarget(self, subscriber_id: int, new_chat_id: int, chat_kind: str = "supergroup") -> int:
        """Point the subscriber's pending messages at its new chat (a group upgraded to a supergroup)."""
        result = await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.subscriber_id == subscriber_id, OutboxMessage.status == PENDING)
            .values(chat_id=new_chat_id, chat_kind=chat_kind)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def deactivate_subscriber(self, subscriber_id: int, *, reason: str, now: datetime) -> int:
        """The chat is gone (blocked, kicked, deleted): subscriber inactive, its mail dropped and settled.

        Returns how many pending messages were dropped.
        """
        await self._session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(active=False, inactive_reason=reason)
        )
        deliveries = await self._pending_deliveries(subscriber_id)
        dropped = await self.drop_pending_for(subscriber_id, reason)
        for delivery_id in deliveries:
            await self.settle_delivery(delivery_id, now=now)
        return dropped

    async def _pending_deliveries(self, subscriber_id: int) -> list[int]:
        result = await self._session.scalars(
            select(OutboxMessage.delivery_id)
            .where(
                OutboxMessage.subscriber_id == subscriber_id,
                OutboxMessage.status == PENDING,
                OutboxMessage.delivery_id.is_not(None),
            )
            .distinct()
        )
        return sorted(d for d in result if d is not None)

    async def migrate_subscriber(
        self, subscriber_id: int, *, old_chat_id: int, new_chat_id: int, now: datetime
    ) -> Migration:
        """A group became a supergroup: the subscriber and its pending messages follow it to `new_chat_id`.

        A subscriber the new chat already has with nothing chosen (any command there after the upgrade makes
        one) gives way: its pending replies pass to this one, and it is deleted. When it has chosen something
        (someone subscribed there after the upgrade), this one is deactivated and its pending messages
        dropped instead, so the chat does not get all twice.
        """
        taken = await self._session.scalar(
            select(Subscriber).where(Subscriber.chat_id == new_chat_id, Subscriber.id != subscriber_id)
        )
        if taken is not None and await self._chose_nothing(taken):
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.subscriber_id == taken.id)
                .values(subscriber_id=subscriber_id)
            )
            await self._session.execute(delete(Subscriber).where(Subscriber.id == taken.id))
            taken = None
        if taken is not None:
            taken_id = taken.id
            reason = f"migrated to supergroup {new_chat_id}, which subscriber {taken_id} already is"
            dropped = await self.deactivate_subscriber(subscriber_id, reason=reason, now=now)
            return Migration(subscriber_id, retargeted=0, dropped=dropped, deactivated=True)
        retargeted = await self.retarget(subscriber_id, new_chat_id)
        await self._session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(chat_id=new_chat_id, kind="supergroup")
        )
        await self._session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == subscriber_id, Delivery.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
        )
        return Migration(subscriber_id, retargeted=retargeted, dropped=0, deactivated=False)

    async def _chose_nothing(self, subscriber: Subscriber) -> bool:
        """No digest, no settings changed, no topic, source or mute: a record only a command made."""
        if subscriber.wants_digest or subscriber.settings_changed_at is not None:
            return False
        chosen = await self._session.scalar(
            select(Subscription.id).where(Subscription.subscriber_id == subscriber.id).limit(1)
        )
        return chosen is None

    async def settle_delivery(self, delivery_id: int, *, now: datetime) -> str | None:
        """Once no part of the delivery is pending, set its status; returns it (None while parts are pending).

        Any dead part: "failed" (with that part's error); else any dropped part: "dropped"; else "sent", with
        the first part's message id.
        """
        return (await self.settle_deliveries([delivery_id], now=now)).get(delivery_id)

    async def settle_deliveries(self, delivery_ids: Sequence[int], *, now: datetime) -> dict[int, str]:
        """`settle_delivery` for many: one read of their parts, one executemany; returns the settled ones."""
        result = await self._session.execute(
            select(
                OutboxMessage.delivery_id,
                OutboxMessage.status,
                OutboxMessage.message_id,
                OutboxMessage.last_error,
                OutboxMessage.attempts,
            )
            .where(OutboxMessage.delivery_id.in_(sorted(set(delivery_ids))))
            .order_by(OutboxMessage.delivery_id, OutboxMessage.seq, OutboxMessage.id)
        )
        by_delivery: dict[int, list[Row[Any]]] = {}
        for row in result.all():
            by_delivery.setdefault(row.delivery_id, []).append(row)
        values = []
        for delivery_id, parts in by_delivery.items():
            settled = _settled(parts, now)
            if settled is not None:
                values.append({"id": delivery_id, **settled})
        if values:
            await self._session.execute(update(Delivery), values)
        return {v["id"]: str(v["status"]) for v in values}


def _settled(parts: Sequence[Row[Any]], now: datetime) -> dict[str, Any] | None:
    """A delivery's new column values from its parts; None while a part is pending."""
    if not parts or any(p.status == PENDING for p in parts):
        return None
    statuses = {p.status for p in parts}
    # every key in every row, so the executemany shares one statement
    values: dict[str, Any] = {"attempts": max(p.attempts for p in parts), "last_error": None}
    if DEAD in statuses:
        values["status"] = DELIVERY_FAILED
        values["last_error"] = next(p.last_error for p in parts if p.status == DEAD)
    elif DROPPED in statuses:
        values["status"] = DELIVERY_DROPPED
        values["last_error"] = next(p.last_error for p in parts if p.status == DROPPED)
    else:
        values["status"] = DELIVERY_SENT
    values["sent_at"] = now if values["status"] == DELIVERY_SENT else None
    values["message_id"] = parts[0].message_id if values["status"] == DELIVERY_SENT else None
    return values
