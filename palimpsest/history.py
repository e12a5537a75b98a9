"""The history database: record snapshots, versions and edits; query them.

SQLite by default, PostgreSQL through ``PALIMPSEST_DB_URL``. The schema is
managed by Alembic (``palimpsest/migrations``) and brought up to date when a
store is opened. Recording one snapshot is one transaction: a crash leaves
either nothing or the snapshot with its version and edit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .diff import compare
from .errors import HistoryError
from .extract import EXTRACTOR_VERSION
from .models import Article, Capture, SnapshotResult, StoredWarc
from .schema import articles, edits, snapshots, versions
from .urls import normalize_url, url_id

#: The newest migration in palimpsest/migrations/versions.
SCHEMA_REVISION = "0001"
MIGRATIONS = Path(__file__).with_name("migrations")


def content_hash(article: Article) -> str:
    """A hash of the article's normalised fields: equal hashes, same version."""
    data = json.dumps(article.fields(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    """Naive UTC, as stored (SQLite keeps no offsets)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat() if moment else None


def open_engine(db_url: str) -> Engine:
    """An engine for ``db_url`` with the schema migrated to the newest revision."""
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).expanduser().parent.mkdir(
            parents=True, exist_ok=True)
    try:
        engine = create_engine(db_url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise HistoryError(f"cannot use database {db_url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        raise HistoryError(f"cannot open database {engine.url!r}: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while a worker writes; the busy timeout
    # makes concurrent writers wait for each other instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Run Alembic's upgrade to head, unless the database is already there."""
    with engine.connect() as conn:
        try:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            current = None
            conn.rollback()
    if current == SCHEMA_REVISION:
        return  # importing and running Alembic costs ~0.2 s; skip it when current
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class HistoryStore:
    """Versions and edits of every tracked article."""

    def __init__(self, db_url: str) -> None:
        self.engine = open_engine(db_url)

    def close(self) -> None:
        self.engine.dispose()

    def record(
        self, capture: Capture, article: Article | None, warc: StoredWarc
    ) -> SnapshotResult:
        """Record a stored snapshot; a new version only if the article changed.

        ``article`` is None when the page was an error status. Recording the
        same WARC again returns the earlier result and changes nothing.
        """
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    return self._record(conn, capture, article, warc)
            except IntegrityError as exc:
                # Another worker recorded this article (or this WARC) at the
                # same moment; the next attempt sees its row.
                if attempt == 2:
                    raise HistoryError(f"could not record {capture.url}: {exc}") from exc
            except SQLAlchemyError as exc:
                raise HistoryError(f"could not record {capture.url}: {exc}") from exc
        raise AssertionError("unreachable")

    def _record(
        self, conn: Connection, capture: Capture, article: Article | None, warc: StoredWarc
    ) -> SnapshotResult:
        aid = url_id(capture.url)
        earlier = conn.execute(
            select(snapshots.c.id, snapshots.c.outcome, versions.c.version)
            .outerjoin(versions, snapshots.c.version_id == versions.c.id)
            .where(snapshots.c.warc_key == warc.key)
        ).first()
        if earlier:
            return SnapshotResult(capture.url, aid, earlier.id, earlier.outcome,
                                  earlier.version, warc.key)
        when = _utc(capture.fetched_at)
        self._touch_article(conn, aid, capture.url, when, gone=capture.status >= 400)
        latest = conn.execute(
            select(versions).where(versions.c.article_id == aid)
            .order_by(versions.c.version.desc()).limit(1)
        ).first()
        changed: tuple[str, ...] = ()
        if article is None:
            outcome, version_row = "error-status", None
        elif latest is not None and latest.content_hash == content_hash(article):
            outcome, version_row = "unchanged", latest
            conn.execute(versions.update()
                         .where(versions.c.id == latest.id, versions.c.last_seen < when)
                         .values(last_seen=when))
        else:
            outcome = "new" if latest is None else "changed"
            version_row, changed = self._add_version(conn, aid, article, latest, when)
        snapshot_id = conn.execute(snapshots.insert().values(
            article_id=aid, fetched_at=when, requested_url=capture.url,
            final_url=capture.final_url, http_status=capture.status, settled=capture.settled,
            warc_key=warc.key, warc_size=warc.size, warc_sha256=warc.sha256,
            records={k: list(v) for k, v in warc.records.items()},
            version_id=version_row.id if version_row else None, outcome=outcome,
        )).inserted_primary_key[0]  # type: ignore[index]
        return SnapshotResult(capture.url, aid, snapshot_id, outcome,  # type: ignore[arg-type]
                              version_row.version if version_row else None, warc.key, changed)

    def _touch_article(
        self, conn: Connection, aid: str, url: str, when: datetime, *, gone: bool
    ) -> None:
        status = "gone" if gone else "live"
        updated = conn.execute(articles.update().where(articles.c.id == aid)
                               .values(last_checked=when, status=status)).rowcount
        if not updated:
            conn.execute(articles.insert().values(
                id=aid, url=normalize_url(url), status=status, first_seen=when,
                last_checked=when))

    def _add_version(
        self, conn: Connection, aid: str, article: Article, latest: Any, when: datetime
    ) -> tuple[Any, tuple[str, ...]]:
        number = latest.version + 1 if latest else 1
        new_id = conn.execute(versions.insert().values(
            article_id=aid, version=number, fields=article.fields(),
            content_hash=content_hash(article), captured_at=when, last_seen=when,
            extractor_version=EXTRACTOR_VERSION,
        )).inserted_primary_key[0]  # type: ignore[index]
        changed: tuple[str, ...] = ()
        if latest is not None:
            edit = compare(Article.from_fields(latest.fields), article)
            if edit is not None:
                changed = edit.changed_fields
                conn.execute(edits.insert().values(
                    article_id=aid, from_version=latest.version, to_version=number,
                    changed_fields=list(edit.changed_fields), changes=edit.as_dict(),
                    delta=edit.delta, words_added=edit.words_added,
                    words_removed=edit.words_removed, created_at=when,
                ))
        row = conn.execute(select(versions).where(versions.c.id == new_id)).one()
        return row, changed

    def history(self, url: str) -> dict[str, Any]:
        """Versions and edits of the article at ``url`` (the JSON contract)."""
        aid = url_id(url)
        try:
            with self.engine.connect() as conn:
                article = conn.execute(select(articles).where(articles.c.id == aid)).first()
                if article is None:
                    raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
                version_rows = conn.execute(
                    select(versions).where(versions.c.article_id == aid)
                    .order_by(versions.c.version)).all()
                edit_rows = conn.execute(
                    select(edits).where(edits.c.article_id == aid)
                    .order_by(edits.c.to_version)).all()
                snapshot_count = conn.execute(
                    select(func.count()).where(snapshots.c.article_id == aid)).scalar()
        except SQLAlchemyError as exc:
            raise HistoryError(f"could not read the history of {url}: {exc}") from exc
        return {
            "url": article.url,
            "article_id": aid,
            "status": article.status,
            "first_seen": _iso(article.first_seen),
            "last_checked": _iso(article.last_checked),
            "snapshots": snapshot_count,
            "versions": [{
                "version": v.version,
                "captured_at": _iso(v.captured_at),
                "last_seen": _iso(v.last_seen),
                "extractor_version": v.extractor_version,
                "fields": v.fields,
            } for v in version_rows],
            "edits": [{
                "from_version": e.from_version,
                "to_version": e.to_version,
                "changed_fields": e.changed_fields,
                "captured_at": _iso(e.created_at),
                **{k: v for k, v in e.changes.items() if k != "changed_fields"},
                "delta": json.loads(e.delta),
            } for e in edit_rows],
        }

    def snapshot_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(snapshots)).scalar() or 0)
