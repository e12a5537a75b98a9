"""Read-only queries behind the web UI, the JSON API, Memento and the feeds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, Text, and_, cast, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from .database import from_db_time, to_db_time
from .errors import HistoryError
from .schema import articles, deliveries, edits, events, snapshots, versions

#: The latest version of each article: its headline names it in lists.
_latest = (select(versions.c.article_id, func.max(versions.c.version).label("version"))
           .group_by(versions.c.article_id).subquery())


def latest_headlines() -> Any:
    return (select(versions.c.article_id, versions.c.fields)
            .join(_latest, and_(versions.c.article_id == _latest.c.article_id,
                                versions.c.version == _latest.c.version)).subquery())


def site_filter(column: Any, site: str | None) -> Any:
    if not site:
        return None
    host = site.lower().removeprefix("www.")
    return or_(column.like(f"%://{host}/%"), column.like(f"%://www.{host}/%"),
               column.like(f"%://{host}:%"))


def recent_edits(engine: Engine, *, site: str | None = None, field: str | None = None,
                 article_id: str | None = None, since: datetime | None = None,
                 limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Edits across all articles (or of one), newest first."""
    heads = latest_headlines()
    query = (select(edits.c.article_id, edits.c.from_version, edits.c.to_version,
                    edits.c.changed_fields, edits.c.created_at, edits.c.words_added,
                    edits.c.words_removed, edits.c.changes, articles.c.url, heads.c.fields)
             .join(articles, articles.c.id == edits.c.article_id)
             .join(heads, heads.c.article_id == edits.c.article_id))
    if (condition := site_filter(articles.c.url, site)) is not None:
        query = query.where(condition)
    if article_id is not None:
        query = query.where(edits.c.article_id == article_id)
    if since is not None:
        query = query.where(edits.c.created_at >= to_db_time(since))
    if field:  # JSON containment differs between SQLite and PostgreSQL; the text does not
        query = query.where(cast(edits.c.changed_fields, Text).like(f'%"{field}"%'))
    rows = fetch_all(engine, query.order_by(edits.c.created_at.desc(), edits.c.id.desc())
                    .limit(limit).offset(offset))
    return [{
        "article_id": r.article_id, "url": r.url, "headline": r.fields.get("headline", ""),
        "from_version": r.from_version, "to_version": r.to_version,
        "changed_fields": r.changed_fields, "captured_at": from_db_time(r.created_at),
        "words_added": r.words_added, "words_removed": r.words_removed,
        "flags": r.changes.get("flags", []),
    } for r in rows]


