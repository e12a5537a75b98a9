"""Record every HTTP exchange of a page through the DevTools protocol.

Playwright's response API hands back sorted, merged headers and no body for
redirects; the protocol has what was really served. The ``Fetch`` domain
pauses each request twice: before it is sent (where internal addresses are
refused, on every redirect hop too, before any byte leaves) and when its
response headers arrive (where the body is taken, error pages included).
``Network.responseReceivedExtraInfo`` carries the raw status line and headers
in the server's order, duplicates kept; ``requestWillBeSentExtraInfo`` the
request headers as sent, cookies included.

Chromium does not expose the body of a redirect response (neither
``Fetch.getResponseBody`` nor ``takeResponseBodyAsStream`` accept one): that
body is read off the egress proxy's relay (``tap.py``); a hop whose body the
relay did not see whole keeps its exact head and an empty, truncated payload.
"""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .config import Settings
from .errors import BlockedURL
from .models import Exchange
from .urls import check_host

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, CDPSession, Page

#: Streams that never end: waiting for their whole body would hang the capture.
STREAMING_TYPES = {"Media", "EventSource", "WebSocket"}


@dataclass
class _Hop:
    """One request of a chain (a redirect makes a new hop under the same id)."""

    url: str
    method: str
    headers: dict[str, str]
    post: bytes | None
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: str | None = None


class NetworkRecorder:
    """Attach to a page before it navigates; read :meth:`exchanges` when it is done."""

    def __init__(self, context: BrowserContext, page: Page, settings: Settings,
                 redirect_body: Callable[[str, str], bytes | None] = lambda m, u: None) -> None:
        self.settings = settings
        self._redirect_body = redirect_body  # (method, URL) -> the body the relay saw
        self.blocked: list[str] = []
        self.refused: list[str] = []  # over the request limit
        self._hops: dict[str, list[_Hop]] = defaultdict(list)
        self._sent: dict[str, list[dict[str, str]]] = defaultdict(list)
        self._heads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._in_flight: set[str] = set()
        self._requests = 0
        self._stored = 0
        self.last_activity = time.monotonic()
        self.cdp: CDPSession = context.new_cdp_session(page)
        on = self.cdp.on
        on("Fetch.requestPaused", self._paused)
        on("Network.requestWillBeSent", self._started)
        on("Network.loadingFinished", self._finished)
        on("Network.loadingFailed", self._finished)
        on("Network.requestWillBeSentExtraInfo",
           lambda e: self._sent[e["requestId"]].append(e.get("headers", {})))
        on("Network.responseReceivedExtraInfo",
           lambda e: self._heads[e["requestId"]].append(e))
        self.cdp.send("Network.enable")
        self.cdp.send("Fetch.enable", {"patterns": [
            {"urlPattern": "*", "requestStage": "Request"},
            {"urlPattern": "*", "requestStage": "Response"},
        ]})

    @property
    def quiet(self) -> bool:
        """No request in flight."""
        return not self._in_flight

    def _started(self, event: dict[str, Any]) -> None:
        self._in_flight.add(event["requestId"])
        self.last_activity = time.monotonic()

    def _finished(self, event: dict[str, Any]) -> None:
        self._in_flight.discard(event["requestId"])
        self.last_activity = time.monotonic()

    def _paused(self, event: dict[str, Any]) -> None:
        from playwright.sync_api import Error

        try:
            if "responseStatusCode" in event or "responseErrorReason" in event:
                self._response(event)
            else:
                self._request(event)
        except Error:
            pass  # the page or its context closed while the request was paused

    def _request(self, event: dict[str, Any]) -> None:
        request, fetch_id = event["request"], event["requestId"]
        url = request["url"]
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):  # made by the page itself: nothing to fetch
            self.cdp.send("Fetch.continueRequest", {"requestId": fetch_id})
            return
        blocked = parts.scheme not in ("http", "https") or (
            not self.settings.allow_private and host_blocked(parts.hostname or ""))
        if not blocked:
            self._requests += 1
        if blocked or self._requests > self.settings.max_requests:
            (self.blocked if blocked else self.refused).append(url)
            self.cdp.send("Fetch.failRequest", {"requestId": fetch_id,
                                                 "errorReason": "BlockedByClient"})
            return
        self._hops[event.get("networkId") or fetch_id].append(_Hop(
            url=url, method=request["method"], headers=request.get("headers", {}),
            post=_post_data(request),
        ))
        self.cdp.send("Fetch.continueRequest", {"requestId": fetch_id})

    def _response(self, event: dict[str, Any]) -> None:
        fetch_id = event["requestId"]
        hops = self._hops.get(event.get("networkId") or fetch_id)
        if hops and "responseStatusCode" in event:
            hop = hops[-1]
            hop.status = event["responseStatusCode"]
            hop.reason = event.get("responseStatusText", "")
            hop.response_headers = [(h["name"], h["value"])
                                    for h in event.get("responseHeaders", [])]
            self._take_body(hop, fetch_id, event.get("resourceType", ""))
        self.cdp.send("Fetch.continueRequest", {"requestId": fetch_id})

    def _take_body(self, hop: _Hop, fetch_id: str, resource_type: str) -> None:
        from playwright.sync_api import Error

        declared = _content_length(hop.response_headers)
        room = min(self.settings.max_response_bytes,
                   self.settings.max_snapshot_bytes - self._stored)
        if 300 <= (hop.status or 0) < 400 and _has(hop.response_headers, "location"):
            hop.truncated = "unspecified" if declared != 0 else None
            return
        if resource_type in STREAMING_TYPES or (declared is not None and declared > room):
            hop.truncated = "length"
            return
        try:
            got = self.cdp.send("Fetch.getResponseBody", {"requestId": fetch_id})
        except Error:
            hop.truncated = "unspecified"  # the browser dropped it (aborted load)
            return
        body = base64.b64decode(got["body"]) if got["base64Encoded"] else got["body"].encode()
        if len(body) > room:
            body, hop.truncated = body[:max(room, 0)], "length"
        hop.body = body
        self._stored += len(body)

    def exchanges(self) -> tuple[tuple[Exchange, ...], tuple[str, ...]]:
        """Every exchange in request order, and the URLs that got no response."""
        exchanges, failed = [], [*self.blocked, *self.refused]
        for network_id, hops in self._hops.items():
            sent, heads = self._sent.get(network_id, []), self._heads.get(network_id, [])
            for n, hop in enumerate(hops):
                if hop.status is None:
                    failed.append(hop.url)
                    continue
                head = heads[n] if n < len(heads) else {}
                redirect = n < len(hops) - 1
                if redirect and (body := self._redirect_body(hop.method, hop.url)) is not None:
                    hop.body, hop.truncated = body, None
                exchanges.append(_exchange(hop, sent[n] if n < len(sent) else hop.headers,
                                           head, redirect=redirect))
        return tuple(exchanges), tuple(failed)


