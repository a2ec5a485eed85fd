"""An index on when each article was stored: daily digests take the stories first stored since a chat's last
digest (a report dated 07:55 and fetched at 08:05 is news to the 08:00 digest's readers, and was in none).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_ingested_at", "articles", ["ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_ingested_at", table_name="articles")
