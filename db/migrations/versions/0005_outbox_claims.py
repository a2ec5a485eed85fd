"""Outbox for several processes: claims with a lease, priorities, replies with buttons; the sender lease.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("reply_markup", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_index("ix_outbox_status_not_before")
        batch_op.create_index(
            "ix_outbox_status_priority_not_before", ["status", "priority", "not_before", "id"], unique=False
        )
        batch_op.create_index("ix_outbox_claimed_by", ["claimed_by"], unique=False)
    op.create_table(
        "sender_leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sender_leases")),
    )


def downgrade() -> None:
    op.drop_table("sender_leases")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_claimed_by")
        batch_op.drop_index("ix_outbox_status_priority_not_before")
        batch_op.create_index("ix_outbox_status_not_before", ["status", "not_before"], unique=False)
        batch_op.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("claim_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("reply_markup")
        batch_op.drop_column("priority")
