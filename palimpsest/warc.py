"""Write a :class:`Capture` as a gzipped WARC, and read records back.

Each record is its own gzip member, so any record can be read alone from its
offset and length (what a CDX index stores). Record ids and dates come from
injectable seams (``make_id``, the capture's own time) so that tests can
compare WARC bytes exactly.
"""

from __future__ import annotations

import base64
import codecs
import gzip
import hashlib
import io
import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import __version__
from .errors import ArchiveError
from .models import Capture, Exchange

WARC_VERSION = "WARC/1.1"
DOM_PREFIX = "urn:dom:"
SCREENSHOT_PREFIX = "urn:screenshot:"
#: The rendered document of a frame of the page, by the frame's URL
FRAME_PREFIX = "urn:frame:"
CAPTURE_INFO_PREFIX = "urn:capture:"
HTML = "text/html; charset=utf-8"
#: Payloads compressed already, which deflate's slower levels shrink no
#: further: a screenshot takes 7 ms at warcio's level 9, 4.7 ms at level 1,
#: and comes out no larger
PACKED = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/avif", "video/",
          "audio/", "font/woff", "application/font-woff", "application/zip", "application/gzip")
# The browser hands us decoded bodies; a stored body must not claim an
# encoding it no longer has, so these headers are kept under a prefix.
ENCODING_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
ORIG_PREFIX = "X-Archive-Orig-"
#: Below this a revisit record (~500 bytes of headers) saves nothing.
MIN_DEDUP_BYTES = 512


def _uuid_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds, as WARC/1.1 allows."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Original:
    """Where a payload was first archived: what a revisit record refers to."""

    uri: str
    date: str
    warc_key: str
    offset: int
    length: int


@dataclass
class Layout:
    """What :func:`write_warc` wrote: key record positions and new payloads."""

    #: "page", "dom", "screenshot", "capture" (the metadata record) -> (offset,
    #: length) in this WARC, or (offset, length, warc key) of the original when
    #: the record is a revisit
    records: dict[str, tuple[int, int] | tuple[int, int, str]] = field(default_factory=dict)
    #: payload digest -> where it now lives, for every full record written
    payloads: dict[str, Original] = field(default_factory=dict)
    #: digests of the payloads written as revisits of a record in another WARC
    revisits: set[str] = field(default_factory=set)


