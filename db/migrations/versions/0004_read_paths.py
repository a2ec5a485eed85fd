"""Read paths that stay fast at a million articles: tag listings, topic counts and full-text search.

- article_tags.listed_at (copied from the article) with an index (tag_id, listed_at, article_id);
- tag_day_counts: articles per tag and UTC day, for /topics;
- article_terms: the search words of each article, with a GIN full-text index on PostgreSQL and an FTS5 table
  kept in step by triggers on SQLite. The full-text objects are dialect-specific DDL, outside the models
  (db.engine.is_schema_object tells autogenerate to leave them alone).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE article_terms_fts USING fts5(terms, content='article_terms', content_rowid='article_id')",
    """CREATE TRIGGER article_terms_ai AFTER INSERT ON article_terms BEGIN
        INSERT INTO article_terms_fts(rowid, terms) VALUES (new.article_id, new.terms);
    END""",
    """CREATE TRIGGER article_terms_ad AFTER DELETE ON article_terms BEGIN
        INSERT INTO article_terms_fts(article_terms_fts, rowid, terms) VALUES ('delete', old.article_id, old.terms);
    END""",
    """CREATE TRIGGER article_terms_au AFTER UPDATE ON article_terms BEGIN
        INSERT INTO article_terms_fts(article_terms_fts, rowid, terms) VALUES ('delete', old.article_id, old.terms);
        INSERT INTO article_terms_fts(rowid, terms) VALUES (new.article_id, new.terms);
    END""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE article_tags SET listed_at = (SELECT articles.listed_at FROM articles "
        "WHERE articles.id = article_tags.article_id)"
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.alter_column("listed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_index("ix_article_tags_tag_article")
        batch_op.create_index("ix_article_tags_tag_listed", ["tag_id", "listed_at", "article_id"], unique=False)

    op.create_table(
        "tag_day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_tag_day_counts_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("day", "tag_id", name=op.f("pk_tag_day_counts")),
    )
    day = "date(listed_at)" if dialect == "sqlite" else "(listed_at AT TIME ZONE 'UTC')::date"
    op.execute(
        f"INSERT INTO tag_day_counts (tag_id, day, count) SELECT tag_id, {day}, count(*) "
        f"FROM article_tags GROUP BY tag_id, {day}"
    )

    op.create_table(
        "article_terms",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_terms_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_terms")),
    )
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_article_terms_fts ON article_terms USING gin (to_tsvector('simple', terms))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("article_terms_ai", "article_terms_ad", "article_terms_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_terms_fts")
    op.drop_table("article_terms")
    op.drop_table("tag_day_counts")
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_article_tags_tag_listed")
        batch_op.create_index("ix_article_tags_tag_article", ["tag_id", "article_id"], unique=False)
        batch_op.drop_column("listed_at")
