"""Forget an article: its WARCs, versions, edits and events are deleted (a
takedown, a capture that should never have been made); its URLs are kept,
marked ``forgotten``, so that neither a feed nor a reader's snapshot archives
it again.

A payload first archived in one of its WARCs may be what a revisit record of
another article points at (a site's stylesheet, a shared photo): such
records are copied to a WARC of their own first, and the dedup index is
pointed there, so the other articles still replay whole. The rest of its
payloads leave the index: a later capture archives them in full again.

Messages about it the webhook has not taken yet are deleted too.

The steps are ordered so that a crash leaves nothing the database does not
know of and running it again finishes the work: the shared records are
stored and the index re-pointed before any WARC is deleted, and the rows go
last.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from . import dedup
from .database import to_db_time, translated
from .errors import HistoryError
from .history import FORGOTTEN, HistoryStore
from .identity import known_article
from .models import StoredWarc
from .schema import (
    articles,
    deliveries,
    edits,
    events,
    kept_warcs,
    payloads,
    revisits,
    snapshots,
    versions,
)
from .storage import BlobStore
from .warc import iter_records

#: Where the records other articles' revisits need are kept
KEPT_PREFIX = "kept"


@dataclass(frozen=True)
class Forgotten:
    url: str
    article_id: str
    snapshots: int
    bytes_deleted: int
    #: payloads other articles' revisits point at, copied to ``kept_warc``
    payloads_kept: int
    payloads_dropped: int
    kept_warc: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def forget(history: HistoryStore, store: BlobStore, url: str) -> Forgotten:
    """Delete everything archived of the article at ``url`` but its URLs."""
    engine = history.engine
    with translated("read the article"), engine.connect() as conn:
        aid = known_article(conn, url)
        if aid is None:
            raise HistoryError(f"{url} is not tracked: there is nothing to forget")
        warcs = conn.execute(select(snapshots.c.warc_key, snapshots.c.warc_size,
                                    snapshots.c.fetched_at)
                             .where(snapshots.c.article_id == aid)).all()
        keys = {w.warc_key for w in warcs}
        originals = conn.execute(select(payloads).where(payloads.c.warc_key.in_(keys))).all()
    if originals:
        _index_revisits(history, store, aid, since=min(w.fetched_at for w in warcs))
    with translated("read the article"), engine.connect() as conn:
        needed = dedup.referring(conn, {o.digest for o in originals}, outside=keys)
    kept = [o for o in originals if o.digest in needed]
    stored = _keep(store, kept)
    with translated("forget the article"), engine.begin() as conn:
        _repoint(conn, kept, stored)
        for table in (payloads, revisits):
            conn.execute(delete(table).where(table.c.warc_key.in_(keys)))
    for key in keys:
        store.delete(key)
    with translated("forget the article"), engine.begin() as conn:
        _delete_rows(conn, aid)
    return Forgotten(url=url, article_id=aid, snapshots=len(warcs),
                     bytes_deleted=sum(w.warc_size for w in warcs),
                     payloads_kept=len(kept), payloads_dropped=len(originals) - len(kept),
                     kept_warc=stored.key if stored else None)


def _repoint(conn: Connection, kept: list[Any], stored: StoredWarc | None) -> None:
    """Point the index at the kept copies, and note the WARC holding them
    (its size and hash, for the fixity check)."""
    if stored is None:
        return
    conn.execute(kept_warcs.insert().values(
        warc_key=stored.key, warc_size=stored.size, warc_sha256=stored.sha256,
        created_at=to_db_time(datetime.now(UTC))))
    offset = 0
    for o in kept:  # (in the order _keep wrote them)
        conn.execute(update(payloads).where(payloads.c.digest == o.digest)
                     .values(warc_key=stored.key, offset=offset))
        offset += o.length


def _delete_rows(conn: Connection, aid: str) -> None:
    """Everything the database holds of the article but its URLs, which it
    keeps, marked forgotten; and the webhook's messages about it."""
    for table in (events, edits, snapshots, versions):
        conn.execute(delete(table).where(table.c.article_id == aid))
    told = conn.execute(select(deliveries.c.id, deliveries.c.message)).all()
    conn.execute(delete(deliveries).where(deliveries.c.id.in_(
        [d.id for d in told if d.message.get("article_id") == aid])))
    conn.execute(update(articles).where(articles.c.id == aid).values(
        status=FORGOTTEN, watched=False, next_check_at=None, failures=0, last_error=None,
        failing_since=None))


def _index_revisits(history: HistoryStore, store: BlobStore, aid: str, since: datetime) -> None:
    """Index the revisits of other articles' WARCs recorded before the index
    existed, captured since ``since`` (a revisit only ever points back in
    time); each is read once, the first time an article is forgotten."""
    with translated("read the snapshots"), history.engine.connect() as conn:
        unindexed = list(conn.execute(select(snapshots.c.warc_key).where(
            snapshots.c.article_id != aid, snapshots.c.fetched_at >= since,
            ~snapshots.c.revisits_indexed)).scalars())
    for key in unindexed:
        held = {str(record.rec_headers.get_header("WARC-Payload-Digest"))
                for record in iter_records(io.BytesIO(store.get(key)))
                if record.rec_type == "revisit"}
        with translated("index the revisits"), history.engine.begin() as conn:
            dedup.referred(conn, key, held)
            conn.execute(update(snapshots).where(snapshots.c.warc_key == key)
                         .values(revisits_indexed=True))


def _keep(store: BlobStore, kept: list[Any]) -> StoredWarc | None:
    """Copy the records of ``kept`` (each its own gzip member, so copied as
    they are) to a WARC of their own."""
    if not kept:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{KEPT_PREFIX}/{stamp}-{uuid.uuid4().hex[:8]}.warc.gz"
    data = b"".join(store.get(o.warc_key, start=o.offset, length=o.length) for o in kept)
    store.put(key, data)
    return StoredWarc(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
