"""Queries over `CallbackValue`: the values buttons carry as keys (see bot/commands/buttons.py).

`CallbackValueRepo` takes a session owned by the caller; it never opens, commits or closes one. A key is a
hash of its value, so two processes keeping the same key keep the same value: keeping is insert-if-absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CallbackValue

# a value offered again is marked so at most this often: the same buttons sent again mostly write nothing
REOFFER_AFTER = timedelta(days=1)


class CallbackValueRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, values: Mapping[str, str], *, now: datetime) -> None:
        """Keep each key -> value; a value kept already is marked offered at `now` (once a REOFFER_AFTER)."""
        if not values:
            return
        dialect = self._session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # in key order: two writers keeping the same keys take their row locks in the same order
        statement = insert(CallbackValue).values(
            [{"key": key, "value": values[key], "offered_at": now} for key in sorted(values)]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[CallbackValue.key],
                set_={"offered_at": statement.excluded.offered_at},
                where=CallbackValue.offered_at < now - REOFFER_AFTER,
            )
        )

    async def forget(self, *, before: datetime) -> int:
        """Forget the values no button offered since `before`; returns how many.

        Rows another transaction holds (one offering the value again) are left for the next time: this never
        waits for a row lock, so it cannot deadlock with a writer of several keys. Run it in a transaction of
        its own.
        """
        doomed = (
            select(CallbackValue.key)
            .where(CallbackValue.offered_at < before)
            .with_for_update(skip_locked=True)  # SQLite has no row locks and leaves it out
        )
        result = await self._session.execute(delete(CallbackValue).where(CallbackValue.key.in_(doomed)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def find(self, key: str) -> str | None:
        found: str | None = await self._session.scalar(
            select(CallbackValue.value).where(CallbackValue.key == key)
        )
        return found
