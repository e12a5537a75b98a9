"""The recording half of the egress proxy: every exchange read off the relay.

Each connection a page opens crosses the egress proxy, which relays its bytes
unchanged. A :class:`Tap` follows the HTTP/1.1 messages of one connection,
both ways, and writes each exchange down as the wire carried it: the request
line, headers (cookies included) and body as sent; the status line and the
headers in the server's order, case and duplicates kept; the whole body,
error pages and redirects included. This is the warcprox design: nothing the
browser reports is needed, and no request waits on the recorder.

Bodies are stored dechunked and decoded (gzip, deflate, br, zstd: the head
keeps the original encodings under ``X-Archive-Orig-``, see ``warc.py``); a
body in another coding, or one that does not decode, is stored as served.
Anything the tap cannot follow (an upgrade to WebSocket, a malformed
message) ends the tapping of that connection, never the relay.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import brotli
import zstandard

from .config import Settings
from .models import Exchange, first_header

#: How a message's body ends: a length, chunked, at the close, no body, or stop reading
_Framing = int | str
CHUNKED, TO_CLOSE, NO_BODY, STOP = "chunked", "close", 0, "stop"


#: Of a media response still coming when the page is done, the bytes kept. A
#: player buffers as it pleases, so how much came is a matter of timing; the
#: same first bytes each time let a later snapshot's copy be a revisit.
MEDIA_KEPT = 2 * 2**20


@dataclass(frozen=True)
class Limits:
    """How much one page may ask for and store (by default, what :class:`Settings` allow)."""

    requests: int = Settings.max_requests
    response_bytes: int = Settings.max_response_bytes
    page_bytes: int = Settings.max_snapshot_bytes


@dataclass
class _Taken:
    """One exchange as it is read: the request first, the response as it comes."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytearray = field(default_factory=bytearray)
    protocol: str = ""
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    truncated: str | None = None
    done: bool = False
    ended: float = 0.0  # when the response was whole (time.monotonic())
    address: str = ""  # of the server that answered
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def exchange(self, limit: int) -> Exchange:
        """As the archive stores it: decoded (to at most ``limit`` bytes); a
        response still coming is marked truncated."""
        body, truncated = bytes(self.body), self.truncated
        if not self.done:
            truncated = truncated or "unspecified"
            if _is_media(self.response_headers) and len(body) > MEDIA_KEPT:
                body, truncated = body[:MEDIA_KEPT], "length"
        coding = _header(self.response_headers, "content-encoding").strip().lower()
        decoded = _decoded(body, coding, limit, whole=truncated is None)
        if decoded is not None:
            body, cut = decoded
            truncated = truncated or cut
        status = self.status or 0
        return Exchange(
            url=self.url, method=self.method, request_headers=tuple(self.request_headers),
            request_body=bytes(self.request_body) or None, status=status, reason=self.reason,
            response_headers=tuple(self.response_headers), body=body,
            redirect=status // 100 == 3 and bool(_header(self.response_headers, "location")),
            protocol=self.protocol, truncated=truncated,
            encoded=coding not in ("", "identity") and decoded is None, ip_address=self.address,
            sent_at=self.sent_at,
        )


class Recording:
    """What one page's connections carried, in the order the requests were sent."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.taken: list[_Taken] = []
        self.stored = 0
        self.dialled = 0  # connections the page asked for
        #: origin -> what its server showed (address; TLS and certificate)
        self.servers: dict[str, dict[str, Any]] = {}

    def exchanges(self) -> list[Exchange]:
        """Every exchange that got a response (a response still coming included)."""
        limit = self.limits.response_bytes
        return [t.exchange(limit) for t in self.taken if t.status is not None]

    def dial(self) -> bool:
        """Count a connection the page asks for; False past its limit. A page
        may open no more connections than it may send requests: each is a
        name looked up and an address dialled from here, which a hostile page
        could otherwise ask for by the thousand, to hosts that never answer."""
        self.dialled += 1
        return self.dialled <= self.limits.requests

    def room(self, taken: _Taken) -> int:
        """How many more bytes of ``taken``'s body may be stored."""
        return max(0, min(self.limits.response_bytes - len(taken.body),
                          self.limits.page_bytes - self.stored))


