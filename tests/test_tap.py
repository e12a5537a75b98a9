"""The tap: every exchange read off a relayed HTTP/1.1 connection, byte by byte too."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from palimpsest.models import Exchange
from palimpsest.tap import MEDIA_KEPT, Limits, Recording, Tap

PAGE = b"<html>" + b"x" * 3000 + b"</html>"
MOVED = b"<p>Moved to /b</p>"


def _tapped(requests: bytes, responses: bytes, step: int = 1 << 16,
            limits: Limits | None = None) -> list[Exchange]:
    """What the tap records when each way arrives in pieces of ``step`` bytes
    (the requests first: the proxy shows the tap a request before it sends it on)."""
    recording = Recording(limits or Limits())
    tap = Tap("https://news.example", recording)
    for data, feed in ((requests, tap.sent), (responses, tap.received)):
        for start in range(0, len(data), step):
            feed(data[start:start + step])
    tap.closed()
    return recording.exchanges()


@pytest.mark.parametrize("step", [1, 7, 1 << 16])
def test_a_keep_alive_connection_is_recorded_exchange_by_exchange(step: int) -> None:
    requests = (b"GET /page HTTP/1.1\r\nHost: news.example\r\nCookie: a=1\r\n\r\n"
                b"POST /form HTTP/1.1\r\nContent-Length: 3\r\n\r\na=1"
                b"HEAD /old HTTP/1.1\r\n\r\n"
                b"GET /old?x=1 HTTP/1.1\r\n\r\n")
    responses = (b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)
                 + b"HTTP/1.1 303 See Other\r\nLocation: /page\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n5\r\nThank\r\n4;ext=1\r\n you\r\n0\r\nX-Trailer: 1\r\n\r\n"
                 + b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 99\r\n\r\n"
                 + b"HTTP/1.1 100 Continue\r\n\r\n"
                 + b"HTTP/1.0 301 Moved\r\nLocation: /b\r\nContent-Encoding: gzip\r\n\r\n"
                 + gzip.compress(MOVED))  # read to the close
    page, form, head, old = _tapped(requests, responses, step)
    assert (page.url, page.status, page.reason, page.body) == (
        "https://news.example/page", 200, "OK", PAGE)
    assert page.request_headers == (("Host", "news.example"), ("Cookie", "a=1"))
    assert page.response_headers[:2] == (("Set-Cookie", "a=1"), ("set-cookie", "b=2"))
    assert (form.method, form.request_body, form.status, form.body, form.redirect) == (
        "POST", b"a=1", 303, b"Thank you", True)
    assert (head.method, head.body, head.truncated) == ("HEAD", b"", None)  # no body follows
    assert (old.url, old.protocol, old.body, old.encoded, old.truncated) == (
        "https://news.example/old?x=1", "HTTP/1.0", MOVED, False, None)
    assert not page.redirect and page.truncated is None


def test_nothing_is_read_after_an_upgrade() -> None:
    requests = (b"GET /live HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                b"GET /x HTTP/1.1\r\n\r\n")  # WebSocket frames that look like HTTP
    responses = (b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
                 b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n")
    assert _tapped(requests, responses) == []


def test_after_an_upgrade_what_the_browser_sends_is_not_read_as_requests() -> None:
    recording = Recording(Limits(requests=1))
    tap = Tap("http://a.example", recording)
    assert tap.sent(b"GET /live HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    tap.received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert tap.sent(b"GET /x HTTP/1.1\r\n\r\n")  # a frame: neither counted nor refused


def test_a_malformed_response_ends_the_tapping_not_the_connection() -> None:
    recording = Recording(Limits())
    tap = Tap("http://a.example", recording)
    tap.sent(b"GET / HTTP/1.1\r\n\r\nGET /r HTTP/1.1\r\n\r\n")
    tap.received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
    tap.received(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 2\r\n\r\nok")
    # what came before is kept, marked incomplete; nothing after is read
    assert [(e.url, e.body, e.truncated) for e in recording.exchanges()] == [
        ("http://a.example/", b"abc", "unspecified")]


@pytest.mark.parametrize(("content_type", "kept", "cut"), [
    ("video/mp4", MEDIA_KEPT, "length"),  # a player's buffer: its first bytes, the same each time
    ("text/event-stream", 3 * MEDIA_KEPT, "unspecified"),  # a live stream: all of it
])
def test_a_response_still_coming_when_the_page_is_done(
        content_type: str, kept: int, cut: str) -> None:
    recording = Recording(Limits())
    tap = Tap("https://news.example", recording)
    tap.sent(b"GET /live HTTP/1.1\r\nRange: bytes=0-\r\n\r\n")
    body = bytes(range(256)) * (3 * MEDIA_KEPT // 256)
    tap.received(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n" % content_type.encode())
    tap.received(body)  # (and more to come)
    [exchange] = recording.exchanges()
    assert exchange.body == body[:kept] and exchange.truncated == cut


def test_a_request_over_the_page_limit_is_not_sent_on() -> None:
    recording = Recording(Limits(requests=2))
    tap = Tap("http://a.example", recording)
    assert tap.sent(b"GET /1 HTTP/1.1\r\n\r\n")
    assert tap.sent(b"GET /2 HTTP/1.1\r\n\r\n")
    assert not tap.sent(b"GET /3 HTTP/1.1\r\n\r\n")
    assert not Tap("http://a.example", recording).sent(b"GET /4 HTTP/1.1\r\n\r\n")


@pytest.mark.parametrize("step", [1, 7, 1 << 16])
def test_bodies_over_the_limits_are_cut_and_marked(step: int) -> None:
    requests = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    responses = b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + bytes([n]) * 100
                         for n in (1, 2))
    a, b = _tapped(requests, responses, step, Limits(response_bytes=60, page_bytes=100))
    assert (a.body, a.truncated) == (b"\x01" * 60, "length")  # the response limit
    assert (b.body, b.truncated) == (b"\x02" * 40, "length")  # what the page had left


def test_a_compressed_bomb_is_decoded_only_up_to_the_limit() -> None:
    bomb = gzip.compress(bytes(10 << 20))  # 10 KiB on the wire, 10 MiB decoded
    [exchange] = _tapped(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip"
                         b"\r\nContent-Length: %d\r\n\r\n%s" % (len(bomb), bomb),
                         limits=Limits(response_bytes=1 << 20))
    assert (len(exchange.body), exchange.truncated) == (1 << 20, "length")


def test_every_coding_chromium_asks_for_is_decoded_and_others_are_stored_as_served() -> None:
    raw = zlib.compressobj(wbits=-15)
    served = {b"deflate": raw.compress(PAGE) + raw.flush(),  # raw, without zlib's header
              b"br": brotli.compress(PAGE), b"zstd": zstandard.ZstdCompressor().compress(PAGE),
              b"compress": b"\x1f\x9d\x90<h"}  # (not decoded: any bytes)
    requests = b"GET / HTTP/1.1\r\n\r\n" * len(served)
    responses = b"".join(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n"
                         b"\r\n%s" % (coding, len(body), body) for coding, body in served.items())
    assert [(e.body, e.encoded, e.truncated) for e in _tapped(requests, responses)] == [
        (PAGE, False, None), (PAGE, False, None), (PAGE, False, None),
        (served[b"compress"], True, None)]


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_bombs_in_other_codings_are_not_decoded_past_the_limit(coding: str) -> None:
    zeros = bytes(64 << 20)
    bomb = brotli.compress(zeros) if coding == "br" else zstandard.ZstdCompressor().compress(zeros)
    [exchange] = _tapped(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Encoding: %s"
                         b"\r\nContent-Length: %d\r\n\r\n%s" % (coding.encode(), len(bomb), bomb),
                         limits=Limits(response_bytes=1 << 20))
    # cut at the limit, or (a zstd frame that declares its size) not decoded at all
    assert (exchange.truncated, exchange.encoded) in (("length", False), (None, True))
    assert len(exchange.body) <= 1 << 20
