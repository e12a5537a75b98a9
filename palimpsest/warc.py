"""Write a :class:`Capture` as a gzipped WARC, and read records back.

Each record is its own gzip member, so any record can be read alone from its
offset and length (what a CDX index stores). Record ids and dates come from
injectable seams (``make_id``, the capture's own time) so that tests can
compare WARC bytes exactly.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
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
CAPTURE_INFO_PREFIX = "urn:capture:"
# The browser hands us decoded bodies; a stored body must not claim an
# encoding it no longer has, so these headers are kept under a prefix.
ENCODING_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
ORIG_PREFIX = "X-Archive-Orig-"


def _uuid_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds, as WARC/1.1 allows."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_warc(
    capture: Capture, out: BinaryIO, *, make_id: Callable[[], str] = _uuid_id
) -> dict[str, tuple[int, int]]:
    """Write ``capture`` to ``out``; return (offset, length) of the key records.

    The keys are ``page`` (the final page's response), ``dom`` (the rendered
    DOM) and ``screenshot`` when there is one.
    """
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    date = warc_date(capture.fetched_at)
    positions: dict[str, tuple[int, int]] = {}

    def emit(record: Any, name: str | None = None) -> None:
        start = out.tell()
        writer.write_record(record)
        if name:
            positions[name] = (start, out.tell() - start)

    info = _warcinfo(capture)
    emit(writer.create_warc_record(
        "", "warcinfo", payload=io.BytesIO(info), length=len(info),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Record-ID": make_id(), "WARC-Date": date},
    ))
    page_id = ""
    page = capture.page
    for exchange in capture.exchanges:
        response_id = make_id()
        emit(_response(writer, exchange, response_id, date), "page" if exchange is page else None)
        emit(_request(writer, exchange, make_id(), response_id, date))
        if exchange is page:
            page_id = response_id

    def resource(prefix: str, data: bytes, content_type: str, name: str) -> None:
        emit(writer.create_warc_record(
            prefix + capture.final_url, "resource", payload=io.BytesIO(data),
            length=len(data), warc_content_type=content_type,
            warc_headers_dict={
                "WARC-Record-ID": make_id(), "WARC-Date": date,
                "WARC-Concurrent-To": page_id,
            },
        ), name)

    resource(DOM_PREFIX, capture.dom.encode(), "text/html; charset=utf-8", "dom")
    if capture.screenshot:
        resource(SCREENSHOT_PREFIX, capture.screenshot, "image/png", "screenshot")
    facts = json.dumps(_capture_facts(capture), indent=1).encode()
    emit(writer.create_warc_record(
        CAPTURE_INFO_PREFIX + capture.final_url, "metadata", payload=io.BytesIO(facts),
        length=len(facts), warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Record-ID": make_id(), "WARC-Date": date, "WARC-Concurrent-To": page_id,
        },
    ))
    return positions


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
        "settled": capture.settled,
        "browser": capture.browser_version,
        "redirects": [e.url for e in capture.exchanges if e.redirect],
        "failed_requests": list(capture.failed),
        "requests": len(capture.exchanges),
    }


def _response(writer: WARCWriter, exchange: Exchange, record_id: str, date: str) -> Any:
    headers = []
    for name, value in exchange.response_headers:
        if name.lower() in ENCODING_HEADERS:
            name = ORIG_PREFIX + name
        headers.append((name, value))
    headers.append(("Content-Length", str(len(exchange.body))))
    http = StatusAndHeaders(
        f"{exchange.status} {exchange.reason}".strip(), headers, protocol="HTTP/1.1"
    )
    return writer.create_warc_record(
        exchange.url, "response", payload=io.BytesIO(exchange.body), length=len(exchange.body),
        http_headers=http,
        warc_headers_dict={"WARC-Record-ID": record_id, "WARC-Date": date},
    )


def _request(
    writer: WARCWriter, exchange: Exchange, record_id: str, response_id: str, date: str
) -> Any:
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = [(k, v) for k, v in exchange.request_headers if not k.startswith(":")]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    body = exchange.request_body or b""
    http = StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1", headers, is_http_request=True)
    return writer.create_warc_record(
        exchange.url, "request", payload=io.BytesIO(body), length=len(body), http_headers=http,
        warc_headers_dict={
            "WARC-Record-ID": record_id, "WARC-Date": date, "WARC-Concurrent-To": response_id,
        },
    )


def iter_records(stream: BinaryIO) -> Iterator[Any]:
    """Iterate over the records of a WARC, translating format errors."""
    try:
        yield from ArchiveIterator(stream)
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"malformed WARC: {exc}") from exc


def read_record(data: bytes) -> tuple[str, str, bytes]:
    """(type, target URI, payload) of the single record in ``data``."""
    for record in iter_records(io.BytesIO(data)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        return record.rec_type, uri, record.content_stream().read()
    raise ArchiveError("no WARC record at that position")


def page_from_warc(stream: BinaryIO) -> tuple[str, str]:
    """(URL, rendered DOM) of the page in a Palimpsest WARC.

    WARCs from other tools have no DOM record; the last HTML response is used.
    """
    html_response: tuple[str, str] | None = None
    for record in iter_records(stream):
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
