"""What a digest reads of its hundreds of candidates, kept ready: the publishers of each story, kept as
stories grow (how many carry each candidate took a union over its story's articles and their copies), filled
from the stored articles and copies; and an index of the stories' leads, which the walk from the stories begun
in a digest's window to their leads reads alone. On PostgreSQL the /digest command's read sat at its 20 ms
target at a million articles.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_publishers",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("publisher", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("story_id", "publisher", name=op.f("pk_story_publishers")),
    )
    # UNION, not UNION ALL: each (story, publisher) once
    op.execute(
        "INSERT INTO story_publishers (story_id, publisher) "
        "SELECT story_id, publisher FROM articles WHERE story_id IS NOT NULL "
        "UNION SELECT articles.story_id, story_copies.publisher FROM story_copies "
        "JOIN articles ON articles.id = story_copies.article_id WHERE articles.story_id IS NOT NULL"
    )
    op.create_index(
        "ix_articles_story_leads",
        "articles",
        ["story_id", "listed_at", "id"],
        postgresql_where=sa.text("is_story_lead IS true"),
        sqlite_where=sa.text("is_story_lead IS 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_articles_story_leads", table_name="articles")
    op.drop_table("story_publishers")
