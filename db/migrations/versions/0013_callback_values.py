"""The values buttons carry as keys: a topic of 22 Chinese characters or a long search query does not fit in
Telegram's 64 bytes of callback data, and its buttons (unsubscribe, the topic's digest, mute, More) were left
out.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_values",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_callback_values")),
    )
    op.create_index("ix_callback_values_offered_at", "callback_values", ["offered_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_callback_values_offered_at", table_name="callback_values")
    op.drop_table("callback_values")
