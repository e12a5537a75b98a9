"""Which WARCs hold revisits of which payloads.

Snapshots recorded before are marked unindexed: ``forget`` reads their WARCs
(and indexes them as it goes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revisits",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("warc_key", sa.Text, primary_key=True),
    )
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("revisits_indexed", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("revisits_indexed")
    op.drop_table("revisits")
