"""WARCs of records kept for revisits when an article was forgotten.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_warcs",
        sa.Column("warc_key", sa.Text, primary_key=True),
        sa.Column("warc_size", sa.Integer, nullable=False),
        sa.Column("warc_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kept_warcs")