def recent_events(engine: Engine, *, site: str | None = None, kind: str | None = None,
                  article_id: str | None = None, since: datetime | None = None,
                  limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """What happened to articles besides edits (unpublished, republished,
    moved, redirected, wall, ab_test), across all articles (or of one),
    newest first, with the article's URL and latest headline."""
    heads = latest_headlines()
    query = (select(events, articles.c.url, heads.c.fields)
             .join(articles, articles.c.id == events.c.article_id)
             .outerjoin(heads, heads.c.article_id == events.c.article_id))
    if (condition := site_filter(articles.c.url, site)) is not None:
        query = query.where(condition)
    if kind:
        query = query.where(events.c.kind == kind)
    if article_id is not None:
        query = query.where(events.c.article_id == article_id)
    if since is not None:
        query = query.where(events.c.at >= to_db_time(since))
    rows = fetch_all(engine, query.order_by(events.c.at.desc(), events.c.id.desc())
                    .limit(limit).offset(offset))
    return [{
        "article_id": r.article_id, "url": r.url, "headline": (r.fields or {}).get("headline", ""),
        "kind": r.kind, "at": from_db_time(r.at), "snapshot_id": r.snapshot_id,
        "detail": r.detail,
    } for r in rows]


def find_articles(engine: Engine, *, q: str | None = None, site: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Articles whose URL or latest headline contains every word of ``q``."""
    heads = latest_headlines()
    count = select(func.count()).where(versions.c.article_id == articles.c.id).scalar_subquery()
    query = (select(articles, heads.c.fields, count.label("versions"))
             .outerjoin(heads, heads.c.article_id == articles.c.id))
    if (condition := site_filter(articles.c.url, site)) is not None:
        query = query.where(condition)
    words = (q or "").lower().split()
    for word in words:  # a coarse filter in SQL (URL or any field), the exact one below
        pattern = f"%{word}%"
        query = query.where(or_(func.lower(articles.c.url).like(pattern),
                                func.lower(cast(heads.c.fields, Text)).like(pattern)))
    query = query.order_by(articles.c.last_checked.desc(), articles.c.id)
    if not words:
        query = query.limit(limit).offset(offset)
    rows = fetch_all(engine, query)
    found = []
    for r in rows:
        headline = (r.fields or {}).get("headline", "")
        haystack = f"{r.url} {headline}".lower()
        if all(word in haystack for word in words):
            found.append({"article_id": r.id, "url": r.url, "headline": headline,
                          "status": r.status, "versions": r.versions,
                          "site": urlsplit(r.url).hostname,
                          "last_checked": from_db_time(r.last_checked)})
    return found[offset:offset + limit] if words else found


def article_url(engine: Engine, article_id: str) -> str:
    rows = fetch_all(engine, select(articles.c.url).where(articles.c.id == article_id))
    if not rows:
        raise HistoryError(f"no article {article_id!r}")
    return str(rows[0].url)


def article_snapshots(engine: Engine, article_id: str) -> list[dict[str, Any]]:
    """Every capture of an article, oldest first."""
    rows = fetch_all(engine, select(snapshots, versions.c.version)
                    .outerjoin(versions, snapshots.c.version_id == versions.c.id)
                    .where(snapshots.c.article_id == article_id)
                    .order_by(snapshots.c.fetched_at, snapshots.c.id))
    return [_snapshot_json(r) for r in rows]


def snapshot(engine: Engine, snapshot_id: int) -> dict[str, Any]:
    rows = fetch_all(engine, select(snapshots, versions.c.version)
                    .outerjoin(versions, snapshots.c.version_id == versions.c.id)
                    .where(snapshots.c.id == snapshot_id))
    if not rows:
        raise HistoryError(f"no snapshot {snapshot_id}")
    return _snapshot_json(rows[0])


def version_fields(engine: Engine, article_id: str) -> dict[int, dict[str, Any]]:
    """The fields of each version of an article, by version number."""
    rows = fetch_all(engine, select(versions.c.version, versions.c.fields)
                    .where(versions.c.article_id == article_id))
    return {r.version: r.fields for r in rows}


def _snapshot_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "article_id": r.article_id, "fetched_at": from_db_time(r.fetched_at),
            "requested_url": r.requested_url, "final_url": r.final_url,
            "http_status": r.http_status, "outcome": r.outcome, "version": r.version,
            "settled": r.settled, "warc_key": r.warc_key, "warc_size": r.warc_size,
            "warc_sha256": r.warc_sha256,
            "records": r.records}


def fetch_all(engine: Engine, query: Any) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    except SQLAlchemyError as exc:
        raise HistoryError(f"could not read the history database: {exc}") from exc


def article_for_url(engine: Engine, url: str) -> str:
    """The id of the article known by ``url`` (any of its URLs)."""
    from .identity import known_article
    from .urls import url_id

    try:
        with engine.connect() as conn:
            found = known_article(conn, url)
    except SQLAlchemyError as exc:
        raise HistoryError(f"could not read the history database: {exc}") from exc
    return found or url_id(url)


def archive_status(engine: Engine, *, now: datetime) -> dict[str, Any]:
    """What the archive holds and how its watch is going, at a glance."""
    day = to_db_time(now) - timedelta(days=1)
    count = func.count()
    totals = {
        "articles": select(count).where(articles.c.status != "forgotten"),
        "watched": select(count).where(articles.c.watched),
        "due": select(count).where(articles.c.watched, articles.c.next_check_at <= to_db_time(now)),
        "failing": select(count).where(articles.c.watched, articles.c.failures > 0),
        "unpublished": select(count).where(articles.c.status == "gone"),
        "forgotten": select(count).where(articles.c.status == "forgotten"),
        "versions": select(count).select_from(versions),
        "snapshots": select(count).select_from(snapshots),
        "warc_bytes": select(func.coalesce(func.sum(snapshots.c.warc_size), 0)),
        "edits_last_day": select(count).where(edits.c.created_at >= day),
        "events_last_day": select(count).where(events.c.at >= day),
        "webhook_waiting": select(count).where(~deliveries.c.failed),
        "webhook_given_up": select(count).where(deliveries.c.failed),
    }
    last = select(func.max(snapshots.c.fetched_at))
    try:
        with engine.connect() as conn:
            found = {name: int(conn.execute(query).scalar_one()) for name, query in totals.items()}
            latest = conn.execute(last).scalar_one()
    except SQLAlchemyError as exc:
        raise HistoryError(f"could not read the history database: {exc}") from exc
    return {**found, "last_snapshot": from_db_time(latest)}
