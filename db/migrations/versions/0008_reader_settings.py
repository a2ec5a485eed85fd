"""What a reader sets: article languages, silent delivery, link previews, a pause, when settings last changed;
outbox messages that are silent, show a link preview or answer a message in a group.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article_languages", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("silent", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(
            sa.Column("link_previews", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("settings_changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("silent", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(
            sa.Column("link_preview", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("reply_to", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("reply_to")
        batch_op.drop_column("link_preview")
        batch_op.drop_column("silent")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("settings_changed_at")
        batch_op.drop_column("paused_until")
        batch_op.drop_column("link_previews")
        batch_op.drop_column("silent")
        batch_op.drop_column("article_languages")
