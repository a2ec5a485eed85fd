"""The values buttons carry as keys, kept in the database so that a press finds them in any process, after a
restart too (what a key is: bot/commands/buttons.py).

A value is kept before the button carrying it is sent, and for `KEEP_FOR` after a button last carried it; a
press of an older one answers "expired", as a forged key does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import utc_now
from db.callback_values import CallbackValueRepo

log = logging.getLogger(__name__)

# as long as a /sources button finds its publisher (bot/commands/reading.py PUBLISHER_WINDOW): a month-old
# digest's buttons still work
KEEP_FOR = timedelta(days=30)
# each process forgets the old values at most this often, after keeping new ones
FORGET_EVERY = timedelta(hours=1)


class CallbackValues:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, now: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._forgot_at: datetime | None = None

    async def keep(self, values: Mapping[str, str]) -> None:
        """Keep {key: value} for the presses of buttons about to be sent."""
        if not values:
            return
        now = self._now()
        async with self._sessions() as session, session.begin():
            await CallbackValueRepo(session).keep(values, now=now)
        await self.forget_old()

    async def forget_old(self) -> None:
        """Forget the values no button carried in the last KEEP_FOR, unless this process did lately."""
        now = self._now()
        if self._forgot_at is not None and now - self._forgot_at < FORGET_EVERY:
            return
        self._forgot_at = now
        async with self._sessions() as session, session.begin():
            forgotten = await CallbackValueRepo(session).forget(before=now - KEEP_FOR)
        if forgotten:
            log.info("buttons: forgot %d values no button carried in %d days", forgotten, KEEP_FOR.days)

    async def find(self, key: str) -> str | None:
        """The value kept under `key`, or None (never kept, or forgotten)."""
        async with self._sessions() as session:
            return await CallbackValueRepo(session).find(key)
