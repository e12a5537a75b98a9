"""Backfill histories from web archives made elsewhere.

A WARC or WACZ written by another tool (browsertrix-crawler, Heritrix,
``wget --warc-file``, a download from a Wayback Machine) may hold what an
article said before anyone here tracked it. Each HTML page response in it
becomes a snapshot of its article, at the time it was archived: its records
(the response, and the request that asked for it) are copied byte for byte
into a WARC of the snapshot's own, beside the page's HTML decoded as UTF-8 (a
``resource`` record, read like a rendered DOM), and the article's history is
then rebuilt in time order, older snapshots before the ones taken here.

Every file is read through before anything is recorded: one that is not a
web archive stops the import before it starts. Importing the same file again
adds nothing (a snapshot's WARC is named by its source record's digest) and
rebuilds the histories again: an import that was stopped is finished so.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from . import __version__
from .errors import ArchiveError
from .history import HistoryStore
from .models import Capture, StoredWarc
from .pipeline import extract_capture, warc_key
from .reextract import rebuild
from .schema import snapshots
from .storage import BlobStore
from .urls import normalize_url
from .warc import DOM_PREFIX, checked

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Page:
    """One page response found in a web archive, and its request."""

    url: str
    status: int
    archived_at: datetime
    charset: str
    html: bytes  # (the body, decoded of its transfer and content encodings)
    response: bytes  # the records as they are in the source, each a gzip member
    request: bytes


def backfill(history: HistoryStore, store: BlobStore, paths: list[Path],
             urls: list[str] | None = None) -> dict[str, Any]:
    """Import the page responses of the WARCs or WACZs at ``paths`` (only
    those of ``urls``, if given) as snapshots, and rebuild the histories of
    the articles they belong to; what was imported, per article."""
    wanted = {normalize_url(url) for url in urls} if urls else None
    for path in paths:
        for _ in pages(path):
            pass
    added: dict[str, int] = {}  # article id -> snapshots imported now
    known = 0
    for page in (p for path in paths for p in pages(path)):
        if wanted is None or normalize_url(page.url) in wanted:
            aid, new = _record(history, store, page)
            added[aid], known = added.get(aid, 0) + new, known + (not new)
    rebuilt = [rebuild(history, store, aid) for aid in added]
    return {"snapshots": sum(added.values()), "already_imported": known,
            "articles": [{"url": r["url"], "snapshots_added": added[aid],
                          "versions": r["versions_after"]}
                         for aid, r in zip(added, rebuilt, strict=True)]}


def pages(path: Path) -> Iterator[Page]:
    """The HTML page responses of a WARC (gzipped or not), or of each WARC in
    a WACZ; redirects and other types left out."""
    try:
        if path.suffix.lower() == ".wacz":
            with zipfile.ZipFile(path) as wacz:
                for name in sorted(wacz.namelist()):
                    if name.startswith("archive/") and ".warc" in name:
                        yield from _pages(wacz.read(name))
        else:
            yield from _pages(path.read_bytes())
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"cannot read {path}: {exc}") from exc
    except ArchiveError as exc:
        raise ArchiveError(f"{path}: {exc}") from exc


def _pages(data: bytes) -> Iterator[Page]:
    requests: dict[str, bytes] = {}  # response id -> its request's record
    records, warc = ArchiveIterator(io.BytesIO(data)), False
    for record in checked(records):
        kind = record.rec_type
        warc = warc or record.format == "warc"
        if kind not in ("request", "response"):
            continue
        if kind == "response":  # (the body read before the iterator moves on)
            body = record.content_stream().read()
        raw = _member(data[records.get_record_offset():][:records.get_record_length()])
        if kind == "request":
            requests[record.rec_headers.get_header("WARC-Concurrent-To") or ""] = raw
            continue
        http = record.http_headers
        content_type = (http.get_header("Content-Type") or "") if http else ""
        if http is None or content_type.split(";")[0].strip().lower() not in HTML_TYPES \
                or http.get_statuscode().startswith("3"):
            continue
        record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
        yield Page(url=record.rec_headers.get_header("WARC-Target-URI") or "",
                   status=int(http.get_statuscode()),
                   archived_at=_date(record.rec_headers.get_header("WARC-Date") or ""),
                   charset=_charset(content_type), html=body, response=raw,
                   request=requests.pop(record_id, b""))
    if not warc:  # (warcio reads anything as some record of an ARC file)
        raise ArchiveError("not a WARC file: not one WARC record in it (ARC files are not "
                           "read: warcio's arc2warc converts them)")


def _record(history: HistoryStore, store: BlobStore, page: Page) -> tuple[str, bool]:
    """Store and record one page as a snapshot, unless it was imported
    before; its article's id, and whether it was recorded now."""
    digest = hashlib.sha256(page.response).hexdigest()
    capture = Capture(url=page.url, final_url=page.url, status=page.status,
                      fetched_at=page.archived_at, exchanges=(), settled=False,
                      dom=page.html.decode(page.charset, "replace"))
    key = warc_key(capture, make_suffix=lambda: f"imported-{digest[:16]}")
    with history.engine.connect() as conn:
        before = conn.execute(select(snapshots.c.article_id)
                              .where(snapshots.c.warc_key == key)).scalar()
    if before is not None:
        return before, False
    data, records = _warc(page, capture)
    store.put(key, data)
    stored = StoredWarc(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        records=records)
    try:
        return history.record(capture, extract_capture(capture), stored).article_id, True
    except BaseException:
        store.delete(key)
        raise


def _warc(page: Page, capture: Capture) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """The snapshot's WARC: a warcinfo record, the source's request and
    response as they were, and the HTML decoded as UTF-8 (the "dom" record)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
    writer.write_record(writer.create_warcinfo_record("", {
        "software": f"palimpsest/{__version__}",
        "description": "imported from another web archive: the request and response "
                       "records are copied as they were there"}))
    out.write(page.request)
    start = out.tell()
    out.write(page.response)
    records = {"page": (start, out.tell() - start)}
    start = out.tell()
    writer.write_record(writer.create_warc_record(
        DOM_PREFIX + page.url, "resource", payload=io.BytesIO(capture.dom.encode()),
        warc_content_type="text/html; charset=utf-8",
        warc_headers_dict={"WARC-Date": capture.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    records["dom"] = (start, out.tell() - start)
    return out.getvalue(), records


def _member(raw: bytes) -> bytes:
    """A record as a gzip member of its own: as it is if it was one."""
    return raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw)


def _date(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ArchiveError(f"a record has no usable WARC-Date: {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _charset(content_type: str) -> str:
    """The charset a Content-Type names, if Python knows it; else UTF-8."""
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            try:
                return codecs.lookup(value.strip("\"' ")).name
            except LookupError:
                break
    return "utf-8"