class Tap:
    """Follows one connection's requests (:meth:`sent`) and responses
    (:meth:`received`) into ``recording``."""

    def __init__(self, origin: str, recording: Recording, address: str = "") -> None:
        self.origin = origin  # "https://example.com", "http://127.0.0.1:8080"
        self.recording = recording
        self.address = address  # the server's
        self._asked: deque[_Taken] = deque()  # awaiting a response
        self._request: _Taken | None = None  # whose body is being read
        self._response: _Taken | None = None
        self._requests = _Messages(self._request_head, self._request_body)
        self._responses = _Messages(self._response_head, self._response_body)
        self.refused = False

    def sent(self, data: bytes) -> bool:
        """Read what the browser sends; False when it must not be sent on (a
        request over the page's limit)."""
        self._requests.feed(data)
        return not self.refused

    def received(self, data: bytes) -> None:
        self._responses.feed(data)

    def closed(self) -> None:
        """The server ended the connection: a body read to the close is whole."""
        self._responses.end()

    def _request_head(self, line: str, headers: list[tuple[str, str]]) -> _Framing:
        method, target, _ = line.split(" ", 2)
        taken = _Taken(url=self.origin + target, method=method, request_headers=headers,
                       address=self.address)
        recording = self.recording
        if len(recording.taken) >= recording.limits.requests:
            self.refused = True  # not sent on: the connection ends here
            return STOP
        recording.taken.append(taken)
        self._asked.append(taken)
        self._request = taken
        return _framing(headers, otherwise=NO_BODY)

    def _request_body(self, data: bytes | None) -> None:
        taken = self._request
        if taken is not None and data is not None:  # (held to the response limit too)
            taken.request_body += data[:self.recording.limits.response_bytes
                                       - len(taken.request_body)]

    def _response_head(self, line: str, headers: list[tuple[str, str]]) -> _Framing:
        protocol, status, reason = (line.split(" ", 2) + [""])[:3]
        if status == "101":  # another protocol from here on, both ways
            self._requests.stop()
            return STOP
        if status.startswith("1"):
            return NO_BODY  # an interim response; the final one follows
        taken = self._response = self._asked.popleft()
        taken.protocol, taken.status, taken.reason = protocol, int(status), reason
        taken.response_headers = headers
        if taken.method == "HEAD" or taken.status in (204, 304):
            return NO_BODY
        return _framing(headers, otherwise=TO_CLOSE)

    def _response_body(self, data: bytes | None) -> None:
        taken = self._response
        if taken is None:
            return
        if data is None:  # the end of the message
            taken.done, taken.ended = True, time.monotonic()
        elif taken.truncated is None:
            room = self.recording.room(taken)
            if len(data) > room:
                data, taken.truncated = data[:room], "length"
            taken.body += data
            self.recording.stored += len(data)


def _framing(headers: list[tuple[str, str]], *, otherwise: _Framing) -> _Framing:
    """Chunked, or a declared length, or ``otherwise`` (a request: no body; a
    response: to the close)."""
    if "chunked" in _header(headers, "transfer-encoding").lower():
        return CHUNKED
    length = _header(headers, "content-length").strip()
    return int(length) if length.isdigit() else otherwise


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return first_header(headers, name) or ""


def _is_media(headers: list[tuple[str, str]]) -> bool:
    return _header(headers, "content-type").strip().lower().startswith(("audio/", "video/"))


