"""One page, in a fresh browser context: load it, follow it where it sends the
reader, let it settle, draw it, and gather what it was served.

What the page is served is recorded by the egress proxy (``tap.py``); the
browser tells when it has settled (``recorder.py``) and draws it
(``render.py``). Every step is bounded in time: a page that never finishes
loading is kept as it stands, and one that stops responding fails.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .config import Settings
from .egress import EgressProxy
from .errors import BlockedURL, CaptureError, CaptureTimeout, NetworkError, NotHTML
from .loop import aside
from .models import Capture, Frame
from .recorder import NetworkRecorder, settle
from .render import MAX_SCREENSHOT_HEIGHT, Rendering
from .warc import HTML_TYPES, media_type
from .world import World

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Error, Page, Response

#: Redirects made by a script or a <meta http-equiv=refresh> once the page has
#: loaded (within the settle window), followed at most
CLIENT_REDIRECTS = 5
NETWORK_ERRORS = (
    "ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_CLOSED", "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED",
    "ERR_CONNECTION_TIMED_OUT", "ERR_EMPTY_RESPONSE", "ERR_NETWORK_CHANGED",
)


def visit(
    world: World, url: str, settings: Settings, version: str, screenshot: bool,
    egress: EgressProxy,
) -> Capture:
    """Capture ``url`` in the world of a blank page (alone in a fresh context),
    whose exchanges ``egress`` records."""
    from playwright.sync_api import Error

    page = world.page
    recorder = NetworkRecorder(page, egress.delivered)
    fetched_at = datetime.now(UTC)
    started = time.monotonic()
    response, in_time = _load(page, url, recorder, settings, egress)
    loaded = time.monotonic()
    drawing = settings.settle_timeout + settings.page_timeout
    with _Deadline(page.context, drawing) as deadline:
        try:
            # A page sent on by a script or a meta refresh: settled again, where it went.
            for _ in range(CLIENT_REDIRECTS + 1):
                rendering, settled, failure = _settle(world, recorder, settings, screenshot,
                                                      _scripts_run(response))
                moved = _moved(page, recorder, response, failure, egress.refusals)
                if moved is None:
                    if failure:
                        raise failure
                    break
                response = moved
            else:
                raise CaptureError(f"{url} redirects in a loop")
        except Error as exc:
            if deadline.passed:
                raise CaptureTimeout(f"{url} stopped responding: it could not be settled and "
                                     f"drawn within {drawing:g}s of its load") from exc
            raise CaptureError(f"{url} could not be rendered: "
                               f"{exc.message.splitlines()[0]}") from exc
    dom = rendering.dom
    room = settings.max_page_bytes - len(dom.encode())
    if room < 0:
        raise CaptureError(f"{url} is larger than {settings.max_page_bytes} bytes")
    exchanges, failed = recorder.exchanges(egress.recorded())
    origins = {f"{u.scheme}://{u.netloc}" for u in (urlsplit(e.url) for e in exchanges)}
    return Capture(
        url=url, final_url=response.url, status=response.status, fetched_at=fetched_at,
        exchanges=exchanges, dom=dom, screenshot=rendering.png, settled=settled and in_time,
        browser_version=version, failed=failed, redirect_chain=_chain(recorder, response),
        conditions=_conditions(settings, page.viewport_size),
        servers={o: server for o, server in egress.servers().items() if o in origins},
        frames=_within(rendering.frames, room), rendered_at=rendering.taken_at,
        timings={"load": round(loaded - started, 3),
                 "settle_render": round(time.monotonic() - loaded, 3)},
    )


def _load(page: Page, url: str, recorder: NetworkRecorder, settings: Settings,
          egress: EgressProxy) -> tuple[Response, bool]:
    """Go to ``url`` and wait for its load event: the page's response, and
    whether the load event came in time. A page that arrived but never
    finished loading (one of its parts never ends) is kept as it stands."""
    from playwright.sync_api import Error, TimeoutError

    loaded = True
    try:
        response = page.goto(url, wait_until="load", timeout=settings.page_timeout * 1000)
    except TimeoutError as exc:
        response, loaded = _arrived(page, recorder), False
        if response is None:
            raise CaptureTimeout(f"{url} did not load within {settings.page_timeout:g}s") from exc
    except Error as exc:
        raise _translate(url, exc, egress.refusals) from exc
    if response is None:
        raise CaptureError(f"{url} gave no response")
    if (content_type := _content_type(response)) not in HTML_TYPES:
        raise NotHTML(f"{url} is not an HTML page (Content-Type: {content_type or 'none'})")
    return response, loaded


def _arrived(page: Page, recorder: NetworkRecorder) -> Response | None:
    """The response of the document the page shows, if one has arrived."""
    shown = next((r for r in reversed(recorder.documents) if r.url == page.url), None)
    return recorder.response(shown) if shown is not None else None


def _content_type(response: Response) -> str:
    # (the headers Chromium hands over with the response: no round trip for them)
    return media_type(response.headers.get("content-type", ""))


def _settle(world: World, recorder: NetworkRecorder, settings: Settings, screenshot: bool,
            scripted: bool) -> tuple[Rendering, bool, Error | None]:
    """The page settled and drawn, whether it settled in time, and the error
    that stopped it, if one did: the page may have gone on to another
    document (a redirect by a script or a meta refresh; see :func:`_moved`)."""
    from playwright.sync_api import Error

    rendering = Rendering(world, recorder, screenshot=screenshot)
    try:
        # (the rendering is taken as soon as the network is idle: the page may
        # prove settled then, with nothing left to run)
        settled = settle(world, recorder, budget=settings.settle_timeout,
                         quiet=settings.settle_quiet, scripted=scripted,
                         meanwhile=rendering.take_early)
        rendering.take()  # (unless what was taken is still current)
    except Error as exc:
        return rendering, False, exc
    return rendering, settled, None


def _scripts_run(response: Response) -> bool:
    """Whether the page's own scripts run: not under a Content-Security-Policy
    ``sandbox`` that leaves out ``allow-scripts`` (the one way a server can
    switch them off; a <meta> policy cannot sandbox)."""
    policies = response.headers.get("content-security-policy", "").replace("\n", ",")
    for directive in (d.lower().split() for p in policies.split(",") for d in p.split(";")):
        if directive[:1] == ["sandbox"] and "allow-scripts" not in directive:
            return False
    return True


def _moved(page: Page, recorder: NetworkRecorder, response: Response,
           failure: Error | None, refusals: dict[str, str]) -> Response | None:
    """The response of the document to settle next, if the page went on to
    another document of its own after ``response``'s (a redirect by a script
    or a meta refresh), and it replaced the page (not a 204 or a download);
    None if the page stayed where it was. One that could not be reached
    (refused, unresolvable) fails the capture: the browser shows its error page.

    ``failure`` stopped the last settling: a sign that the page moved on, or
    that the document followed last was shown only since then."""
    if failure is not None:
        page.wait_for_timeout(0)  # (a round trip: the events that came with it are handled)
    latest = recorder.documents[-1]
    if latest is response.request:
        navigated = failure is not None and "navigation" in failure.message
        return response if navigated else None
    moved = latest.response()
    if moved is None and "ERR_ABORTED" not in (latest.failure or "ERR_ABORTED"):
        raise _translate(latest.url, Exception(latest.failure), refusals)
    if moved is None or moved.status in (204, 205) or (
            _content_type(moved) not in HTML_TYPES):
        return None  # (cancelled, a download, no content: the page stays)
    return moved


def _within(frames: tuple[Frame, ...], room: int) -> tuple[Frame, ...]:
    """The frames, those whose DOMs fit in what is left of the page's
    ``room`` (in bytes, first come first kept) with their DOMs."""
    kept = []
    for frame in frames:
        size = len(frame.dom.encode()) if frame.dom is not None else 0
        if size > room:
            frame = replace(frame, dom=None, unread="too large")
        else:
            room -= size
        kept.append(frame)
    return tuple(kept)


def _chain(recorder: NetworkRecorder, response: Response) -> tuple[str, ...]:
    """The URLs of the page's own documents asked for before ``response``'s:
    its redirect hops, and the pages that sent it on by script or meta refresh."""
    documents = recorder.documents
    before = documents.index(response.request) if response.request in documents else 0
    return tuple(request.url for request in documents[:before])


class _Deadline:
    """Closes a browser context still open after ``seconds``.

    A page whose script never yields answers no call, and Playwright's
    ``evaluate``, ``content()`` and DevTools calls take no timeout: they would
    wait for ever. Once its context is closed they fail at once. The calls
    block this thread, so the timer is set on the event loop that Playwright's
    sync API runs them on (its ``_loop``; ``_impl_obj`` is the async context).
    """

    def __init__(self, context: BrowserContext, seconds: float) -> None:
        self.context, self.seconds = context, seconds
        self.passed = False

    def __enter__(self) -> _Deadline:
        self._timer = self.context._loop.call_later(self.seconds, self._close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _close(self) -> None:
        self.passed = True
        aside(self.context, self.context._impl_obj.close(f"not drawn within {self.seconds:g}s"))


def _conditions(settings: Settings, viewport: object) -> dict[str, object]:
    return {
        "viewport": viewport, "user_agent": settings.user_agent or "chromium default",
        "page_timeout": settings.page_timeout, "settle_budget": settings.settle_timeout,
        "settle_quiet": settings.settle_quiet,
        "settled_when": "no request in flight for settle_quiet seconds, or sooner once what "
                        "the page and its frames scheduled within them (timers, animation "
                        "frames, idle callbacks, scheduler tasks) had run",
        "rendered": "DOM and screenshot once the page stopped changing (no request, "
                    "scroll or DOM change, no transition running)",
        "max_requests": settings.max_requests,
        "max_response_bytes": settings.max_response_bytes,
        "max_snapshot_bytes": settings.max_snapshot_bytes,
        "javascript": True, "service_workers": "blocked",
        "transport": "HTTP/1.1 through the egress proxy, which records every exchange "
                     "(TLS ended there; the site's certificate verified by the proxy "
                     "against the system's authorities)",
        "screenshot": f"full page, png, at most {MAX_SCREENSHOT_HEIGHT} px high",
    }


def _translate(url: str, exc: Exception, refusals: dict[str, str]
               ) -> CaptureError | BlockedURL:
    message = getattr(exc, "message", str(exc)).splitlines()[0]
    if refused := _refusal(url, refusals, message):
        where, why = refused  # the egress proxy said no, and knows why
        if why.startswith("internal"):
            return BlockedURL(f"{url} led to {where}, an {why}, which is refused")
        if why.startswith("ERR_CERT"):
            return NetworkError(f"{url} could not be reached: its certificate does not "
                                f"verify {why.removeprefix('ERR_CERT_INVALID ')}")
        if why.startswith("ERR_SSL"):
            return NetworkError(f"{url} could not be reached: its server made no secure "
                                f"connection {why.removeprefix('ERR_SSL_PROTOCOL_ERROR ')}; "
                                f"it may not speak HTTPS on that port")
        message = why
    if "Download is starting" in message:
        return NotHTML(f"{url} is a download, not an HTML page")
    if "ERR_BLOCKED_BY_CLIENT" in message or "ERR_FAILED" in message:
        return CaptureError(f"{url} could not be loaded (blocked or aborted)")
    if any(code in message for code in NETWORK_ERRORS):
        code = next(c for c in NETWORK_ERRORS if c in message)
        return NetworkError(f"{url} could not be reached ({code})")
    if "ERR_TOO_MANY_REDIRECTS" in message:
        return CaptureError(f"{url} redirects in a loop")
    if "ERR_UNSAFE_PORT" in message:  # (SMTP's, IRC's...: a page could abuse them)
        return CaptureError(f"{url} is on a port browsers never connect to")
    return CaptureError(f"{url} could not be loaded: {message}")


def _refusal(url: str, refusals: dict[str, str], message: str) -> tuple[str, str] | None:
    """Where and why the egress proxy refused a page: its own host, else, when
    the proxy refused a connection, the internal address a redirect led to
    (the browser's own calls home go to public hosts)."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    if where in refusals:
        return where, refusals[where]
    if "ERR_SOCKS" not in message:
        return None
    return next(((w, why) for w, why in refusals.items() if why.startswith("internal")), None)
