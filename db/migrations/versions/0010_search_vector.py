"""Faster reads at a million articles (issue #14): PostgreSQL search through a stored tsvector column and its
GIN index (the expression index made the planner compute to_tsvector per row while walking the primary key);
/topics reads a week of day counts from a covering index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # a stored column is computed once per write, not per row of every search (this rewrites the table)
        op.execute(
            "ALTER TABLE article_terms ADD COLUMN terms_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED"
        )
        op.execute("CREATE INDEX ix_article_terms_vector ON article_terms USING gin (terms_vector)")
        op.execute("DROP INDEX IF EXISTS ix_article_terms_fts")
    op.create_index("ix_tag_day_counts_day_tag_count", "tag_day_counts", ["day", "tag_id", "count"])


def downgrade() -> None:
    op.drop_index("ix_tag_day_counts_day_tag_count", table_name="tag_day_counts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_article_terms_fts ON article_terms USING gin (to_tsvector('simple', terms))")
        op.execute("DROP INDEX IF EXISTS ix_article_terms_vector")
        op.execute("ALTER TABLE article_terms DROP COLUMN terms_vector")