def payload_digest(data: bytes) -> str:
    """The ``WARC-Payload-Digest`` warcio writes (SHA-1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def payload_digests(capture: Capture) -> set[str]:
    """Digests of the payloads :func:`write_warc` may deduplicate."""
    bodies = [e.body for e in capture.exchanges if e.repeatable]
    bodies += [capture.dom.encode(), capture.screenshot or b""]
    bodies += [frame.dom.encode() for frame in capture.frames if frame.dom is not None]
    return {payload_digest(b) for b in bodies if len(b) >= MIN_DEDUP_BYTES}


def write_warc(
    capture: Capture, out: BinaryIO, *, key: str = "",
    originals: Mapping[str, Original] | None = None, make_id: Callable[[], str] = _uuid_id,
) -> Layout:
    """Write ``capture`` to ``out`` as the WARC named ``key``.

    A payload found in ``originals`` (digest -> first archived copy), or
    written earlier in this WARC, becomes a ``revisit`` record (the
    identical-payload-digest profile) instead of being stored again.
    """
    warc = _Builder(capture, out, key, dict(originals or {}), make_id)
    warc.warcinfo()
    page, page_id = capture.page, ""
    for exchange in capture.exchanges:
        response_id = warc.exchange(exchange, is_page=exchange is page)
        page_id = response_id if exchange is page else page_id
    linked, url = {"WARC-Concurrent-To": page_id}, capture.final_url
    rendered = capture.rendered_at
    warc.resource(DOM_PREFIX + url, capture.dom.encode(), HTML, linked, rendered, name="dom")
    if capture.screenshot:
        warc.resource(SCREENSHOT_PREFIX + url, capture.screenshot, "image/png", linked,
                      rendered, name="screenshot")
    for frame in capture.frames:
        if frame.dom is not None:
            warc.resource(FRAME_PREFIX + frame.url, frame.dom.encode(), HTML, linked, rendered)
    facts = json.dumps(_capture_facts(capture), indent=1).encode()
    warc.layout.records["capture"] = warc.write(warc.writer.create_warc_record(
        CAPTURE_INFO_PREFIX + capture.final_url, "metadata", payload=io.BytesIO(facts),
        length=len(facts), warc_content_type="application/json",
        warc_headers_dict={**warc.headers(), **linked}))
    return warc.layout


class _Builder:
    """Writes the records of one WARC, turning payloads seen before into revisits."""

    def __init__(self, capture: Capture, out: BinaryIO, key: str,
                 known: dict[str, Original], make_id: Callable[[], str]) -> None:
        self.capture, self.out, self.key, self.known = capture, out, key, known
        self.make_id = make_id
        self.members = _Members(out)
        self.writer = WARCWriter(self.members, gzip=False, warc_version=WARC_VERSION)
        self.date = warc_date(capture.fetched_at)
        self.layout = Layout()

    def headers(self, when: datetime | None = None) -> dict[str, str]:
        """A new record's id, and its date: ``when`` its capture began (by
        default, when the page's did)."""
        return {"WARC-Record-ID": self.make_id(),
                "WARC-Date": warc_date(when) if when is not None else self.date}

    def write(self, record: Any) -> tuple[int, int]:
        start = self.out.tell()
        http = record.http_headers
        content_type = (http.get_header("Content-Type") if http else record.content_type) or ""
        self.members.level = 1 if content_type.lower().startswith(PACKED) else 6
        self.writer.write_record(record)
        return start, self.out.tell() - start

    def warcinfo(self) -> None:
        info = _warcinfo(self.capture)
        name = self.key.rsplit("/", 1)[-1]
        self.write(self.writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info), length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={**self.headers(), **({"WARC-Filename": name} if name else {})}))

    def exchange(self, exchange: Exchange, *, is_page: bool) -> str:
        """Write the response (or its revisit) and then its request; the response's id."""
        http = _response_head(exchange)
        served = {"WARC-IP-Address": exchange.ip_address} if exchange.ip_address else {}
        cut = {"WARC-Truncated": exchange.truncated} if exchange.truncated else {}
        response_id = self.payload(
            exchange.url, exchange.body,
            lambda headers: _response(self.writer, exchange, http, headers), http=http,
            extra={**served, **cut}, when=exchange.sent_at, name="page" if is_page else None,
            dedup=exchange.repeatable)
        self.write(_request(self.writer, exchange, {
            **self.headers(exchange.sent_at), **served, "WARC-Concurrent-To": response_id}))
        return response_id

    def resource(self, uri: str, data: bytes, content_type: str, linked: dict[str, str],
                 when: datetime | None, name: str | None = None) -> None:
        self.payload(uri, data, lambda headers: self.writer.create_warc_record(
            uri, "resource", payload=io.BytesIO(data), length=len(data),
            warc_content_type=content_type, warc_headers_dict=headers,
        ), extra=linked, when=when, name=name)

    def payload(self, uri: str, data: bytes, full: Callable[[dict[str, str]], Any], *,
                http: Any = None, extra: dict[str, str] | None = None,
                when: datetime | None = None, name: str | None = None,
                dedup: bool = True) -> str:
        """Write a record carrying ``data`` (captured ``when``), or a revisit
        if it was archived before; either way with the ``extra`` headers."""
        digest = payload_digest(data) if dedup and len(data) >= MIN_DEDUP_BYTES else None
        original = self.known.get(digest) if digest else None
        headers = {**self.headers(when), **(extra or {})}
        if original is None:
            record = full(headers)
        else:
            record = self.writer.create_revisit_record(
                uri, digest, original.uri, original.date, http_headers=http,
                warc_headers_dict=headers)
        start, length = self.write(record)
        if original is None and digest:
            self.known[digest] = self.layout.payloads[digest] = Original(
                uri, headers["WARC-Date"], self.key, start, length)
        elif original is not None and original.warc_key != self.key:
            self.layout.revisits.add(str(digest))
        if name:
            self.layout.records[name] = ((start, length) if original is None else
                                         (original.offset, original.length, original.warc_key))
        return str(record.rec_headers.get_header("WARC-Record-ID"))


