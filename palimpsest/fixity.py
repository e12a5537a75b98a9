"""Fixity: every stored WARC still holds exactly the bytes recorded for it.

Each snapshot is recorded with its WARC's size and SHA-256 (so is each WARC
of records kept for revisits when an article was forgotten), taken before the
WARC was stored. Checking them again, now and then, is how an archive that
serves as evidence shows it was not altered since, and finds what a disk or a
bucket lost or damaged (digital preservation's fixity check). What fails is
reported, not mended.

Checking the whole archive also lists the WARCs in the store that nothing in
the database names: left by a process killed between storing a snapshot's
WARC and recording it (one that fails in any other way deletes its WARC
itself). They can be deleted; nothing refers to them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import null, select

from .database import translated
from .errors import NotStored, StorageError
from .history import HistoryStore
from .identity import tracked_article
from .schema import kept_warcs, snapshots
from .storage import BlobStore

#: WARCs read at once (an S3 read waits mostly on the network)
READERS = 4
#: When a WARC was stored, as its name says: the capture's time (or when
#: records were kept for revisits)
STAMPED = re.compile(r"(?:^|/)(\d{8}T\d{6}Z)-[^/]+\.warc\.gz$")
#: A WARC stored since may belong to a snapshot being recorded now
RECORDING = timedelta(hours=1)


@dataclass
class FixityReport:
    """What a check found: every WARC checked, and those that failed, each
    with its snapshot, key and what was wrong."""

    checked: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    altered: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    #: WARCs no snapshot names (and whether they were deleted)
    unrecorded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.missing) + len(self.altered) + len(self.unreadable)

    @property
    def intact(self) -> int:
        return self.checked - self.failed

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "intact": self.intact,
                "missing": self.missing, "altered": self.altered, "unreadable": self.unreadable,
                "unrecorded": self.unrecorded}


def check_fixity(history: HistoryStore, store: BlobStore, *, url: str | None = None,
                 progress: Callable[[int], None] = lambda n: None,
                 delete_unrecorded: bool = False) -> FixityReport:
    """Read every snapshot's WARC (or those of the article at ``url``) and
    compare its size and SHA-256 with those recorded when it was stored; for
    the whole archive, list the WARCs no snapshot names (and delete them, if
    asked)."""
    report, rows = FixityReport(), _snapshots(history, url)
    if url is None:
        report.unrecorded = _unrecorded(store, {row.warc_key for row in rows})
        for item in report.unrecorded if delete_unrecorded else ():
            store.delete(item["warc_key"])
            item["deleted"] = True
    with ThreadPoolExecutor(max_workers=READERS) as readers:
        for row, found in zip(rows, readers.map(partial(_check, store), rows), strict=True):
            report.checked += 1
            progress(1)
            if found is not None:
                kind, detail = found
                getattr(report, kind).append({"snapshot_id": row.id, "warc_key": row.warc_key,
                                              "url": row.requested_url, **detail})
    return report


def _unrecorded(store: BlobStore, recorded: Iterable[str]) -> list[dict[str, Any]]:
    """The WARCs in the store that none of ``recorded`` is, stored more than
    ``RECORDING`` ago. (Listed after the rows were read: a WARC recorded
    meanwhile is recent, and left out.)"""
    found, known = [], set(recorded)
    now = datetime.now(UTC)
    for key in store.keys():  # noqa: SIM118 (a BlobStore, not a dict)
        stamp = STAMPED.search(key)
        if key in known or stamp is None:
            continue
        stored = datetime.strptime(stamp[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if now - stored > RECORDING:
            found.append({"warc_key": key, "stored_at": stored.isoformat(), "deleted": False})
    return found


def _snapshots(history: HistoryStore, url: str | None) -> list[Any]:
    """The snapshots' WARCs (of the article at ``url``), and unless one is
    asked for, the WARCs kept for revisits when an article was forgotten."""
    with translated("list the snapshots"), history.engine.connect() as conn:
        query = select(snapshots.c.id, snapshots.c.warc_key, snapshots.c.warc_size,
                       snapshots.c.warc_sha256, snapshots.c.requested_url)
        if url is not None:
            query = query.where(snapshots.c.article_id == tracked_article(conn, url))
            return list(conn.execute(query.order_by(snapshots.c.id)))
        kept = select(null().label("id"), kept_warcs.c.warc_key, kept_warcs.c.warc_size,
                      kept_warcs.c.warc_sha256, null().label("requested_url"))
        return [*conn.execute(query.order_by(snapshots.c.id)),
                *conn.execute(kept.order_by(kept_warcs.c.warc_key))]


def _check(store: BlobStore, row: Any) -> tuple[str, dict[str, Any]] | None:
    """What is wrong with the snapshot's WARC, if anything: (missing, altered
    or unreadable, and the details)."""
    try:
        data = store.get(row.warc_key)
    except NotStored as exc:
        return "missing", {"error": str(exc)}
    except StorageError as exc:
        return "unreadable", {"error": str(exc)}
    digest = hashlib.sha256(data).hexdigest()
    if len(data) == row.warc_size and digest == row.warc_sha256:
        return None
    return "altered", {"size": len(data), "expected_size": row.warc_size,
                       "sha256": digest, "expected_sha256": row.warc_sha256}
