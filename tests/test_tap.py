"""The tap: redirect bodies read off a relayed HTTP/1.1 connection, byte by byte too."""

from __future__ import annotations

import gzip

import pytest

from palimpsest.tap import Tap

PAGE = b"<html>" + b"x" * 3000 + b"</html>"
MOVED = b"<p>Moved to /b</p>"


def _tapped(requests: bytes, responses: bytes, step: int) -> list[tuple[str, str, bytes]]:
    """What the tap keeps when each way arrives in pieces of ``step`` bytes (the
    requests first: the proxy shows the tap a request before it sends it on)."""
    kept: list[tuple[str, str, bytes]] = []
    tap = Tap("https://news.example", lambda *found: kept.append(found))
    for data, feed in ((requests, tap.sent), (responses, tap.received)):
        for start in range(0, len(data), step):
            feed(data[start:start + step])
    tap.closed()
    return kept


@pytest.mark.parametrize("step", [1, 7, 1 << 16])
def test_a_keep_alive_connection_with_a_page_then_two_redirects(step: int) -> None:
    zipped = gzip.compress(MOVED)
    requests = (b"GET /page HTTP/1.1\r\nHost: news.example\r\n\r\n"
                b"POST /form HTTP/1.1\r\nContent-Length: 3\r\n\r\na=1"
                b"HEAD /old HTTP/1.1\r\n\r\n"
                b"GET /old?x=1 HTTP/1.1\r\n\r\n")
    responses = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)
                 + b"HTTP/1.1 303 See Other\r\nLocation: /page\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n5\r\nThank\r\n4;ext=1\r\n you\r\n0\r\nX-Trailer: 1\r\n\r\n"
                 + b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 99\r\n\r\n"
                 + b"HTTP/1.1 100 Continue\r\n\r\n"
                 + b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Encoding: gzip\r\n\r\n"
                 + zipped)  # read to the close
    assert _tapped(requests, responses, step) == [
        ("POST", "https://news.example/form", b"Thank you"),
        ("HEAD", "https://news.example/old", b""),  # no body follows a HEAD's head
        ("GET", "https://news.example/old?x=1", MOVED),
    ]


def test_nothing_is_read_after_an_upgrade() -> None:
    requests = (b"GET /live HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                b"HTTP/1.1 302 Found\r\n\r\n")  # WebSocket frames that look like HTTP
    responses = (b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
                 b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n")
    assert _tapped(requests, responses, 1 << 16) == []


def test_a_malformed_response_ends_the_tapping_not_the_connection() -> None:
    kept: list[tuple[str, str, bytes]] = []
    tap = Tap("http://a.example", lambda *found: kept.append(found))
    tap.sent(b"GET / HTTP/1.1\r\n\r\nGET /r HTTP/1.1\r\n\r\n")
    tap.received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    tap.received(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 2\r\n\r\nok")
    assert kept == []
