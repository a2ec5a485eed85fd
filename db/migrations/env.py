"""Alembic environment. newsbot runs migrations itself on start (db.engine.upgrade_schema), passing
a connection.

For developers, `alembic -c db/alembic.ini revision --autogenerate -m "..."` works too: without a connection
it connects to DATABASE_URL (default: the SQLite file newsbot.db).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from db.engine import is_schema_object
from db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
        include_object=is_schema_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from db.engine import make_engine

    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///newsbot.db"))
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())
