"""Re-run extraction over stored snapshots and rebuild histories that change.

Only the DOM record of each snapshot is read, with one ranged read from its
WARC. An article whose snapshots all extract to what its versions already
hold is left alone; any other is rebuilt in one transaction by replaying its
snapshots, in order, through the same recorder that recorded them.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from .database import to_db_time
from .errors import ExtractError, HistoryError
from .extract import EXTRACTOR_VERSION, extract
from .history import HistoryStore, Recorder, content_hash
from .identity import tracked_article
from .models import Article, Capture, StoredWarc
from .schema import articles, edits, events, snapshots, versions
from .site_rules import SiteRules
from .storage import BlobStore
from .warc import locate, read_record

#: Articles whose snapshots are extracted together (keeps every worker busy)
BATCH_ARTICLES = 200
#: What extraction imports, loaded before the workers start
EXTRACTOR_MODULES = ("palimpsest.extract", "trafilatura", "htmldate", "dateutil.parser")


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
    workers: int | None = None, rules: SiteRules | None = None,
) -> Report:
    """Re-extract the snapshots of one article (``url``) or of all, optionally
    only articles captured ``since`` a time, with the sites' own ``rules``;
    rebuild those whose history changes.

    Extraction (CPU-bound, ~30 ms a real page) runs in ``workers`` processes
    (default: one per CPU); reading DOM records and rebuilding stay here.
    """
    report = Report()
    workers = workers or os.cpu_count() or 1
    try:
        ids = _article_ids(history, url, since)
        with _extractor_pool(store, rules, workers) as map_:
            for start in range(0, len(ids), BATCH_ARTICLES):
                batch = {aid: _snapshot_rows(history, aid)
                         for aid in ids[start:start + BATCH_ARTICLES]}
                jobs = [_job(row) for rows in batch.values() for row in rows]
                # Snapshots whose DOM is one stored record (a revisit of an unchanged
                # page points at the first copy) are extracted once.
                distinct = list(dict.fromkeys(jobs))
                done = dict(zip(distinct, map_(_extract_job, distinct), strict=True))
                fresh = (done[job] for job in jobs)
                for aid, rows in batch.items():
                    articles = [next(fresh) for _ in rows]
                    report.articles += 1
                    report.snapshots += len(rows)
                    if any(_differs(r, a) for r, a in zip(rows, articles, strict=True)):
                        rebuilt = _rebuild_current(history, store, rules, aid, rows,
                                                   articles)
                        report.rebuilt.append(rebuilt)
                    if progress:
                        progress(len(rows))
    except SQLAlchemyError as exc:
        raise HistoryError(f"re-extraction failed: {exc}") from exc
    return report


#: The store DOM records are read from, and the sites' own rules, in each
#: extraction process
_store: BlobStore | None = None
_rules: SiteRules | None = None


def _use_store(store: BlobStore, rules: SiteRules | None) -> None:
    global _store, _rules
    _store, _rules = store, rules


@contextmanager
def _extractor_pool(store: BlobStore, rules: SiteRules | None,
                    workers: int) -> Iterator[Callable[..., Iterable[Any]]]:
    """``map`` over processes that read and extract, or the builtin one for one worker."""
    if workers <= 1:
        _use_store(store, rules)
        yield map
        return
    # Forking copies the imported extractor (no ~1.5 s import per worker), but is
    # unsafe when other threads run (Prefect, a browser pool): then a fork server
    # that has imported it once hands out the workers.
    context: BaseContext
    if threading.active_count() == 1:
        for module in EXTRACTOR_MODULES:  # imported lazily elsewhere: once, here
            importlib.import_module(module)
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        multiprocessing.set_forkserver_preload(list(EXTRACTOR_MODULES))
    with ProcessPoolExecutor(workers, mp_context=context,
                             initializer=_use_store, initargs=(store, rules)) as pool:
        yield lambda fn, jobs: pool.map(fn, jobs, chunksize=4)


def _snapshot_rows(history: HistoryStore, aid: str) -> list[Any]:
    with history.engine.connect() as conn:
        return list(conn.execute(
            select(snapshots, versions.c.content_hash, versions.c.extractor_version)
            .outerjoin(versions, snapshots.c.version_id == versions.c.id)
            .where(snapshots.c.article_id == aid)
            .order_by(snapshots.c.fetched_at, snapshots.c.id)).all())


def _rebuild_current(history: HistoryStore, store: BlobStore, rules: SiteRules | None,
                     aid: str, rows: list[Any], fresh: list[Article | None]) -> dict[str, Any]:
    """Rebuild in one transaction; snapshots recorded since the rows were read
    (a sweep runs beside us) are extracted too, so none is dropped."""
    with history.engine.begin() as conn:
        current = conn.execute(select(snapshots.c.id).where(snapshots.c.article_id == aid)
                               .order_by(snapshots.c.fetched_at, snapshots.c.id)).scalars().all()
        if list(current) != [row.id for row in rows]:
            rows = _snapshot_rows(history, aid)
            fresh = _extracted(rows, store, rules)
        return _rebuild(conn, aid, rows, fresh)


def rebuild(history: HistoryStore, store: BlobStore, aid: str, *,
            rules: SiteRules | None = None) -> dict[str, Any]:
    """Replay every snapshot of the article ``aid`` in time order, extracted
    anew: after snapshots older than its last were added (``backfill``), or
    before one is compared with versions an older extractor read."""
    try:
        rows = _snapshot_rows(history, aid)
        return _rebuild_current(history, store, rules, aid, rows,
                                _extracted(rows, store, rules))
    except SQLAlchemyError as exc:
        raise HistoryError(f"could not rebuild the history of article {aid}: {exc}") from exc


def _extracted(rows: list[Any], store: BlobStore, rules: SiteRules | None
               ) -> list[Article | None]:
    """The articles in the snapshots' DOMs, here (each stored DOM read once)."""
    jobs = [_job(row) for row in rows]
    done = {job: _extract(job, store, rules) for job in dict.fromkeys(jobs)}
    return [done[job] for job in jobs]


