"""The history database's tables (SQLAlchemy Core), shared with Alembic.

One row per article in ``articles``; one per capture in ``snapshots``; one per
distinct content in ``versions`` (full fields, never only diffs); one per
consecutive pair of versions in ``edits`` (derived data, can be rebuilt);
the watchlist's ``feeds``, the dedup index's ``payloads``, the
re-snapshots asked for from the web, ``jobs``, the webhook's messages not
yet delivered, ``deliveries``, and the records kept for revisits when an
article was forgotten, ``kept_warcs``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

articles = Table(
    "articles", metadata,
    # hash of the normalised URL
    Column("id", String(16), primary_key=True),
    # normalised URL
    Column("url", Text, nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="live"),
    Column("first_seen", DateTime, nullable=False),
    Column("last_checked", DateTime, nullable=False),
    Column("next_check_at", DateTime, nullable=True),
    # on the watchlist: swept when next_check_at is due
    Column("watched", Boolean, nullable=False, default=False),
    # each step up halves the interval between checks
    Column("priority", Integer, nullable=False, default=0),
    # checks of it that failed in a row since the last that did not (the
    # sweep's captures that failed, and snapshots its server could not answer:
    # the reader of an interactive capture sees its error), the last one's
    # error, and when the first of them failed
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("failing_since", DateTime, nullable=True),
    Index("articles_due", "watched", "next_check_at"),
)

feeds = Table(
    "feeds", metadata,
    # an RSS or Atom feed, or a (news) sitemap
    Column("url", Text, primary_key=True),
    Column("added_at", DateTime, nullable=False),
    Column("last_polled", DateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("articles_found", Integer, nullable=False, default=0),
)

article_urls = Table(
    "article_urls", metadata,
    # normalised URL: requested, final, canonical
    Column("url", Text, primary_key=True),
    Column("article_id", String(16), ForeignKey("articles.id"), nullable=False, index=True),
    Column("first_seen", DateTime, nullable=False),
)

versions = Table(
    "versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(16), ForeignKey("articles.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # first seen
    Column("captured_at", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("extractor_version", String(16), nullable=False),
    # earlier version it equals
    Column("reverts_to", Integer, nullable=True),
    UniqueConstraint("article_id", "version"),
    Index("versions_article_hash", "article_id", "content_hash"),
)

snapshots = Table(
    "snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(16), ForeignKey("articles.id"), nullable=False),
    Column("fetched_at", DateTime, nullable=False),
    Column("requested_url", Text, nullable=False),
    Column("final_url", Text, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("settled", Boolean, nullable=False),
    Column("warc_key", Text, nullable=False, unique=True),
    Column("warc_size", Integer, nullable=False),
    Column("warc_sha256", String(64), nullable=False),
    # record name -> [offset, length], or [offset, length, warc key] for a revisit
    Column("records", JSON, nullable=False),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=True),
    Column("outcome", String(16), nullable=False),
    # whether the ``revisits`` table lists this WARC's revisits (false for
    # snapshots recorded before it existed: ``forget`` reads those WARCs)
    Column("revisits_indexed", Boolean, nullable=False, default=False),
)

edits = Table(
    "edits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(16), ForeignKey("articles.id"), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("changed_fields", JSON, nullable=False),
    Column("changes", JSON, nullable=False),
    # deepdiff Delta, JSON, bidirectional
    Column("delta", Text, nullable=False),
    Column("words_added", Integer, nullable=False),
    Column("words_removed", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("article_id", "to_version"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(16), ForeignKey("articles.id"), nullable=False),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=True),
    Column("at", DateTime, nullable=False),
    # unpublished, republished, moved, redirected, wall, ab_test
    Column("kind", String(24), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("events_article_time", "article_id", "at"),
)

#: payload digest -> its first archived copy; later copies become revisit records.
#: Rows are added in the transaction that records their snapshot, so a revisit
#: never refers to a WARC that was not kept.
payloads = Table(
    "payloads", metadata,
    Column("digest", String(64), primary_key=True),
    Column("uri", Text, nullable=False),
    Column("date", String(32), nullable=False),
    Column("warc_key", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("length", Integer, nullable=False),
)

#: Which WARCs hold revisits of which payloads: the records ``forget`` must
#: keep for the other articles are found here, not by reading their WARCs.
revisits = Table(
    "revisits", metadata,
    Column("digest", String(64), primary_key=True),
    Column("warc_key", Text, primary_key=True),
)

#: Snapshots asked for from the web UI or API, and what became of each: rows
#: here, not a web server's memory, so that any server process (another
#: instance on the same database, or this one after a restart) answers for any.
jobs = Table(
    "jobs", metadata,
    # a Prefect job's is its flow run's id
    Column("id", String(36), primary_key=True),
    Column("url", Text, nullable=False),
    # local (a thread of the web server that took it) or prefect (a flow run)
    Column("runner", String(8), nullable=False),
    # queued, running, done, failed
    Column("status", String(8), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    # the process running a local job (host:pid:start), to tell when it stopped
    Column("worker", Text, nullable=True),
    Column("error", Text, nullable=True),
    # the snapshot's result (outcome, version, snapshot id)
    Column("result", JSON, nullable=True),
)

#: The webhook's messages until it took them (then deleted): one that it could
#: not take then is asked again later, twice as long after each try.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("message", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    # given up on: refused by the hook, or not taken within a day (kept, listed)
    Column("failed", Boolean, nullable=False, default=False),
    Index("deliveries_due", "failed", "next_attempt_at"),
)

#: WARCs of records that revisits point at, kept when the article whose
#: snapshot first archived them was forgotten (``forget.py``); checked for
#: fixity beside the snapshots' WARCs.
kept_warcs = Table(
    "kept_warcs", metadata,
    Column("warc_key", Text, primary_key=True),
    Column("warc_size", Integer, nullable=False),
    Column("warc_sha256", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

Index("snapshots_article_time", snapshots.c.article_id, snapshots.c.fetched_at)
