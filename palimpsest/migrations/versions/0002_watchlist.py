"""Watchlist (watched, priority) and feeds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("watched", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
    op.create_index("articles_due", "articles", ["watched", "next_check_at"])
    op.create_table(
        "feeds",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("last_polled", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("articles_found", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("feeds")
    op.drop_index("articles_due", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("priority")
        batch.drop_column("watched")
