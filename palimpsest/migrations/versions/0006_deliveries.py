"""The webhook's messages not yet delivered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("message", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("failed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("deliveries_due", "deliveries", ["failed", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("deliveries_due", "deliveries")
    op.drop_table("deliveries")
