"""Backfill histories from web archives made elsewhere.

A WARC or WACZ written by another tool (browsertrix-crawler, Heritrix,
``wget --warc-file``, a download from a Wayback Machine), or an ARC file (the
Internet Archive's format before WARC, 1996-2009), may hold what an article
said before anyone here tracked it. Each HTML page response in it
becomes a snapshot of its article, at the time it was archived: its records
(the response, and the request that asked for it) are copied byte for byte
into a WARC of the snapshot's own, beside the page's HTML decoded as UTF-8 (a
``resource`` record, read like a rendered DOM), and the article's history is
then rebuilt in time order, older snapshots before the ones taken here. An
ARC file's records are written as WARC records, as warcio converts them
(the HTTP response as it was, a WARC header made of the ARC record's).
A page archived again unchanged by a crawler that deduplicates (a
``revisit`` record, as Heritrix and Archive-It write them) is a snapshot
too, the record it refers to copied after it: that the page had not changed
then is worth knowing. A page the archive reached by a redirect (an old
address, http to https) is
the snapshot of the address first asked for, as a capture here would be: the
redirect's records are copied too, before the page's.

Every file is read through before anything is recorded: one that is not a
web archive stops the import before it starts. Importing the same file again
adds nothing (a snapshot's WARC is named by its source record's digest) and
rebuilds the histories again: an import that was stopped is finished so.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from . import __version__
from .database import iso_time
from .errors import ArchiveError, Forgotten
from .history import HistoryStore
from .identity import aliases, find_article
from .models import Capture, StoredWarc
from .pipeline import extract_capture, warc_key
from .reextract import rebuild
from .schema import snapshots
from .storage import BlobStore
from .urls import normalize_url
from .warc import DOM_PREFIX, HTML_TYPES, arc_version, charset, checked, media_type

#: How long before a page a redirect to it may have been archived and still
#: be taken as the way there: a crawler queues the address a redirect gives,
#: and may fetch it hours later
REDIRECT_LEAD = timedelta(days=1)


@dataclass(frozen=True)
class Stored:
    """Where a record lies in a web archive."""

    source: _Warc
    position: tuple[int, int]

    def read(self) -> bytes:
        """The record, as it is there (a gzip member)."""
        with _reading(self.source) as reading:
            return reading.read(self.position)


@dataclass(frozen=True)
class Redirect:
    """A redirect found in a web archive: from ``url`` to ``target``, and
    where its records (request, if any, and response) lie there: a crawl may
    hold many, read only for the pages they led to."""

    url: str
    target: str
    archived_at: datetime
    records: tuple[Stored, ...]


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
    converted: bool = False  # (from an ARC file: the records are WARC records made of its)
    #: False for a revisit whose original is in none of the files imported
    #: (its body is not known: it cannot be a snapshot)
    whole: bool = True


def backfill(history: HistoryStore, store: BlobStore, paths: list[Path],
             urls: list[str] | None = None,
             say: Callable[[str], None] = lambda news: None) -> dict[str, Any]:
    """Import the page responses of the WARCs or WACZs at ``paths`` (only
    those of ``urls``' articles, if given) as snapshots, and rebuild the
    histories of the articles they belong to; what was imported, per
    article. How it goes is told to ``say`` as it goes (a crawl's files take
    a while to read)."""
    sources = []
    for warc in (warc for path in paths for warc in _warcs(path)):
        sources.append((warc, index := _index(warc)))
        say(f"{warc.name}: read through")
    redirects, originals = _gathered(sources)
    imported = _Imported()
    wanted = _known_as(history, urls) if urls else None
    taken: set[str] = set()  # (the URLs whose pages were imported already)
    while True:
        for warc, index in sources:
            listed = wanted or warc.pages
            for page in _pages(warc, index.requests, originals):
                chain = _chain(redirects, page)
                asked = {normalize_url(u) for u in (page.url, *(r.url for r in chain))}
                if listed is None or (not listed.isdisjoint(asked) and taken.isdisjoint(asked)):
                    imported.add(history, store, page, chain)
            say(f"{warc.name}: imported ({sum(imported.added.values())} snapshot(s) so far)")
        # The pages imported may have made their articles known by more URLs
        # (their canonical; where redirects led): the pages of those are theirs too.
        if wanted is None or (known := _known_as(history, urls or [])) <= wanted:
            break
        say(f"the articles are known by {len(known - wanted)} more URL(s): their pages too")
        taken, wanted = wanted, known
    rebuilt = [rebuild(history, store, aid) for aid in imported.added]
    return {"snapshots": sum(imported.added.values()), "already_imported": imported.known,
            "forgotten": imported.forgotten, "revisits_without_original": imported.unresolved,
            "articles": [{"url": r["url"], "snapshots_added": imported.added[aid],
                          "versions": r["versions_after"]}
                         for aid, r in zip(imported.added, rebuilt, strict=True)]}


def _gathered(sources: list[tuple[_Warc, _Index]]
              ) -> tuple[dict[str, list[Redirect]], dict[str, Stored]]:
    """What the files imported hold, for the pages of any to refer to: the
    redirects (by where they led) and the pages (by payload digest: what a
    revisit refers to)."""
    redirects: dict[str, list[Redirect]] = {}
    originals: dict[str, Stored] = {}
    for warc, index in sources:
        for redirect in index.redirects:
            redirects.setdefault(normalize_url(redirect.target), []).append(redirect)
        for digest, position in index.pages.items():
            originals.setdefault(digest, Stored(warc, position))
    return redirects, originals


@dataclass
class _Imported:
    """The pages imported so far, and those left out (and why)."""

    added: dict[str, int] = field(default_factory=dict)  # article id -> snapshots now
    known: int = 0  # imported before
    forgotten: int = 0  # of an article forgotten
    unresolved: int = 0  # a revisit whose original is in none of the files

    def add(self, history: HistoryStore, store: BlobStore, page: Page,
            chain: tuple[Redirect, ...]) -> None:
        """Record ``page``, reached by ``chain``, unless it cannot be."""
        if not page.whole:
            self.unresolved += 1
            return
        try:
            aid, new = _record(history, store, page, chain)
        except Forgotten:  # (a takedown holds for what others archived too)
            self.forgotten += 1
            return
        self.added[aid] = self.added.get(aid, 0) + new
        self.known += not new


@dataclass(frozen=True)
class _Warc:
    """A WARC file, or one inside a WACZ (``member``), and the pages the
    WACZ lists (None: every HTML response is a page)."""

    path: Path
    member: str | None = None
    pages: frozenset[str] | None = None

    @property
    def name(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def open(self, stack: ExitStack) -> BinaryIO:
        """The WARC, read from its start, closed with ``stack``."""
        if self.member is None:
            return stack.enter_context(self.path.open("rb"))
        wacz = stack.enter_context(zipfile.ZipFile(self.path))
        return stack.enter_context(wacz.open(self.member))  # type: ignore[return-value]


def _warcs(path: Path) -> list[_Warc]:
    """The WARC at ``path`` (gzipped or not), or each WARC in the WACZ there."""
    if path.suffix.lower() != ".wacz":
        return [_Warc(path)]
    try:
        with zipfile.ZipFile(path) as wacz:
            names = wacz.namelist()
            lists = [wacz.read(n) for n in names if n.startswith("pages/") and n.endswith(".jsonl")]
        # (a frame's document, an embed, is an HTML response too, but not one of its pages)
        pages = frozenset(normalize_url(page["url"]) for text in lists
                          for page in map(json.loads, text.splitlines()) if "url" in page) or None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ArchiveError(f"cannot read {path}: {exc}") from exc
    return [_Warc(path, name, pages) for name in sorted(names)
            if name.startswith("archive/") and ".warc" in name]


class _Reading:
    """The records of a WARC (or an ARC file's, as WARC records) being read,
    and where each lies in it."""

    def __init__(self, stream: BinaryIO, again: BinaryIO) -> None:
        self.arc = arc_version(again) is not None
        self.records, self._again = ArchiveIterator(stream, arc2warc=self.arc), again

    def __iter__(self) -> Iterator[Any]:
        return checked(self.records)

    def position(self) -> tuple[int, int]:
        """(offset, length) of the record just read."""
        return self.records.get_record_offset(), self.records.get_record_length()

    def read(self, position: tuple[int, int]) -> bytes:
        """The record at ``position`` as it is there (an ARC file's, as a
        WARC record): a gzip member (one is made of a record stored
        uncompressed)."""
        self._again.seek(position[0])
        data = self._again.read(position[1])
        if self.arc:
            return _converted(data)
        return data if data[:2] == b"\x1f\x8b" else gzip.compress(data)


def _converted(arc: bytes) -> bytes:
    """An ARC file's record as a WARC record, as warcio converts it: the HTTP
    response as it was, a WARC header made from the ARC's. Its record id is
    made of the ARC record's digest, so that a record converted again is the
    same, byte for byte (an import is named by its records' digest)."""
    record = next(ArchiveIterator(io.BytesIO(arc), arc2warc=True))
    made = uuid.uuid5(uuid.NAMESPACE_URL, "sha256:" + hashlib.sha256(arc).hexdigest())
    record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{made}>")
    out = io.BytesIO()
    WARCWriter(out, gzip=True, warc_version="WARC/1.1").write_record(record)
    return out.getvalue()


@contextmanager
def _reading(warc: _Warc) -> Iterator[_Reading]:
    try:
        with ExitStack() as stack:
            yield _Reading(warc.open(stack), warc.open(stack))
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"cannot read {warc.name}: {exc}") from exc
    except ArchiveError as exc:
        raise ArchiveError(f"{warc.name}: {exc}") from exc


@dataclass
class _Index:
    """What reading a WARC through found: where its requests lie (by the
    record of the response each asked for), its redirects, and where its
    pages lie by their payload's digest (what a revisit of one names)."""

    requests: dict[str, tuple[int, int]] = field(default_factory=dict)
    redirects: list[Redirect] = field(default_factory=list)
    pages: dict[str, tuple[int, int]] = field(default_factory=dict)


def _known_as(history: HistoryStore, urls: list[str]) -> set[str]:
    """``urls``, and every other URL their articles are known by already
    (canonical, redirected to, without tracking parameters)."""
    wanted = {normalize_url(url) for url in urls}
    with history.engine.connect() as conn:
        for url in list(wanted):
            if (aid := find_article(conn, [url])) is not None:
                wanted.update(aliases(conn, aid))
    return wanted


def _index(warc: _Warc) -> _Index:
    """What ``warc`` holds, reading it through: one that is neither a WARC
    nor an ARC file stops the import here."""
    index, found, hops = _Index(), False, []
    with _reading(warc) as reading:
        for record in reading:
            found = found or record.format == "warc"
            headers, http = record.rec_headers, record.http_headers
            if record.rec_type == "request":
                index.requests[headers.get_header("WARC-Concurrent-To") or ""] = \
                    reading.position()
            elif record.rec_type != "response" or http is None:
                continue
            elif http.get_statuscode()[:1] == "3" and http.get_header("Location"):
                url = headers.get_header("WARC-Target-URI") or ""
                hops.append((url, urljoin(url, http.get_header("Location")),
                             _date(headers.get_header("WARC-Date") or ""),
                             headers.get_header("WARC-Record-ID") or "", reading.position()))
            elif _is_page(http) and (digest := headers.get_header("WARC-Payload-Digest")):
                index.pages.setdefault(digest, reading.position())
    if not found:  # (warcio reads anything as some record of an ARC file)
        raise ArchiveError(f"{warc.name}: not a WARC or ARC file: not one WARC record in it, "
                           "and no ARC file's header at its start")
    for url, target, when, rid, position in hops:  # (a request may come after its response)
        asked = index.requests.get(rid)
        records = ((Stored(warc, asked),) if asked else ()) + (Stored(warc, position),)
        index.redirects.append(Redirect(url, target, when, records))
    return index


def _is_page(http: Any) -> bool:
    """Whether a response (its HTTP headers) is a page: HTML, not a redirect."""
    content_type = http.get_header("Content-Type") or ""
    return media_type(content_type) in HTML_TYPES \
        and not http.get_statuscode().startswith("3")


def _asked(reading: _Reading, position: tuple[int, int] | None) -> bytes:
    """The request record at ``position``, if there is one."""
    return reading.read(position) if position else b""


def _chain(redirects: dict[str, list[Redirect]], page: Page) -> tuple[Redirect, ...]:
    """The redirects that led to ``page``, first first: to each address, the
    last archived before it (within ``REDIRECT_LEAD``), if there is one."""
    chain: list[Redirect] = []
    url, when = page.url, page.archived_at
    # (each hop taken once: an archive that went round a loop holds one)
    while hops := [r for r in redirects.get(normalize_url(url), ())
                   if when - REDIRECT_LEAD <= r.archived_at <= when and r not in chain]:
        chain.append(max(hops, key=lambda r: r.archived_at))
        url, when = chain[-1].url, chain[-1].archived_at
    return tuple(reversed(chain))


def _pages(warc: _Warc, requests: dict[str, tuple[int, int]],
           originals: dict[str, Stored]) -> Iterator[Page]:
    """The HTML page responses of ``warc``, and its revisits of those in
    ``originals`` (a page archived again unchanged, as a crawler that
    deduplicates writes it: the record it refers to is copied after it);
    redirects and other types left out."""
    with _reading(warc) as reading:
        for record in reading:
            headers, http = record.rec_headers, record.http_headers
            if record.rec_type == "response" and http is not None and _is_page(http):
                body, response, whole = record.content_stream().read(), b"", True
            elif record.rec_type == "revisit" and http is not None and _is_page(http):
                original = originals.get(headers.get_header("WARC-Payload-Digest") or "")
                response, whole = (original.read(), True) if original else (b"", False)
                body = next(ArchiveIterator(io.BytesIO(response))).content_stream().read() \
                    if whole else b""
            else:
                continue
            request = requests.get(headers.get_header("WARC-Record-ID") or "")
            yield Page(url=headers.get_header("WARC-Target-URI") or "",
                       status=int(http.get_statuscode()),
                       archived_at=_date(headers.get_header("WARC-Date") or ""),
                       charset=charset(http.get_header("Content-Type") or ""), html=body,
                       response=reading.read(reading.position()) + response,
                       request=_asked(reading, request), converted=reading.arc,
                       whole=whole)


def _record(history: HistoryStore, store: BlobStore, page: Page,
            chain: tuple[Redirect, ...]) -> tuple[str, bool]:
    """Store and record one page, reached by the redirects of ``chain``, as a
    snapshot, unless it was imported before; its article's id, and whether
    it was recorded now."""
    digest = hashlib.sha256(page.response).hexdigest()
    capture = Capture(url=chain[0].url if chain else page.url, final_url=page.url,
                      status=page.status, fetched_at=page.archived_at, exchanges=(),
                      settled=False, dom=page.html.decode(page.charset, "replace"),
                      redirect_chain=tuple(r.url for r in chain))
    key = warc_key(capture, make_suffix=lambda: f"imported-{digest[:16]}")
    with history.engine.connect() as conn:
        before = conn.execute(select(snapshots.c.article_id)
                              .where(snapshots.c.warc_key == key)).scalar()
    if before is not None:
        return before, False
    data, records = _warc(page, capture, chain)
    store.put(key, data)
    stored = StoredWarc(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        records=records)
    try:
        return history.record(capture, extract_capture(capture), stored).article_id, True
    except BaseException:
        store.delete(key)
        raise


def _warc(page: Page, capture: Capture,
          chain: tuple[Redirect, ...]) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """The snapshot's WARC: a warcinfo record, the source's records as they
    were (each redirect's request and response, then the page's), and the
    HTML decoded as UTF-8 (the "dom" record)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
    writer.write_record(writer.create_warcinfo_record("", {
        "software": f"palimpsest/{__version__}",
        "description": "imported from another web archive: " + (
            "its ARC file's records, as WARC records (each HTTP response as it was there, "
            "a WARC header made of the ARC record's)" if page.converted else
            "the request and response records are copied as they were there (a "
            "revisit's, then the record it refers to)")}))
    for redirect in chain:
        out.write(b"".join(record.read() for record in redirect.records))
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


def _date(value: str) -> datetime:
    try:
        return iso_time(value)
    except ValueError as exc:
        raise ArchiveError(f"a record has no usable WARC-Date: {value!r}") from exc

