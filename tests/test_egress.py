"""The egress proxy: every connection of the browser is checked where it is dialled."""

from __future__ import annotations

import gc
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from palimpsest import capture
from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.egress import EgressProxy
from palimpsest.errors import BlockedURL, NetworkError
from palimpsest.tap import Limits, Recording
from palimpsest.tls import served

from .helpers import https_context
from .rawsite import MOVED, REDIRECT, RawSite


@contextmanager
def _page_proxy(*, allow_private: bool) -> Iterator[EgressProxy]:
    """A proxy with a page open: outside a page it connects nowhere."""
    with EgressProxy(allow_private=allow_private) as proxy:
        proxy.new_page(Limits())
        yield proxy


def _connect(proxy: EgressProxy, host: str, port: int) -> tuple[socket.socket, int]:
    """A SOCKS5 CONNECT by name, as Chromium sends it; the socket and the reply code."""
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    client.sendall(b"\x05\x01\x00")
    assert client.recv(2) == b"\x05\x00"
    name = host.encode()
    client.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
    reply = client.recv(10)
    return client, reply[1]


def _receive_all(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_relays_bytes_unchanged_when_private_addresses_are_allowed() -> None:
    with RawSite() as site, _page_proxy(allow_private=True) as proxy:
        client, code = _connect(proxy, "localhost", site.port)
        with client:
            client.sendall(b"GET /style.css HTTP/1.1\r\nHost: localhost\r\n"
                           b"Connection: close\r\n\r\n")
            received = _receive_all(client)
    assert code == 0
    assert received == site.raw("GET", "/style.css")
    assert [r.path for r in site.received] == ["/style.css"]


def test_closes_quietly_with_a_connection_still_open(caplog: pytest.LogCaptureFixture) -> None:
    # An event stream is still open when the browser is done: the proxy ends
    # it, and the stream stops short, with nothing logged as an error.
    table = {("GET", "/events"): (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
                                  b"\r\n\r\ndata: one\n\n", b"")}
    with RawSite(table=table, stall=("/events",)) as site:
        with _page_proxy(allow_private=True) as proxy:
            client, _ = _connect(proxy, "localhost", site.port)
            client.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            received = b""
            while not received.endswith(b"data: one\n\n"):
                received += client.recv(65536)
        assert _receive_all(client) == b""
        client.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_response_goes_on_being_recorded_after_the_browser_hangs_up() -> None:
    # The browser may drop a request while its response is still coming (a
    # navigation cancels it). Python's streams then hold the relay only
    # weakly: unless the proxy holds it, a garbage collection ends it, and
    # the rest of the response is never read or recorded.
    go_on = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server, \
            _page_proxy(allow_private=True) as proxy:

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
                go_on.wait(10)
                conn.sendall(b"56789")

        threading.Thread(target=serve, daemon=True).start()
        client, _ = _connect(proxy, "localhost", server.getsockname()[1])
        with client:
            client.sendall(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
            received = b""
            while not received.endswith(b"01234"):
                received += client.recv(65536)
        time.sleep(0.2)  # (the proxy sees the browser's side closed)
        gc.collect()
        go_on.set()
        deadline = time.monotonic() + 5
        while not (done := [e for e in proxy.recorded() if e.body == b"0123456789"]):
            assert time.monotonic() < deadline, proxy.recorded()
            time.sleep(0.05)
    assert done[0].truncated is None


def test_a_name_is_looked_up_once_a_page_however_many_connections_ask(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A page opens dozens of connections to one host at once; a resolver
    # asked dozens of times at once may drop queries (a 5 s retry each).
    lookups: list[str] = []
    real = socket.getaddrinfo

    def slow_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":
            lookups.append(host)
            time.sleep(0.2)  # (while the other connections ask)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    with RawSite() as site, _page_proxy(allow_private=True) as proxy:
        with ThreadPoolExecutor(max_workers=8) as pool:
            opened = list(pool.map(lambda _: _connect(proxy, "localhost", site.port), range(8)))
        assert [code for _, code in opened] == [0] * 8 and lookups == ["localhost"]
        proxy.new_page(Limits())  # (a page of its own looks up again)
        client, code = _connect(proxy, "localhost", site.port)
        assert code == 0 and lookups == ["localhost"] * 2
        for connection in [client, *(c for c, _ in opened)]:
            connection.close()


def test_a_page_dials_no_more_connections_than_it_may_send_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A hostile page asks for a thousand hosts that never answer: each would be
    # a lookup and a dial from here, sending no request that the limit counts.
    lookups: list[str] = []
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "127.0.0.1":  # (the proxy itself)
            return real(host, *args, **kwargs)
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "not found")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with EgressProxy(allow_private=True) as proxy:
        proxy.new_page(Limits(requests=3))
        codes = []
        for n in range(5):
            client, code = _connect(proxy, f"host-{n}.example", 80)
            client.close()
            codes.append(code)
        assert codes == [4, 4, 4, 2, 2]  # host unreachable; then not allowed
        assert lookups == ["host-0.example", "host-1.example", "host-2.example"]
        assert proxy.refusals["host-4.example:80"] == "over the page's limit of 3 connections"
        proxy.new_page(Limits(requests=3))  # (a new page, a new count)
        assert _connect(proxy, "host-5.example", 80)[1] == 4


def test_the_browser_looks_up_no_name_but_those_of_the_pages(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chromium lists the Google accounts of each new profile about a second
    # after it starts (ListAccounts at accounts.google.com), which goes out
    # through the proxy if a page is being captured then: it would tell Google
    # of every capture machine. Pages are captured here for longer than that.
    names: list[str] = []
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        names.append(host)
        return real(host, *args, **kwargs)

    def capture_for_a_while(url: str) -> None:
        with Browser(settings) as browser:  # (new: in a thread of its own)
            until = time.monotonic() + 2.5
            while time.monotonic() < until:
                browser.capture(url, screenshot=False)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with RawSite() as site, ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(capture_for_a_while, site.url("/start")).result()
    assert set(names) == {"127.0.0.1"}


def test_outside_a_page_nothing_is_dialled() -> None:
    # (at start-up and between pages only the browser itself calls out, home)
    with RawSite() as site, EgressProxy(allow_private=True) as proxy:
        for opened in (False, True):
            if opened:
                proxy.new_page(Limits())
                proxy.end_page()
            client, code = _connect(proxy, "127.0.0.1", site.port)
            client.close()
            assert code == 2  # "connection not allowed by ruleset"
        assert site.received == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_refuses_to_dial_an_internal_address(host: str) -> None:
    with RawSite() as site, _page_proxy(allow_private=False) as proxy:
        client, code = _connect(proxy, host, site.port)
        client.close()
        assert code == 2  # "connection not allowed by ruleset"
        assert proxy.refusals[f"{host}:{site.port}"].startswith("internal address")
        assert site.received == []


def test_a_name_that_does_not_resolve_is_reported_as_such() -> None:
    with _page_proxy(allow_private=False) as proxy:
        client, code = _connect(proxy, "no-such-host.invalid", 80)
        client.close()
    assert code == 4  # host unreachable
    assert proxy.refusals == {"no-such-host.invalid:80": "ERR_NAME_NOT_RESOLVED"}


def test_a_closed_port_is_reported_as_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]  # free once closed
    with _page_proxy(allow_private=True) as proxy:
        client, code = _connect(proxy, "127.0.0.1", port)
        client.close()
    assert code == 5  # connection refused
    assert proxy.refusals == {f"127.0.0.1:{port}": "ERR_CONNECTION_REFUSED"}


def test_the_browser_cannot_reach_an_internal_address_that_passed_every_earlier_check(
        browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    """As after DNS rebinding: the name looked public when the URL and each
    request were checked, and is internal when dialled. The proxy checks the
    address it connects to, so nothing reaches the server."""
    monkeypatch.setattr(capture, "check_url", lambda url, **_: url)
    monkeypatch.setattr(browser.egress, "allow_private", False)
    with RawSite() as site:
        with pytest.raises(BlockedURL, match="internal address 127.0.0.1"):
            browser.capture(site.url("/page"))
        assert site.received == []


def test_every_connection_of_a_capture_goes_through_the_proxy(
        browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    dialled: list[tuple[str, int]] = []
    original = EgressProxy._open

    async def spy(self: EgressProxy, host: str, port: int,  # type: ignore[no-untyped-def]
                  recording: Recording):
        dialled.append((host, port))
        return await original(self, host, port, recording)

    monkeypatch.setattr(EgressProxy, "_open", spy)
    with RawSite() as site:
        captured = browser.capture(site.url("/page"))
    assert captured.exchanges
    # (Chromium's own calls home go through it too: update.googleapis.com...)
    # RawSite closes every connection after one response: one dialled per exchange
    assert dialled.count(("127.0.0.1", site.port)) >= len(captured.exchanges) > 3


def _tls_to(proxy: EgressProxy, host: str, port: int) -> ssl.SSLSocket:
    """A TLS client through the proxy that accepts the proxy's key, as Chromium is told to."""
    client, code = _connect(proxy, host, port)
    assert code == 0
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    tls = context.wrap_socket(client, server_hostname=host)
    spki = ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True) or b"")
    assert "BEGIN CERTIFICATE" in spki  # the proxy's own certificate, not the site's
    return tls


def test_https_is_ended_at_the_proxy_and_every_exchange_is_recorded(tmp_path: Path) -> None:
    context, cert = https_context(tmp_path)
    with RawSite(tls=context) as site, _page_proxy(allow_private=True) as proxy:
        proxy.tls.trust(str(cert))
        with _tls_to(proxy, "127.0.0.1", site.port) as tls:
            tls.sendall(b"GET /start HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            received = _receive_all(tls)
        with _tls_to(proxy, "127.0.0.1", site.port) as tls:
            tls.sendall(b"GET /old-image.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _receive_all(tls) == site.raw("GET", "/old-image.png")  # (chunked)
        recorded = proxy.recorded()
    assert received == site.raw("GET", "/start")
    origin = f"https://127.0.0.1:{site.port}"
    assert [(e.url, e.status, e.body) for e in recorded] == [
        (f"{origin}/start", 302, REDIRECT), (f"{origin}/old-image.png", 301, MOVED)]
    assert recorded[0].request_headers == (("Host", "127.0.0.1"), ("Connection", "close"))


def test_a_site_whose_certificate_does_not_verify_is_refused(tmp_path: Path) -> None:
    context, _ = https_context(tmp_path)  # not trusted by the proxy
    with RawSite(tls=context) as site, _page_proxy(allow_private=True) as proxy:
        with _tls_to(proxy, "127.0.0.1", site.port) as tls:
            tls.sendall(b"GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _receive_all(tls) == b""
        assert proxy.refusals[f"127.0.0.1:{site.port}"] == \
            "ERR_CERT_INVALID (self-signed certificate)"
    assert site.received == []


def test_a_server_that_does_not_speak_tls_is_told_from_a_bad_certificate(
    browser: Browser, site: NewsSite,
) -> None:
    """An https:// URL on a port whose server answers in plain HTTP (a page's
    script upgrading its own address, say): the capture says so."""
    plain = site.url("harbour-bridge-reopens").replace("http://", "https://")
    with pytest.raises(NetworkError, match=r"could not be reached: its server made no "
                       r"secure connection \(WRONG_VERSION_NUMBER\); it may not speak"):
        browser.capture(plain)


def test_an_https_capture_keeps_its_redirect_bodies(browser: Browser, tmp_path: Path) -> None:
    context, cert = https_context(tmp_path)
    browser.egress.tls.trust(str(cert))
    with RawSite(tls=context) as site:
        captured = browser.capture(site.url("/start"))
    assert captured.final_url == site.url("/page") and "Exact bytes" in captured.dom
    hops = {e.url: e for e in captured.exchanges}
    assert hops[site.url("/start")].body == REDIRECT
    assert hops[site.url("/start")].truncated is None
    assert hops[site.url("/old-image.png")].body == MOVED
    assert hops[site.url("/images/new.png")].body == site.table["GET", "/images/new.png"][1]
    # The evidence of who served it: the site's own certificate (not the proxy's).
    [(origin, server)] = captured.servers.items()
    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
    assert origin == f"https://127.0.0.1:{site.port}" and server["address"] == "127.0.0.1"
    assert server["tls"].startswith("TLSv1.")
    assert server["certificate"]["sha256"] == hashlib.sha256(der).hexdigest()
    assert server["certificate"]["subject"] == "CN=localhost"
    assert server["certificate"]["names"] == ["localhost"]


def test_an_https_page_whose_certificate_does_not_verify_is_not_captured(
        browser: Browser, tmp_path: Path) -> None:
    context, _ = https_context(tmp_path)  # a certificate no one trusts
    with RawSite(tls=context) as site:
        with pytest.raises(NetworkError, match="certificate does not verify"):
            browser.capture(site.url("/page"))
        assert site.received == []


def test_a_certificate_that_cannot_be_read_is_kept_as_its_hash() -> None:
    # OpenSSL accepts some certificates that cryptography will not parse: the
    # page is captured all the same, its server's certificate named by hash.
    class Connection:
        def getpeercert(self, binary_form: bool) -> bytes:
            return b"not DER"

        def version(self) -> str:
            return "TLSv1.3"

        def cipher(self) -> tuple[str, str, int]:
            return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)

    assert served(Connection()) == {  # type: ignore[arg-type]
        "tls": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256",
        "certificate": {"sha256": hashlib.sha256(b"not DER").hexdigest()}}
