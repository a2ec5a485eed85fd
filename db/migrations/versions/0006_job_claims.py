"""Periodic jobs for several processes: a fetch claim on each feed; the inbox files claimed for import.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fetch_claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("fetch_claim_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "inbox_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_files")),
        sa.UniqueConstraint("path", name=op.f("uq_inbox_files_path")),
    )


def downgrade() -> None:
    op.drop_table("inbox_files")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("fetch_claim_until")
        batch_op.drop_column("fetch_claimed_by")