@lru_cache(maxsize=1024)
def host_blocked(host: str) -> bool:
    """The host resolves to an internal address (cached: asked for every request)."""
    try:
        check_host(host)
    except BlockedURL:
        return True
    return False


def _exchange(hop: _Hop, sent: dict[str, str], head: dict[str, Any], *,
              redirect: bool) -> Exchange:
    status, reason, headers = hop.status or 0, hop.reason, hop.response_headers
    protocol = "HTTP/1.1"
    # The raw head is trusted only when it is this hop's (same status code).
    if head.get("statusCode") == status:
        if head.get("headersText"):
            protocol, reason, headers = _parse_head(head["headersText"])
        elif head.get("headers"):
            # HTTP/2 and 3 have no head as text; the network stack's headers
            # still hold every Set-Cookie (Fetch's list drops them), repeated
            # headers joined by newlines.
            headers = [(name, value) for name, values in head["headers"].items()
                       for value in values.split("\n")]
    return Exchange(
        url=hop.url, method=hop.method, request_headers=tuple(sent.items()),
        request_body=hop.post, status=status, reason=reason,
        response_headers=tuple(headers), body=hop.body, redirect=redirect,
        protocol=protocol, truncated=hop.truncated,
    )


def _parse_head(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(protocol, reason, headers) of a raw response head, order and case kept."""
    lines = text.split("\r\n")
    protocol, _, rest = lines[0].partition(" ")
    reason = rest.partition(" ")[2]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    return protocol, reason, headers


def _post_data(request: dict[str, Any]) -> bytes | None:
    entries = request.get("postDataEntries")
    if entries:
        return b"".join(base64.b64decode(e.get("bytes", "")) for e in entries)
    data = request.get("postData")
    return data.encode() if isinstance(data, str) else None


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(k.lower() == name for k, _ in headers)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length" and value.strip().isdigit():
            return int(value)
    return None


#: Scroll down a viewport a frame from ``from`` (where the last pass ended) to
#: the end of the page or ``steps`` viewports; back to the top. Returns
#: [where the pass ended, viewports scrolled].
SCROLL = """async ([from, steps]) => {
    const frame = () => new Promise(r => requestAnimationFrame(() => r()));
    scrollTo(0, Math.max(0, from - innerHeight));
    let taken = 0;
    while (taken < steps && innerHeight + scrollY < document.documentElement.scrollHeight) {
        scrollBy(0, innerHeight);
        taken++;
        await frame();
    }
    const reached = scrollY + innerHeight;
    scrollTo(0, 0);
    await frame();
    return [reached, taken];
}"""


def settle(page: Page, recorder: NetworkRecorder, *, budget: float, quiet: float = 0.25,
           scroll_steps: int = 12) -> bool:
    """Scroll through the page to wake lazy content and wait for the network to
    go quiet; again over whatever the page grew meanwhile.

    Scrolling starts at once, while the last loads may still run, so a page
    costs one quiet window, not one before the scroll and one after. Bounded
    by ``budget`` seconds and ``scroll_steps`` viewports in all; False if the
    page never went quiet.
    """
    deadline = time.monotonic() + budget
    reached, steps, grew = 0, scroll_steps, True
    while grew:
        reached, taken = page.evaluate(SCROLL, [reached, steps])
        if not _quiet(page, recorder, deadline, quiet):
            return False
        steps -= taken
        grew = steps > 0 and page.evaluate(
            "document.documentElement.scrollHeight") > reached
    return True


def _quiet(page: Page, recorder: NetworkRecorder, deadline: float, quiet: float) -> bool:
    while (now := time.monotonic()) < deadline:
        if recorder.quiet and now - recorder.last_activity >= quiet:
            return True
        # Sleep until the window could close (events are handled meanwhile):
        # each wake-up is a round trip through Playwright's driver.
        left = quiet - (now - recorder.last_activity) if recorder.quiet else 0
        page.wait_for_timeout(1000 * min(max(left, 0.025), deadline - now))
    return False
