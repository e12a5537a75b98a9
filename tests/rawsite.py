"""An HTTP/1.1 server whose every response is a byte string written by hand.

The capture-fidelity tests compare the WARC with exactly what was sent: the
status line, header order, case and duplicates, chunked and gzipped bodies.
``http.server`` would add and reorder headers, so this server writes raw
bytes on a plain socket and remembers each request it was sent.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field

from palimpsest.demo_site import tiny_png

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exact bytes</title>
<link rel="stylesheet" href="/style.css">
<script src="/missing.js"></script>
<script src="/app.js"></script>
</head><body><h1>Exact bytes</h1>
<p>A page whose every exchange is known to the last byte.</p>
<img id="moved" src="/old-image.png" alt="moved image">
<p id="api">waiting</p>
</body></html>
"""
CSS = b"body { font-family: serif; color: #222; }\nh1 { font-size: 2em; }\n" * 40
APP_JS = (
    b"fetch('/api/echo', {method: 'POST', headers: {'Content-Type': 'application/json'},"
    b" body: JSON.stringify({question: 'ping', n: 1})})"
    b".then(r => r.json()).then(d => { document.getElementById('api').textContent = d.answer; });\n"
)
MISSING_JS = b"/* not found */ console.log('the 404 page of a script, with a body');\n"
REDIRECT = b'<a href="/page">see /page</a>\n'
MOVED = b'<p>Moved Permanently: <a href="/images/new.png">/images/new.png</a></p>\n'
IMAGE = tiny_png((200, 30, 30), size=16)


def _response(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def ok(content_type: str, body: bytes) -> tuple[bytes, bytes]:
    """A 200 response of ``body``, as a table entry: (raw bytes, body as stored)."""
    raw = _response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store"),
                               ("Content-Length", str(len(body))), ("Connection", "close")], body)
    return raw, body


def _chunked(body: bytes, size: int = 50) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def responses() -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """(method, path) -> (raw response bytes, decoded body as stored)."""
    gz = gzip.compress(CSS, mtime=0)
    table = {
        ("GET", "/start"): (_response("302 Found", [
            ("Location", "/page"), ("Content-Type", "text/html"),
            ("Content-Length", str(len(REDIRECT))), ("Connection", "close")], REDIRECT), REDIRECT),
        ("GET", "/page"): (_response("200 OK", [
            ("Content-Type", "text/html; charset=utf-8"), ("Set-Cookie", "session=abc123; Path=/"),
            ("x-lower-case-header", "kept as sent"), ("Set-Cookie", "theme=dark; Path=/"),
            ("Cache-Control", "no-store"), ("Content-Length", str(len(PAGE))),
            ("Connection", "close")], PAGE), PAGE),
        ("GET", "/style.css"): (_response("200 OK", [
            ("Content-Type", "text/css"), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding"),
            ("Content-Length", str(len(gz))), ("Connection", "close")], gz), CSS),
        ("GET", "/missing.js"): (_response("404 Not Found", [
            ("Content-Type", "application/javascript"), ("Content-Length", str(len(MISSING_JS))),
            ("Connection", "close")], MISSING_JS), MISSING_JS),
        ("GET", "/app.js"): (_response("200 OK", [
            ("Content-Type", "application/javascript"), ("Transfer-Encoding", "chunked"),
            ("Connection", "close")], _chunked(APP_JS)), APP_JS),
        ("GET", "/old-image.png"): (_response("301 Moved Permanently", [
            ("Location", "/images/new.png"), ("Content-Type", "text/html"),
            ("Transfer-Encoding", "chunked"), ("Connection", "close")], _chunked(MOVED, 10)),
            MOVED),
        ("GET", "/images/new.png"): (_response("200 OK", [
            ("Content-Type", "image/png"), ("Content-Length", str(len(IMAGE))),
            ("Connection", "close")], IMAGE), IMAGE),
    }
    return table


ANSWER = json.dumps({"answer": "pong"}).encode()
ECHO = _response("200 OK", [("Content-Type", "application/json"),
                            ("Content-Length", str(len(ANSWER))), ("Connection", "close")], ANSWER)


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class RawSite:
    """A loopback server replying from :func:`responses`; POST /api/echo answers JSON."""

    table: dict[tuple[str, str], tuple[bytes, bytes]] = field(default_factory=responses)
    received: list[Received] = field(default_factory=list)
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context
    host: str = "127.0.0.1"  # (all of 127.0.0.0/8 is loopback)
    #: paths whose response is sent but whose connection is then held open
    #: until the site closes (with a body short of its length: it never ends)
    stall: tuple[str, ...] = ()
    _closing: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> RawSite:
        self._sock = socket.create_server((self.host, 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._sock.close()

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{path}"

    def raw(self, method: str, path: str) -> bytes:
        return ECHO if (method, path) == ("POST", "/api/echo") else self.table[method, path][0]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
            length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
            while len(body) < length:
                body += conn.recv(65536)
            self.received.append(Received(method, path, headers, body))
            if (method, path) == ("POST", "/api/echo"):
                conn.sendall(ECHO)
            elif (method, path) in self.table:
                try:
                    conn.sendall(self.table[method, path][0])
                except OSError:
                    return  # the client went away before the end (a media player may)
                if path in self.stall:
                    self._closing.wait()
            else:
                conn.sendall(_response("404 Not Found", [("Content-Length", "0"),
                                                         ("Connection", "close")]))
