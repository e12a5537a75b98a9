"""The CDXJ index of a WARC: a line for each record a replay may look up.

Each line is ``key timestamp {json}``; the key is the record's URI in SURT
form. A request that is not a GET is keyed with its method, and a POST or PUT
with its body too, by the IIPC's guideline for CDX keys of non-GET requests,
which pywb and ReplayWeb.page follow when they look one up: on replay, a GET
of a URL is not answered with what a POST to it got, nor one POST with
another's answer (an API taking JSON queries at one URL).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes, urlencode, urlsplit

from warcio.archiveiterator import ArchiveIterator

from .errors import ArchiveError
from .warc import checked, media_type

#: Characters of a request body a key carries, at most
MAX_BODY_QUERY = 4096


def cdxj_lines(filename: str, data: bytes) -> Iterator[str]:
    """CDXJ index lines for the records of one WARC, named ``filename``."""
    lines, requests = [], {}
    records = ArchiveIterator(io.BytesIO(data))
    for record in checked(records):
        if record.rec_type == "request":
            requests[record.rec_headers.get_header("WARC-Concurrent-To")] = (
                record.http_headers.protocol, record.http_headers.get_header("Content-Type"),
                record.content_stream().read())
        elif record.rec_type in ("response", "revisit", "resource", "metadata"):
            fields = {**_fields(record), "offset": records.get_record_offset(),
                      "length": records.get_record_length(), "filename": filename}
            lines.append((record.rec_headers.get_header("WARC-Record-ID"),
                          record.rec_headers.get_header("WARC-Date") or "", fields))
    for record_id, date, fields in lines:
        key = fields["url"]
        if record_id in requests:
            key, asked = _asked(key, *requests[record_id])
            fields |= asked
        yield f"{surt(key)} {_timestamp(date)} {json.dumps(fields)}\n"


def _asked(url: str, method: str, content_type: str | None, body: bytes
           ) -> tuple[str, dict[str, str]]:
    """The URI a response to ``method`` is keyed by, and the fields that say
    how it was asked for (none for a GET)."""
    if method == "GET":
        return url, {}
    query = _body_query(content_type or "", body) if method in ("POST", "PUT") else ""
    url += ("&" if "?" in url else "?") + f"__wb_method={method}" + (f"&{query}" if query else "")
    return url, {"method": method, **({"requestBody": query} if query else {})}


def _fields(record: Any) -> dict[str, Any]:
    """What a CDXJ line says of a record, where it lies aside."""
    fields: dict[str, Any] = {"url": record.rec_headers.get_header("WARC-Target-URI") or ""}
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        fields["status"] = record.http_headers.get_statuscode()
        fields["mime"] = _mime(record.http_headers.get_header("Content-Type"))
    else:
        fields["mime"] = _mime(record.rec_headers.get_header("Content-Type"))
    if record.rec_type == "revisit":
        fields["mime"] = "warc/revisit"
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    if digest:
        fields["digest"] = digest
    return fields


def _body_query(content_type: str, body: bytes) -> str:
    """A request body as the query string a key carries: a form as it is (a
    multipart one by its fields), JSON as its fields, anything else in base64."""
    kind = media_type(content_type)
    try:
        if kind == "application/x-www-form-urlencoded":
            return unquote_plus(body.decode("utf-8"))[:MAX_BODY_QUERY]
        if kind.startswith("multipart/"):
            return urlencode(_parts(content_type, body))[:MAX_BODY_QUERY]
        if kind in ("application/json", "text/plain"):
            return _json_query(body)[:MAX_BODY_QUERY]
    except ValueError:  # (not UTF-8, or not JSON)
        if kind == "application/json":
            return ""
    return ("__wb_post_data=" + base64.b64encode(body).decode())[:MAX_BODY_QUERY]


def _parts(content_type: str, body: bytes) -> list[tuple[str, str | bytes]]:
    """The fields of a multipart body, by name, as pywb reads them: a field's
    text, or a file's bytes. ValueError if it has no parts (no boundary)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("a multipart body without a boundary")
    fields: list[tuple[str, str | bytes]] = []
    for part in message.iter_parts():
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        name = str(part.get_param("name", header="content-disposition"))
        has_file = part.get_param("filename", header="content-disposition") is not None
        fields.append((name, data if has_file else data.decode("utf-8", "replace")))
    return fields


def _json_query(body: bytes) -> str:
    """The scalar values of a JSON body (or of each line of newline-delimited
    JSON), each under the name of the member holding it, in order; a name seen
    again is numbered (``name.2_``, ``name.3_``)."""
    try:
        documents = [json.loads(body)]
    except json.JSONDecodeError:
        if b"\n" not in body:
            raise
        documents = [json.loads(line) for line in body.split(b"\n")]
    fields: dict[str, str] = {}
    repeats: dict[str, int] = {}

    def gather(value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for member, inner in value.items():
                gather(inner, member)
        elif isinstance(value, list):
            for inner in value:
                gather(inner, name)
        elif name:
            if name in fields:
                repeats[name] = repeats.get(name, 1) + 1
                name = f"{name}.{repeats[name]}_"
            fields[name] = str(value)  # (as Python writes it: True, None)

    for document in documents:
        gather(document)
    return urlencode(fields)


def surt(uri: str) -> str:
    """Sort-friendly URI Reordering Transform, as CDX indexes key their lines
    (and pywb and ReplayWeb.page key their lookups): host reversed without
    ``www``, default port dropped, path and query unescaped and escaped again
    the one canonical way, lowercased, query sorted.

    ``https://www.Example.com:443/a%7Eb?b=2&a=1`` -> ``com,example)/a~b?a=1&b=2``
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return uri
    host = parts.hostname.lower().removeprefix("www.")
    key = ",".join(reversed(host.split(".")))
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != default:
        key += f":{port}"
    key += ")" + _canonical(parts.path or "/").lower()
    if parts.query:  # (ordered by name, then value)
        fields = sorted(f.split("=", 1) for f in _canonical(parts.query).lower().split("&"))
        key += "?" + "&".join("=".join(f) for f in fields)
    return key


def _canonical(text: str) -> str:
    """``text`` %-unescaped until nothing changes, then %-escaped where SURT
    canonicalization escapes: spaces, controls, ``#``, ``%`` and what is not
    ASCII (a request body carried in a key may hold any of them)."""
    raw = text.encode()
    while (unescaped := unquote_to_bytes(raw)) != raw:
        raw = unescaped
    return "".join(chr(b) if 0x20 < b < 0x7F and b not in b"#%" else f"%{b:02X}" for b in raw)


def _timestamp(warc_date: str) -> str:
    digits = "".join(c for c in warc_date if c.isdigit())
    if len(digits) < 14:
        raise ArchiveError(f"bad WARC-Date {warc_date!r}")
    return digits[:14]


def _mime(content_type: str | None) -> str:
    return media_type(content_type or "") or "unk"
