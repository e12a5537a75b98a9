"""Re-run extraction over stored snapshots and rebuild histories that change.

Only the DOM record of each snapshot is read, with one ranged read from its
WARC. An article whose snapshots all extract to what its versions already
hold is left alone; any other is rebuilt in one transaction by replaying its
snapshots, in order, through the same recorder that recorded them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from .database import to_db_time
from .errors import ExtractError, HistoryError
from .extract import EXTRACTOR_VERSION, extract
from .history import HistoryStore, Recorder, content_hash
from .identity import known_article
from .models import Article, Capture, StoredWarc
from .schema import articles, edits, events, snapshots, versions
from .storage import BlobStore
from .warc import locate, read_record


@dataclass
class Report:
    """What a re-extraction run looked at and changed."""

    articles: int = 0
    snapshots: int = 0
    rebuilt: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"articles": self.articles, "snapshots": self.snapshots,
                "rebuilt": self.rebuilt, "extractor_version": EXTRACTOR_VERSION}


def reextract(
    history: HistoryStore, store: BlobStore, *, url: str | None = None,
    since: datetime | None = None, progress: Callable[[int], None] | None = None,
) -> Report:
    """Re-extract the snapshots of one article (``url``) or of all, optionally
    only articles captured ``since`` a time; rebuild those whose history changes."""
    report = Report()
    try:
        for aid in _article_ids(history, url, since):
            with history.engine.begin() as conn:
                rows = conn.execute(select(snapshots, versions.c.content_hash,
                                           versions.c.extractor_version)
                                    .outerjoin(versions, snapshots.c.version_id == versions.c.id)
                                    .where(snapshots.c.article_id == aid)
                                    .order_by(snapshots.c.fetched_at, snapshots.c.id)).all()
                fresh = [_extract(store, row) for row in rows]
                report.articles += 1
                report.snapshots += len(rows)
                if any(_differs(row, article) for row, article in zip(rows, fresh, strict=True)):
                    report.rebuilt.append(_rebuild(conn, aid, rows, fresh))
            if progress:
                progress(len(rows))
    except SQLAlchemyError as exc:
        raise HistoryError(f"re-extraction failed: {exc}") from exc
    return report


def _article_ids(history: HistoryStore, url: str | None, since: datetime | None) -> list[str]:
    with history.engine.connect() as conn:
        if url is not None:
            aid = known_article(conn, url)
            if aid is None:
                raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
            return [aid]
        query = select(snapshots.c.article_id).distinct()
        if since is not None:
            query = query.where(snapshots.c.fetched_at >= to_db_time(since))
        return list(conn.execute(query.order_by(snapshots.c.article_id)).scalars())


def _extract(store: BlobStore, row: Any) -> Article | None:
    if row.http_status >= 400 or "dom" not in row.records:
        return None
    key, offset, length = locate(row.warc_key, row.records["dom"])
    _, _, dom = read_record(store.get(key, start=offset, length=length))
    try:
        return extract(dom, url=row.final_url)
    except ExtractError:
        return None


def _differs(row: Any, article: Article | None) -> bool:
    """Whether the snapshot now extracts to something other than what was recorded."""
    if article is None:
        return row.outcome not in ("unpublished",)
    if article.wall != (row.outcome == "wall"):
        return True
    if row.content_hash is None:
        return row.outcome not in ("wall", "redirected")
    return bool(row.content_hash != content_hash(article)
                or row.extractor_version != EXTRACTOR_VERSION)


def _rebuild(conn: Connection, aid: str, rows: Iterable[Any],
             fresh: list[Article | None]) -> dict[str, Any]:
    """Replay the article's snapshots with the fresh extraction, in one transaction."""
    rows = list(rows)
    before = conn.execute(select(func.count()).where(versions.c.article_id == aid)).scalar_one()
    conn.execute(update(snapshots).where(snapshots.c.article_id == aid).values(version_id=None))
    for table in (edits, events, versions, snapshots):
        conn.execute(delete(table).where(table.c.article_id == aid))
    conn.execute(update(articles).where(articles.c.id == aid).values(status="new"))
    outcomes = []
    for row, article in zip(rows, fresh, strict=True):
        capture = Capture(url=row.requested_url, final_url=row.final_url,
                          status=row.http_status, settled=row.settled, exchanges=(), dom="",
                          fetched_at=row.fetched_at.replace(tzinfo=UTC))
        stored = StoredWarc(key=row.warc_key, size=row.warc_size, sha256=row.warc_sha256,
                            records={k: tuple(v) for k, v in row.records.items()})
        outcomes.append(Recorder(conn, capture, article, stored).run().outcome)
    after = conn.execute(select(func.count()).where(versions.c.article_id == aid)).scalar_one()
    url = conn.execute(select(articles.c.url).where(articles.c.id == aid)).scalar_one()
    return {"url": url, "versions_before": before, "versions_after": after,
            "outcomes": outcomes}
