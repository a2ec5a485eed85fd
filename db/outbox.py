"""The outbox: queries over scheduled messages (`OutboxMessage`) and the deliveries they belong to.

`OutboxRepo` takes a session owned by the caller; it never opens, commits or closes one. It does not talk to
Telegram: `bot.services.delivery.OutboxSender` does, and records what happened through these methods.

Message states: "pending" until Telegram accepted it ("sent"), its chat is gone ("dropped"), or the last
allowed attempt failed ("dead", kept with `last_error`). Within one chat, messages go out in `chat_order`
(the order they were enqueued; the parts of a delivery by `seq`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Delivery, OutboxMessage, Subscriber

PENDING = "pending"
SENT = "sent"
DROPPED = "dropped"
DEAD = "dead"
# Delivery.status once its last part left the outbox
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"
DELIVERY_DROPPED = "dropped"


def chat_order(message: OutboxMessage) -> tuple[datetime, int, int, int]:
    """The order of one chat's messages: enqueue time, then delivery, then part, then id."""
    return (message.created_at, message.delivery_id or 0, message.seq, message.id)


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
        messages = [
            OutboxMessage(
                delivery_id=delivery_id,
                subscriber_id=subscriber.id,
                chat_id=subscriber.chat_id,
                chat_kind=subscriber.kind,
                seq=seq,
                text=text,
                photo_url=photo_url if seq == 0 else None,
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

        When another subscriber already has the new chat (someone subscribed there after the upgrade), this
        one is deactivated and its pending messages dropped instead, so the chat does not get all twice.
        """
        taken = await self._session.scalar(
            select(Subscriber.id).where(Subscriber.chat_id == new_chat_id, Subscriber.id != subscriber_id)
        )
        if taken is not None:
            reason = f"migrated to supergroup {new_chat_id}, which subscriber {taken} already is"
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

    async def settle_delivery(self, delivery_id: int, *, now: datetime) -> str | None:
        """Once no part of the delivery is pending, set its status; returns it (None while parts are pending).

        Any dead part: "failed" (with that part's error); else any dropped part: "dropped"; else "sent", with
        the first part's message id.
        """
        result = await self._session.execute(
            select(
                OutboxMessage.status,
                OutboxMessage.message_id,
                OutboxMessage.last_error,
                OutboxMessage.attempts,
            )
            .where(OutboxMessage.delivery_id == delivery_id)
            .order_by(OutboxMessage.seq, OutboxMessage.id)
        )
        parts = result.all()
        if not parts or any(p.status == PENDING for p in parts):
            return None
        statuses = {p.status for p in parts}
        values: dict[str, object] = {"attempts": max(p.attempts for p in parts)}
        if DEAD in statuses:
            values["status"] = DELIVERY_FAILED
            values["last_error"] = next(p.last_error for p in parts if p.status == DEAD)
        elif DROPPED in statuses:
            values["status"] = DELIVERY_DROPPED
            values["last_error"] = next(p.last_error for p in parts if p.status == DROPPED)
        else:
            values["status"] = DELIVERY_SENT
            values["sent_at"] = now
            values["message_id"] = parts[0].message_id
        await self._session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
        return str(values["status"])
