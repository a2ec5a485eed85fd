"""Replies to users go out through the outbox like every other message, so one budget per chat covers them
all: a reply's later parts wait their turn, a 429 is retried after `retry_after`, nothing is dropped. They are
claimed and paced ahead of scheduled mail (`db.outbox.REPLY`), so a reply does not queue behind digests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.outbox import OutboxRepo


class ReplyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now
        self._listeners: list[Callable[[], None]] = []

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each reply is queued (the running sender's `wake`)."""
        self._listeners.append(listener)

    async def enqueue(
        self,
        *,
        chat_id: int,
        chat_kind: str,
        chunks: Sequence[str],
        reply_markup: str | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> None:
        """Queue `chunks` (Telegram HTML) for the chat; `reply_markup` (Bot API JSON) goes with the last, and
        the first answers message `reply_to` (in groups, so that a reply is threaded to its command); in a
        forum, all go to topic `thread_id` (the command's)."""
        if not chunks:
            return
        async with self._sessions() as session, session.begin():
            await OutboxRepo(session).enqueue_reply(
                chat_id=chat_id,
                chat_kind=chat_kind,
                chunks=chunks,
                reply_markup=reply_markup,
                now=self._now(),
                reply_to=reply_to,
                thread_id=thread_id,
            )
        for listener in self._listeners:
            listener()