class _Messages:
    """Consecutive HTTP/1.1 messages in one direction, read as they arrive.

    ``on_head`` is told each message's start line and headers (in order) and
    says how its body is framed; ``on_body`` gets the body in pieces, then
    None at the end of the message.
    """

    def __init__(self, on_head: Callable[[str, list[tuple[str, str]]], _Framing],
                 on_body: Callable[[bytes | None], None]) -> None:
        self._on_head, self._on_body = on_head, on_body
        self._buffer = bytearray()
        self._framing: _Framing | None = None  # None: reading a head
        self._left = 0  # bytes of the body (or of the current chunk, CRLF included) to come
        self._stopped = False

    def feed(self, data: bytes) -> None:
        if self._stopped:
            return
        self._buffer += data
        try:
            while self._step():
                pass
        except (ValueError, IndexError, KeyError):
            self.stop()  # not HTTP/1.1 as we know it: stop reading, the relay goes on

    def end(self) -> None:
        if not self._stopped and self._framing == TO_CLOSE:
            self._done()

    def stop(self) -> None:
        self._stopped, self._buffer = True, bytearray()

    def _step(self) -> bool:
        """Read what the buffer holds of the message; whether to go on."""
        if self._framing is None:
            return self._head()
        if self._framing == TO_CLOSE:
            self._take(len(self._buffer))
            return False
        if self._framing == CHUNKED:
            return self._chunk()
        self._left -= self._take(min(self._left, len(self._buffer)))
        if self._left == 0:
            self._done()
            return True
        return False

    def _head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > 1 << 16:
                raise ValueError("a head longer than 64 KiB")
            return False
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[:end + 4]
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"not a header: {line!r}")
            headers.append((name, value.strip()))
        framing = self._on_head(lines[0], headers)
        if framing == STOP:
            self.stop()
            return False
        self._framing, self._left = framing, framing if isinstance(framing, int) else 0
        if framing == NO_BODY:
            self._done()
        return True

    def _chunk(self) -> bool:
        if self._left == 0:  # at a chunk's size line
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(self._buffer[:end]).split(b";")[0], 16)
            if size == 0:  # the last chunk: skip the trailers up to the empty line
                tail = self._buffer.find(b"\r\n\r\n", end)
                if tail < 0:
                    return False
                del self._buffer[:tail + 4]
                self._done()
                return True
            del self._buffer[:end + 2]
            self._left = size + 2  # the chunk and its CRLF
        data = min(self._left - 2, len(self._buffer))  # of the chunk, not its CRLF
        if data > 0:
            self._left -= self._take(data)
        if self._left == 2 and len(self._buffer) >= 2:
            if self._buffer[:2] != b"\r\n":
                raise ValueError("a chunk without its CRLF")
            del self._buffer[:2]
            self._left = 0
            return True
        return False

    def _take(self, count: int) -> int:
        if count:
            self._on_body(bytes(self._buffer[:count]))
            del self._buffer[:count]
        return count

    def _done(self) -> None:
        self._on_body(None)
        self._framing, self._left = None, 0


def _decoded(body: bytes, coding: str, limit: int, *, whole: bool
             ) -> tuple[bytes, str | None] | None:
    """``body`` decoded to at most ``limit`` bytes (a truncated one as far as it
    goes), and "length" if it was cut there; None when it is in no coding
    decoded here, or does not decode. The limit keeps a small hostile body
    from inflating without end."""
    if coding not in DECODERS or not body:
        return None if body else (body, None)
    try:
        decoded, finished = DECODERS[coding](body, limit + 1)
    except (zlib.error, brotli.error, zstandard.ZstdError):
        return None
    if len(decoded) > limit:
        return decoded[:limit], "length"
    return (decoded, None) if finished or not whole else None


def _inflate(body: bytes, most: int) -> tuple[bytes, bool]:
    for wbits in (47, -15):  # gzip or zlib, told by the header; else raw deflate
        inflate = zlib.decompressobj(wbits=wbits)
        try:
            return inflate.decompress(body, most), inflate.eof
        except zlib.error:
            continue
    raise zlib.error("neither gzip, zlib nor raw deflate")


def _unbrotli(body: bytes, most: int) -> tuple[bytes, bool]:
    decompressor = brotli.Decompressor()
    return decompressor.process(body, output_buffer_limit=most), decompressor.is_finished()


def _unzstd(body: bytes, most: int) -> tuple[bytes, bool]:
    # A frame may declare its size, and is then decoded whole in one go: a
    # declared size over the limit is not decoded at all.
    declared = zstandard.frame_content_size(body)
    if declared > most:
        raise zstandard.ZstdError(f"declares {declared} bytes")
    return zstandard.ZstdDecompressor().decompress(body, max_output_size=most), True


#: Content codings stored decoded; any other is stored as served
DECODERS: dict[str, Callable[[bytes, int], tuple[bytes, bool]]] = {
    "gzip": _inflate, "x-gzip": _inflate, "deflate": _inflate, "br": _unbrotli, "zstd": _unzstd,
}
