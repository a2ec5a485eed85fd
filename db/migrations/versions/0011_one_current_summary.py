"""One current summary per article and language, kept by the database: concurrent replacements on PostgreSQL
could leave two (see db.llm._retire_current_summary). Repairs such pairs, keeping the newest (highest id)
current, then adds unique partial indexes on the current summaries: one on article_id for the article's own
language (language NULL), one on (article_id, language) for the others.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the indexes cannot be made while duplicates stand: of each article's current summaries in one language,
    # the newest stays current (as the last replacement meant), the others become history
    op.execute(
        "UPDATE summaries SET is_current = false"
        " WHERE is_current AND EXISTS ("
        "SELECT 1 FROM summaries AS newer"
        " WHERE newer.article_id = summaries.article_id"
        " AND coalesce(newer.language, '') = coalesce(summaries.language, '')"
        " AND newer.is_current AND newer.id > summaries.id)"
    )
    # the article's own summary (language NULL) apart: a unique index lets any number of NULLs through
    op.create_index(
        "ix_summaries_one_current_own",
        "summaries",
        ["article_id"],
        unique=True,
        postgresql_where=sa.text("is_current AND language IS NULL"),
        sqlite_where=sa.text("is_current AND language IS NULL"),
    )
    op.create_index(
        "ix_summaries_one_current_translated",
        "summaries",
        ["article_id", "language"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current"),
    )


def downgrade() -> None:
    op.drop_index("ix_summaries_one_current_translated", table_name="summaries")
    op.drop_index("ix_summaries_one_current_own", table_name="summaries")
