"""The only way out of the browser: a SOCKS5 proxy that checks every address.

URLs are checked before a page is loaded and on every request the page
makes, but those checks resolve a name that Chromium would then resolve
again: a hostile name can answer a public address to the check and a private
one to the browser (DNS rebinding). Behind this proxy Chromium resolves
nothing itself (Playwright maps every name to "not found" for a SOCKS proxy);
each connection names its host here, the host is resolved here, and only
addresses that pass the check are dialled: the address checked is the
address connected to.

The proxy also ends TLS (``tls.py``) and records the HTTP/1.1 it relays
(``tap.py``), unchanged: every exchange of the page, as the wire carried it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from .models import Exchange
from .tap import Limits, Recording, Tap
from .tls import BrowserSide, Interception, served
from .urls import internal_address

#: SOCKS5 replies (RFC 1928)
SUCCEEDED, FAILURE, NOT_ALLOWED, HOST_UNREACHABLE, REFUSED = 0, 1, 2, 4, 5
COMMAND_NOT_SUPPORTED, ADDRESS_NOT_SUPPORTED = 7, 8
CONNECT = 1
IPV4, DOMAIN, IPV6 = 1, 3, 4
CHUNK = 1 << 16
T = TypeVar("T")
TLS_HANDSHAKE = b"\x16"  # the first byte of a ClientHello


class EgressProxy:
    """A SOCKS5 proxy on 127.0.0.1 in a thread of its own, for one browser.

    ``refusals`` maps "host:port" to why a connection was not made (an
    internal address, a name that does not resolve, a refused connection, a
    certificate that does not verify, a server that does not speak TLS), so
    that a failed page can be explained. Call :meth:`new_page` before each
    page, and :meth:`recorded` and :meth:`end_page` after it: outside a page
    no connection is made.
    Each browser context may come in through a :meth:`door` of its own, so
    that only the page being captured is recorded, not one still closing.
    """

    def __init__(self, *, allow_private: bool, connect_timeout: float = 30.0) -> None:
        self.allow_private = allow_private
        self.connect_timeout = connect_timeout
        self.refusals: dict[str, str] = {}
        self.tls = Interception()
        self.port = 0
        self.recording: Recording | None = None  # None: no page, no connection
        self._door = ""  # the address the page being captured comes in by
        self._doors: dict[str, asyncio.Server] = {}  # address -> its listener
        self._names: dict[str, asyncio.Future[list[Any]]] = {}  # this page's lookups
        self._serving: set[asyncio.Task[None]] = set()  # connections being relayed
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="egress-proxy", daemon=True)
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    @property
    def server(self) -> str:
        return _address(self.port)

    def __enter__(self) -> EgressProxy:
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise self._failed
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        except OSError as exc:
            self._failed = exc
            self._ready.set()
            loop.close()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for listener in [server, *self._doors.values()]:
                listener.close()
            # (a connection accepted while closing starts a task of its own)
            while tasks := asyncio.all_tasks(loop):
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Held until it ends: asyncio's streams hold it only while the browser's
        # side is open, and a response still coming when the browser hangs up
        # would otherwise be collected as garbage, unread and unrecorded.
        this = asyncio.current_task()
        assert this is not None
        self._serving.add(this)
        upstream: asyncio.StreamWriter | None = None
        try:
            host, port = await _handshake(reader, writer)
            # Outside a page only the browser itself calls out (home): refused;
            # as is a context that is not the page's (the last one, closing).
            door = _address(writer.get_extra_info("sockname")[1])
            recording = self.recording if door == (self._door or self.server) else None
            code, opened = (NOT_ALLOWED, None) if recording is None else \
                await self._open(host, port, recording)
            writer.write(_reply(code))
            await writer.drain()
            if opened is not None and recording is not None:
                upstream = opened[1]
                await self._relay(reader, writer, *opened, host, port, recording)
        except (_Unsupported, asyncio.IncompleteReadError, ValueError, OSError):
            pass  # a client that went away or spoke something else: nothing to relay
        except asyncio.CancelledError:
            pass  # the proxy is closing, with this connection still open (an event
            # stream): ended quietly, as Python 3.11's server logs a cancelled one
        finally:
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()
            self._serving.discard(this)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                     host: str, port: int, recording: Recording) -> None:
        """Copy both ways, the tap reading along; TLS is ended here and made anew.
        What the server showed (its address; its certificate) is recorded too."""
        first = await reader.read(CHUNK)
        read: Read
        write: Write
        server = {"address": str(upstream.get_extra_info("peername")[0])}
        scheme = "https" if first[:1] == TLS_HANDSHAKE else "http"
        if scheme == "https":
            browser = BrowserSide(reader, writer, self.tls.server, first)
            await browser.handshake()
            try:
                await upstream.start_tls(self.tls.client, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                self.refusals[f"{host}:{port}"] = f"ERR_CERT_INVALID ({exc.verify_message})"
                return
            except ssl.SSLError as exc:  # (a server that does not speak TLS there, say)
                self.refusals[f"{host}:{port}"] = f"ERR_SSL_PROTOCOL_ERROR ({exc.reason})"
                return
            read, write, first = browser.read, browser.write, b""
            server |= served(upstream.get_extra_info("ssl_object"))
        else:
            read, write = _reading(reader), _writing(writer)
        origin = _origin(scheme, host, port)
        recording.servers[origin] = server
        tap = Tap(origin, recording, server["address"])
        await asyncio.gather(
            _pipe(read, _writing(upstream), tap.sent, first, upstream),
            _pipe(_reading(up_reader), write, tap.received, b"", writer, tap.closed))

    def door(self) -> str:
        """The address of a proxy for one browser context alone: what comes in
        by it is relayed only while it is the door of the page being captured
        (:meth:`new_page`), and it closes when that page ends."""
        async def open_door() -> str:
            listener = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            address = _address(listener.sockets[0].getsockname()[1])
            self._doors[address] = listener
            return address
        return self._on_loop(open_door())

    def new_page(self, limits: Limits, door: str = "") -> None:
        """Connect and record from here on, for a new page that comes in by
        ``door`` (by default :attr:`server`, the browser's own). Connections
        of the last one, if any linger, go on recording into its own recording."""
        self._call(self._new_page, limits, door)

    def _new_page(self, limits: Limits, door: str) -> None:
        self.refusals.clear()
        self.recording, self._door = Recording(limits), door
        self._names = {}

    def delivered(self, asked: set[tuple[str, str]]) -> float | None:
        """When the last response to these requests (method, URL) had come
        whole, if every one of them has, and none with their method and URL is
        still coming; else None."""
        def whole() -> float | None:
            recording = self.recording
            taken = [t for t in recording.taken if (t.method, t.url) in asked] \
                if recording is not None else []
            if not taken or not all(t.done for t in taken) or \
                    {(t.method, t.url) for t in taken} != asked:
                return None
            return max(t.ended for t in taken)
        return self._call(whole)

    def recorded(self) -> list[Exchange]:
        """The exchanges relayed since :meth:`new_page`, in request order."""
        recording = self.recording
        return self._call(recording.exchanges) if recording is not None else []

    def servers(self) -> dict[str, dict[str, Any]]:
        """Origin -> what its server showed, for the connections since :meth:`new_page`."""
        recording = self.recording
        return self._call(dict, recording.servers) if recording is not None else {}

    def end_page(self) -> None:
        """No page is being captured: refuse new connections until the next."""
        self._call(self._end_page)

    def _end_page(self) -> None:
        self.recording = None
        if listener := self._doors.pop(self._door, None):
            listener.close()  # (its connections still open go on)

    def _call(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function`` in the proxy's thread, where the taps write."""
        async def call() -> T:
            return function(*args)
        return self._on_loop(call())

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the proxy's loop; what it returns."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open(self, host: str, port: int, recording: Recording
                    ) -> tuple[int, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        """Resolve ``host``, check every address, connect to the first that
        answers; unless the page is past its limit of connections."""
        where = f"{host}:{port}"
        if not recording.dial():
            self.refusals[where] = f"over the page's limit of {recording.limits.requests} " \
                                   "connections"
            return NOT_ALLOWED, None
        try:
            addresses = await self._resolve(host)
        except (socket.gaierror, UnicodeError):
            self.refusals[where] = "ERR_NAME_NOT_RESOLVED"
            return HOST_UNREACHABLE, None
        if not self.allow_private:
            # One internal answer is enough to refuse: a name that mixes them is probing.
            blocked = next((a for a in addresses if internal_address(a)), None)
            if blocked is not None:
                self.refusals[where] = f"internal address {blocked}"
                return NOT_ALLOWED, None
        why = "ERR_CONNECTION_REFUSED"
        for address in addresses:
            try:
                return SUCCEEDED, await asyncio.wait_for(
                    asyncio.open_connection(address, port), self.connect_timeout)
            except TimeoutError:
                why = "ERR_CONNECTION_TIMED_OUT"
            except OSError:
                continue
        self.refusals[where] = why
        return REFUSED, None

    async def _resolve(self, host: str) -> list[str]:
        """The addresses of ``host``, looked up once a page, however many of its
        connections ask at the same time. A page opens dozens of connections
        to a few hosts; a resolver asked the same name dozens of times at once
        may drop some of the queries, and each drop costs a 5 s retry. Names
        that cannot exist (``.invalid``, RFC 6761) are not looked up."""
        if host.lower().rstrip(".").rsplit(".", 1)[-1] == "invalid":
            raise socket.gaierror(socket.EAI_NONAME, "a name that cannot exist (RFC 6761)")
        lookup = self._names.get(host)
        if lookup is None:
            lookup = self._names[host] = asyncio.ensure_future(
                self._loop.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        return [str(info[4][0]) for info in await asyncio.shield(lookup)]


class _Unsupported(Exception):
    """A SOCKS request this proxy does not serve (answered before raising)."""


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> tuple[str, int]:
    """Read a SOCKS5 greeting and CONNECT request; the host and port asked for."""
    version, methods = await reader.readexactly(2)
    offered = await reader.readexactly(methods)
    if version != 5 or 0 not in offered:  # 0: no authentication
        writer.write(b"\x05\xff")
        raise _Unsupported
    writer.write(b"\x05\x00")
    version, command, _, kind = await reader.readexactly(4)
    if kind == IPV4:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif kind == IPV6:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif kind == DOMAIN:
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii")
    else:
        writer.write(_reply(ADDRESS_NOT_SUPPORTED))
        raise _Unsupported
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    if version != 5 or command != CONNECT:
        writer.write(_reply(COMMAND_NOT_SUPPORTED))
        raise _Unsupported
    return host, port


def _address(port: int) -> str:
    return f"socks5://127.0.0.1:{port}"


def _reply(code: int) -> bytes:
    return bytes((5, code, 0, IPV4)) + bytes(4) + bytes(2)


Read = Callable[[], Awaitable[bytes]]
Write = Callable[[bytes], Awaitable[None]]


def _reading(reader: asyncio.StreamReader) -> Read:
    return lambda: reader.read(CHUNK)


def _writing(writer: asyncio.StreamWriter) -> Write:
    async def write(data: bytes) -> None:
        writer.write(data)
        await writer.drain()
    return write


async def _pipe(read: Read, write: Write, seen: Callable[[bytes], bool | None], first: bytes,
                to: asyncio.StreamWriter, ended: Callable[[], None] = lambda: None) -> None:
    """Copy until the reader ends, showing the tap each chunk first (it may
    refuse one: a request over the page's limit ends the connection); then
    pass the end on (on a plain connection the other way may go on)."""
    try:
        chunk = first or await read()
        while chunk:
            if seen(chunk) is False:
                to.close()
                return
            await write(chunk)
            chunk = await read()
        ended()
        if to.can_write_eof() and to.get_extra_info("sslcontext") is None:
            to.write_eof()
        else:
            to.close()
    except (ConnectionError, OSError):
        with contextlib.suppress(Exception):
            to.close()


def _origin(scheme: str, host: str, port: int) -> str:
    """How the browser writes the start of the URLs of a connection."""
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host.lower()}" + ("" if port == default else f":{port}")
