"""When a chat last moved its digest (time or time zone), apart from when any setting last changed: a change of
language, size, sound or link previews made after the digest time once cancelled that day's digest.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_changed_at", sa.DateTime(timezone=True), nullable=True))
    # which setting changed is not known for the past: as before, any change counts for the day it was made
    op.execute("UPDATE subscribers SET schedule_changed_at = settings_changed_at")


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("schedule_changed_at")