def _article_ids(history: HistoryStore, url: str | None, since: datetime | None) -> list[str]:
    with history.engine.connect() as conn:
        if url is not None:
            return [tracked_article(conn, url)]
        query = select(snapshots.c.article_id).distinct()
        if since is not None:
            query = query.where(snapshots.c.fetched_at >= to_db_time(since))
        return list(conn.execute(query.order_by(snapshots.c.article_id)).scalars())


def _job(row: Any) -> tuple[str, str, int, int] | None:
    """(URL, WARC key, offset, length) of a snapshot's DOM record; None for error pages."""
    if row.http_status >= 400 or "dom" not in row.records:
        return None
    return row.final_url, *locate(row.warc_key, row.records["dom"])


def _extract_job(job: tuple[str, str, int, int] | None) -> Article | None:
    """:func:`_extract` in a worker process (see :func:`_use_store`)."""
    assert _store is not None, "_use_store() first"
    return _extract(job, _store, _rules)


def _extract(job: tuple[str, str, int, int] | None, store: BlobStore,
             rules: SiteRules | None) -> Article | None:
    """The article in a snapshot's DOM, read with one ranged read."""
    if job is None:
        return None
    url, key, offset, length = job
    _, _, dom = read_record(store.get(key, start=offset, length=length))
    try:
        return extract(dom.decode("utf-8", "replace"), url=url, rules=rules)  # (UTF-8)
    except ExtractError:
        return None


def _differs(row: Any, article: Article | None) -> bool:
    """Whether the snapshot now extracts to something other than what was recorded."""
    if article is None:
        return row.outcome not in ("unpublished", "unavailable")
    if article.wall != (row.outcome == "wall"):
        return True
    if article.gone:
        return bool(row.outcome != "unpublished")
    if row.content_hash is None:
        return row.outcome not in ("wall", "redirected")
    return bool(row.content_hash != content_hash(article)
                or row.extractor_version != article.extractor)


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