class _Members:
    """Where the writer writes: each record its own gzip member (as warcio
    writes them), deflated at ``level``: zlib's default for most, the
    fastest for a payload compressed already (see ``PACKED``)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.level = out, 6
        self._deflate: Any = None

    def write(self, data: bytes) -> None:
        if self._deflate is None:  # (a record begins)
            self._deflate = zlib.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self.out.write(self._deflate.compress(data))

    def flush(self) -> None:
        """The record is written: its member ends."""
        if self._deflate is not None:
            self.out.write(self._deflate.flush())
            self._deflate = None
        self.out.flush()


def locate(warc_key: str, position: Sequence[Any]) -> tuple[str, int, int]:
    """(WARC key, offset, length) of a key record as :class:`Layout` stores it."""
    if len(position) > 2:
        return str(position[2]), int(position[0]), int(position[1])
    return warc_key, int(position[0]), int(position[1])


def _warcinfo(capture: Capture) -> bytes:
    fields = {
        "software": f"palimpsest/{__version__}",
        "browser": capture.browser_version,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
    }
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode()


def _capture_facts(capture: Capture) -> dict[str, Any]:
    return {
        "url": capture.url,
        "final_url": capture.final_url,
        "status": capture.status,
        "fetched_at": capture.fetched_at.isoformat(),
        "rendered_at": capture.rendered_at.isoformat() if capture.rendered_at else None,
        "settled": capture.settled,
        "browser": capture.browser_version,
        "redirect_chain": [*capture.redirect_chain, capture.final_url],
        "redirects": [e.url for e in capture.exchanges if e.redirect],
        "failed_requests": list(capture.failed),
        "requests": len(capture.exchanges),
        "timings": capture.timings,
        "conditions": capture.conditions,
        "servers": capture.servers,
        "frames": [{"url": f.url, "parent": f.parent, "name": f.name,
                    "dom": "archived" if f.dom is not None else f.unread}
                   for f in capture.frames],
    }


def _response_head(exchange: Exchange) -> StatusAndHeaders:
    """The HTTP head as served, adjusted to the body as stored (decoded, dechunked)."""
    stored = exchange.body
    headers, length_kept = [], False
    # (a body stored still content-encoded keeps its Content-Encoding)
    renamed = [h for h in ENCODING_HEADERS if not (exchange.encoded and h == "content-encoding")]
    for name, value in exchange.response_headers:
        lowered = name.lower()
        if lowered == "content-length" and value.strip() == str(len(stored)):
            length_kept = True
        elif lowered in renamed:
            name = ORIG_PREFIX + name
        headers.append((name, value))
    if not length_kept:
        headers.append(("Content-Length", str(len(stored))))
    return StatusAndHeaders(f"{exchange.status} {exchange.reason}".strip(), headers,
                            protocol=exchange.protocol or "HTTP/1.1")


def _response(writer: WARCWriter, exchange: Exchange, http: StatusAndHeaders,
              headers: dict[str, str]) -> Any:
    return writer.create_warc_record(
        exchange.url, "response", payload=io.BytesIO(exchange.body), length=len(exchange.body),
        http_headers=http, warc_headers_dict=headers,
    )


def _request(writer: WARCWriter, exchange: Exchange, headers: dict[str, str]) -> Any:
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    sent = [(k, v) for k, v in exchange.request_headers if not k.startswith(":")]
    if not any(k.lower() == "host" for k, _ in sent):
        sent.insert(0, ("Host", parts.netloc))
    body = exchange.request_body or b""
    http = StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1", sent, is_http_request=True)
    return writer.create_warc_record(
        exchange.url, "request", payload=io.BytesIO(body), length=len(body), http_headers=http,
        warc_headers_dict=headers,
    )


#: The media types of an HTML page
HTML_TYPES = ("text/html", "application/xhtml+xml")


def media_type(content_type: str) -> str:
    """The media type a Content-Type names, its parameters left out ("" if none)."""
    return content_type.split(";")[0].strip().lower()


def charset(content_type: str) -> str:
    """The charset a Content-Type names, if Python knows it; else UTF-8."""
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            try:
                return codecs.lookup(value.strip("\"' ")).name
            except LookupError:
                break
    return "utf-8"


def iter_records(stream: BinaryIO) -> Iterator[Any]:
    """Iterate over the records of a WARC, translating format errors."""
    return checked(ArchiveIterator(stream))


def checked(records: Iterable[Any]) -> Iterator[Any]:
    """``records`` (an ``ArchiveIterator``), with format errors as :class:`ArchiveError`."""
    try:
        yield from records
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"malformed WARC: {exc}") from exc


def read_record(data: bytes) -> tuple[str, str, bytes]:
    """(type, target URI, payload) of the single record in ``data``."""
    for record in iter_records(io.BytesIO(data)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        return record.rec_type, uri, record.content_stream().read()
    raise ArchiveError("no WARC record at that position")


def arc_version(stream: BinaryIO) -> int | None:
    """The version of the ARC file ``stream`` is (gzipped or not), from its
    first record (its "filedesc"); None if it is not one. It is read from its
    start again afterwards. Only version 1 is read: warcio takes a version
    2 record's header for its URL, and its date for 1900."""
    gzipped = stream.read(2) == b"\x1f\x8b"
    stream.seek(0)
    try:
        head = (gzip.GzipFile(fileobj=stream) if gzipped else stream).read(512)
    except (OSError, EOFError):
        head = b""
    stream.seek(0)
    if not head.startswith(b"filedesc://"):
        return None
    version = head.split(b"\n")[1].split(b" ")[0] if head.count(b"\n") > 1 else b""
    if version != b"1":
        raise ArchiveError(f"an ARC file of version {version.decode('latin-1') or '?'}: "
                           "only version 1 is read")
    return 1


def page_from_warc(stream: BinaryIO) -> tuple[str, str]:
    """(URL, rendered DOM) of the page in a Palimpsest WARC.

    WARCs from other tools have no DOM record; the last HTML response is used
    (an ARC file's too).
    """
    html_response: tuple[str, str] | None = None
    arc = arc_version(stream) is not None
    for record in checked(ArchiveIterator(stream, arc2warc=arc)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        if record.rec_type == "resource" and uri.startswith(DOM_PREFIX):
            return uri[len(DOM_PREFIX):], record.content_stream().read().decode("utf-8", "replace")
        if record.rec_type == "response" and record.http_headers:
            ctype = record.http_headers.get_header("Content-Type") or ""
            if "html" in ctype and record.http_headers.get_statuscode().startswith("2"):
                html_response = (uri, record.content_stream().read().decode("utf-8", "replace"))
    if html_response is None:
        raise ArchiveError("the WARC holds no rendered DOM and no HTML response")
    return html_response
