"""Stories: each article belongs to the story it reports on; the lookup keys that find a story's articles;
exact copies from other sources recorded as members.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("publisher", sa.String(length=256), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_copies_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_story_copies_source_id_sources"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_copies")),
        sa.UniqueConstraint("article_id", "publisher", "title", name=op.f("uq_story_copies_article_id")),
    )
    op.create_index(op.f("ix_story_copies_article_id"), "story_copies", ["article_id"], unique=False)
    op.create_table(
        "story_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_keys_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "article_id", name=op.f("pk_story_keys")),
    )
    op.create_index(op.f("ix_story_keys_article_id"), "story_keys", ["article_id"], unique=False)
    op.create_index("ix_story_keys_key_listed", "story_keys", ["key", "listed_at"], unique=False)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("is_story_lead", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("story_fingerprint", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_story_id"), ["story_id"], unique=False)
    # the articles stored before stories each start their own (they have no fingerprint to be found by)
    op.execute("UPDATE articles SET story_id = id")


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_story_id"))
        batch_op.drop_column("story_fingerprint")
        batch_op.drop_column("is_story_lead")
        batch_op.drop_column("story_id")
    op.drop_index("ix_story_keys_key_listed", table_name="story_keys")
    op.drop_index(op.f("ix_story_keys_article_id"), table_name="story_keys")
    op.drop_table("story_keys")
    op.drop_index(op.f("ix_story_copies_article_id"), table_name="story_copies")
    op.drop_table("story_copies")
