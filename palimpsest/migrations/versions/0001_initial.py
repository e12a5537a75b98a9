"""Articles, snapshots, versions and edits.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_checked", sa.DateTime, nullable=False),
        sa.Column("next_check_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "article_urls",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("article_id", sa.String(16), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.create_index("ix_article_urls_article_id", "article_urls", ["article_id"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(16), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("captured_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("extractor_version", sa.String(16), nullable=False),
        sa.Column("reverts_to", sa.Integer, nullable=True),
        sa.UniqueConstraint("article_id", "version"),
    )
    op.create_index("versions_article_hash", "versions", ["article_id", "content_hash"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(16), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("requested_url", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("settled", sa.Boolean, nullable=False),
        sa.Column("warc_key", sa.Text, nullable=False, unique=True),
        sa.Column("warc_size", sa.Integer, nullable=False),
        sa.Column("warc_sha256", sa.String(64), nullable=False),
        sa.Column("records", sa.JSON, nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("snapshots_article_time", "snapshots", ["article_id", "fetched_at"])
    op.create_table(
        "edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(16), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=False),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("changed_fields", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("delta", sa.Text, nullable=False),
        sa.Column("words_added", sa.Integer, nullable=False),
        sa.Column("words_removed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("article_id", "to_version"),
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(16), sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id"), nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("events_article_time", "events", ["article_id", "at"])


def downgrade() -> None:
    for table in ("events", "edits", "snapshots", "versions", "article_urls", "articles"):
        op.drop_table(table)
