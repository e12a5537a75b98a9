"""HTTP/1.1 read off the egress proxy's relay, for what the browser will not tell.

Chromium hands out no body of a redirect response (the DevTools protocol
refuses it at every stage), yet a 301 or 302 often carries one: a "Moved"
page, a notice, tracking. The proxy relays every byte of every connection;
a :class:`Tap` follows the messages on one connection, both ways, without
changing a byte, and hands each redirect's body on. Anything it cannot
follow (an upgrade to WebSocket, a malformed message) ends the tapping of
that connection, never the relay.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable

#: Redirect bodies are short; a longer one is not kept (the relay goes on)
MAX_BODY = 1 << 20


class Tap:
    """Follows one connection's requests (:meth:`sent`) and responses
    (:meth:`received`); calls ``keep(method, url, body)`` for each redirect."""

    def __init__(self, origin: str, keep: Callable[[str, str, bytes], None]) -> None:
        self.origin = origin  # "https://example.com", "http://127.0.0.1:8080"
        self._keep = keep
        self._asked: deque[tuple[str, str]] = deque()  # (method, URL) awaiting a response
        self._requests = _Messages(self._request_head)
        self._responses = _Messages(self._response_head)

    def sent(self, data: bytes) -> None:
        self._requests.feed(data)

    def received(self, data: bytes) -> None:
        self._responses.feed(data)

    def closed(self) -> None:
        """The server ended the connection: a body read to the close is whole."""
        self._responses.end()

    def _request_head(self, line: str, headers: dict[str, str]) -> _Framing:
        method, target, _ = line.split(" ", 2)
        self._asked.append((method, self.origin + target))
        return _framing(headers, otherwise=NO_BODY)

    def _response_head(self, line: str, headers: dict[str, str]) -> _Framing:
        status = int(line.split(" ", 2)[1])
        if status == 101:
            return STOP  # another protocol from here on
        if 100 <= status < 200:
            return NO_BODY  # an interim response; the final one follows
        method, url = self._asked.popleft()
        if 300 <= status < 400 and "location" in headers:
            encoding = headers.get("content-encoding", "").strip().lower()
            self._responses.on_body = lambda body: self._redirected(method, url, encoding, body)
        if method == "HEAD" or status in (204, 304):
            return NO_BODY
        return _framing(headers, otherwise=TO_CLOSE)

    def _redirected(self, method: str, url: str, encoding: str, body: bytes) -> None:
        decoded = _decoded(body, encoding)
        if decoded is not None:
            self._keep(method, url, decoded)


#: How a message's body ends: a length, chunked, at the close, no body, or stop reading
_Framing = int | str
CHUNKED, TO_CLOSE, NO_BODY, STOP = "chunked", "close", 0, "stop"


def _framing(headers: dict[str, str], *, otherwise: _Framing) -> _Framing:
    """Chunked, or a declared length, or ``otherwise`` (a request: no body; a
    response: to the close)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return CHUNKED
    length = headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else otherwise


class _Messages:
    """Consecutive HTTP/1.1 messages in one direction, read as they arrive.

    ``on_head`` is told each message's start line and headers and says how
    its body is framed; ``on_body``, when set for a message, gets its body.
    """

    def __init__(self, on_head: Callable[[str, dict[str, str]], _Framing]) -> None:
        self._on_head = on_head
        self.on_body: Callable[[bytes], None] | None = None
        self._buffer = bytearray()
        self._body = bytearray()
        self._framing: _Framing | None = None  # None: reading a head
        self._left = 0  # bytes of the body (or of the current chunk) still to come
        self._stopped = False

    def feed(self, data: bytes) -> None:
        if self._stopped:
            return
        self._buffer += data
        try:
            while self._step():
                pass
        except (ValueError, IndexError, KeyError):
            self._stop()  # not HTTP/1.1 as we know it: stop reading, the relay goes on

    def end(self) -> None:
        if not self._stopped and self._framing == TO_CLOSE:
            self._done()

    def _stop(self) -> None:
        self._stopped, self._buffer, self._body = True, bytearray(), bytearray()

    def _step(self) -> bool:
        """Read what the buffer holds of the message; whether to go on."""
        if self._framing is None:
            return self._head()
        if self._framing == TO_CLOSE:
            self._take(len(self._buffer))
            return False
        if self._framing == CHUNKED:
            return self._chunk()
        assert isinstance(self._framing, int)
        taken = self._take(min(self._left, len(self._buffer)))
        self._left -= taken
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
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        framing = self._on_head(lines[0], headers)
        if framing == STOP:
            self._stop()
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
        taken = self._take(min(self._left, len(self._buffer)))
        self._left -= taken
        if self._left == 0:
            del self._body[len(self._body) - 2:]  # the chunk's CRLF
        return self._left == 0

    def _take(self, count: int) -> int:
        if self.on_body is not None:
            if len(self._body) + count > MAX_BODY + 2:  # (+2: a chunk's CRLF)
                self.on_body = None  # too long to keep; read on
            else:
                self._body += self._buffer[:count]
        del self._buffer[:count]
        return count

    def _done(self) -> None:
        if self.on_body is not None:
            self.on_body(bytes(self._body))
        self.on_body, self._body, self._framing, self._left = None, bytearray(), None, 0


def _decoded(body: bytes, encoding: str) -> bytes | None:
    """The body as the archive stores bodies (decoded), or None when it cannot be."""
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            return zlib.decompress(body, wbits=47)  # (gzip or zlib, told by the header)
        except zlib.error:
            return None
    return None
