"""Forum topics: the topic of a forum supergroup a chat subscribed in (its digests go there), and the topic each
queued message goes to. Without them, digests and replies went to the General topic, and in a forum whose
General topic is closed Telegram refused every one (TOPIC_CLOSED).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("thread_id")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("thread_id")
