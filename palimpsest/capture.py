"""Render a page in headless Chromium and record every HTTP exchange.

One :class:`Browser` (Playwright + Chromium) can serve many captures; each
capture gets a fresh context, so no cache, cookie or service worker leaks
from one page into the next and every subresource is fetched and recorded.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .config import Settings
from .egress import EgressProxy
from .errors import (
    BlockedURL,
    CaptureError,
    CaptureTimeout,
    NetworkError,
    NotHTML,
)
from .models import Capture
from .recorder import QUIET, NetworkRecorder, settle
from .render import MAX_SCREENSHOT_HEIGHT, Rendering
from .tap import Limits
from .urls import check_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PWBrowser
    from playwright.sync_api import BrowserContext, Error, Page, Playwright, Response

HTML_TYPES = ("text/html", "application/xhtml+xml")
VIEWPORT = {"width": 1280, "height": 900}
# Chromium phones home at start-up; on a closed network those connections fail
# noisily and slow the launch, so they are switched off.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # WebRTC would send UDP around the egress proxy (which carries TCP only)
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    # Chromium takes only the last --disable-features: Playwright's own list
    # (1.65) is repeated here. Added to it: the WebUI omnibox popups that the
    # full Chromium preloads in every new window, whose renderer burns ~0.7 s
    # of CPU per capture for a browser UI no one sees.
    "--disable-features=" + ",".join((
        "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose",
        "HttpsUpgrades", "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter",
        "PaintHolding", "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
        "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
        "WebUIOmniboxPopup", "WebUIOmniboxAimPopup",
    )),
]
#: Redirects made by a script or a <meta http-equiv=refresh> once the page has
#: loaded (within the settle window), followed at most
CLIENT_REDIRECTS = 5
NETWORK_ERRORS = (
    "ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_CLOSED", "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED",
    "ERR_CONNECTION_TIMED_OUT", "ERR_EMPTY_RESPONSE", "ERR_NETWORK_CHANGED",
)


class Capturer(Protocol):
    """Anything that captures a URL: a :class:`Browser` or a :class:`BrowserPool`."""

    def capture(self, url: str) -> Capture: ...


class Browser:
    """A running Chromium, launched on entry and closed on exit.

    Each capture gets a fresh context. A browser that will serve more than one
    page (``reused``) opens the next page's context while the current page
    waits for the network to stay quiet: that costs the page nothing, and
    saves the next one the ~130 ms a new context and page take.
    """

    def __init__(self, settings: Settings, *, reused: bool = True) -> None:
        self.settings = settings
        self.reused = reused
        self.egress = EgressProxy(allow_private=settings.allow_private,
                                  connect_timeout=settings.page_timeout)
        self._playwright: Playwright | None = None
        self._browser: PWBrowser | None = None
        self._spare: BrowserContext | None = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import Error, sync_playwright

        self.egress.__enter__()
        self._playwright = sync_playwright().start()
        try:
            # Every connection goes out through the egress proxy, which checks
            # the address it dials (Chromium resolves no name itself) and ends
            # TLS with a key Chromium is told to accept (tls.py).
            pinned = f"--ignore-certificate-errors-spki-list={self.egress.tls.pin}"
            self._browser = self._playwright.chromium.launch(
                executable_path=self.settings.chromium_path(), args=[*CHROMIUM_ARGS, pinned],
                proxy={"server": self.egress.server},
            )
        except Error as exc:
            self._playwright.stop()
            self.egress.__exit__(None, None, None)
            raise CaptureError(f"could not start Chromium: {exc.message.splitlines()[0]}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
        self.egress.__exit__(None, None, None)

    @property
    def version(self) -> str:
        return self._browser.version if self._browser else ""

    @contextmanager
    def context(self, settings: Settings | None = None) -> Iterator[BrowserContext]:
        """A fresh browser context (empty cache and cookies) with one blank page,
        closed afterwards; the egress proxy connects and records only meanwhile,
        within the limits of ``settings`` (the browser's own by default)."""
        if self._browser is None:
            raise CaptureError("the browser is not running; use it in a with block")
        context, self._spare = self._spare or self._new_context(), None
        self.egress.new_page(_limits(settings or self.settings))
        try:
            yield context
        finally:
            self.egress.end_page()
            context.close()

    def _new_context(self) -> BrowserContext:
        assert self._browser is not None
        context = self._browser.new_context(
            viewport=VIEWPORT,  # type: ignore[arg-type]
            user_agent=self.settings.user_agent,
            service_workers="block",
            accept_downloads=False,
        )
        context.new_page()
        return context

    def _prepare(self) -> bool:
        """Open the next page's context now, unless it is open; whether it was opened."""
        if not self.reused or self._spare is not None or self._browser is None:
            return False
        self._spare = self._new_context()
        return True

    def capture(self, url: str, *, screenshot: bool = True) -> Capture:
        """Load ``url`` like a reader would and return everything it was served."""
        url = check_url(url, allow_private=self.settings.allow_private)
        with self.context() as context:
            return _capture_in(context, url, self.settings, self.version, screenshot,
                               self.egress, self._prepare)


def capture(url: str, settings: Settings, *, screenshot: bool = True) -> Capture:
    """Capture one URL with a browser started for it alone.

    Playwright's sync API refuses to run where an asyncio loop is running (a
    notebook, an async caller, another sync Playwright in this thread); there
    the capture runs in a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _capture_once(url, settings, screenshot)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_capture_once, url, settings, screenshot).result()


def _capture_once(url: str, settings: Settings, screenshot: bool) -> Capture:
    with Browser(settings, reused=False) as browser:
        return browser.capture(url, screenshot=screenshot)


def _capture_in(
    context: BrowserContext, url: str, settings: Settings, version: str, screenshot: bool,
    egress: EgressProxy, meanwhile: Callable[[], bool] = lambda: False,
) -> Capture:
    from playwright.sync_api import Error

    [page] = context.pages
    recorder = NetworkRecorder(page)
    fetched_at = datetime.now(UTC)
    started = time.monotonic()
    response, in_time = _load(page, url, recorder, settings, egress)
    loaded = time.monotonic()
    drawing = settings.settle_timeout + settings.page_timeout
    with _Deadline(context, drawing) as deadline:
        try:
            # A page sent on by a script or a meta refresh: settled again, where it went.
            for _ in range(CLIENT_REDIRECTS + 1):
                rendering, settled, failure = _settle(page, recorder, settings, screenshot,
                                                      meanwhile)
                if (moved := _moved(page, recorder, response, settings)) is None:
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
    if len(dom.encode()) > settings.max_page_bytes:
        raise CaptureError(f"{url} is larger than {settings.max_page_bytes} bytes")
    exchanges, failed = recorder.exchanges(egress.recorded())
    return Capture(
        url=url, final_url=response.url, status=response.status, fetched_at=fetched_at,
        exchanges=exchanges, dom=dom, screenshot=rendering.png, settled=settled and in_time,
        browser_version=version, failed=failed, redirect_chain=_chain(recorder, response),
        conditions=_conditions(settings),
        timings={"load": round(loaded - started, 3),
                 "settle_render": round(time.monotonic() - loaded, 3)},
    )


def _settle(page: Page, recorder: NetworkRecorder, settings: Settings, screenshot: bool,
            meanwhile: Callable[[], bool]) -> tuple[Rendering, bool, Error | None]:
    """The page settled and drawn, whether it settled in time, and the error
    that stopped it, if one did: the page may have gone on to another
    document (a redirect by a script or a meta refresh; see :func:`_moved`)."""
    from playwright.sync_api import Error

    rendering = Rendering(page, recorder, screenshot=screenshot)
    try:
        # While the network is idle: the rendering, then the next page's context.
        settled = settle(page, recorder, budget=settings.settle_timeout,
                         meanwhile=lambda: rendering.take_early() or meanwhile())
        rendering.take()  # (unless what was taken is still current)
    except Error as exc:
        return rendering, False, exc
    return rendering, settled, None


def _moved(page: Page, recorder: NetworkRecorder, response: Response,
           settings: Settings) -> Response | None:
    """If the page asked for another document of its own after ``response``'s,
    and it replaced the page (not a 204, a download, a refusal): its
    response, once loaded; else None."""
    if recorder.documents[-1:] == [response.request]:
        return None
    moved = recorder.documents[-1].response()
    if moved is None or moved.status in (204, 205) or (
            _content_type(moved) not in HTML_TYPES):
        return None
    page.wait_for_load_state("load", timeout=settings.page_timeout * 1000)
    return moved


def _chain(recorder: NetworkRecorder, response: Response) -> tuple[str, ...]:
    """The URLs of the page's own documents asked for before ``response``'s:
    its redirect hops, and the pages that sent it on by script or meta refresh."""
    documents = [request.url for request in recorder.documents]
    return tuple(documents[:recorder.documents.index(response.request)])


def _content_type(response: Response) -> str:
    # (the headers Chromium hands over with the response: no round trip for them)
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


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
    return shown.response() if shown is not None else None


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
        closing = self.context._loop.create_task(
            self.context._impl_obj.close(f"not drawn within {self.seconds:g}s"))
        closing.add_done_callback(lambda task: task.exception())  # (seen: not logged)


def _limits(settings: Settings) -> Limits:
    return Limits(requests=settings.max_requests, response_bytes=settings.max_response_bytes,
                  page_bytes=settings.max_snapshot_bytes)


def _conditions(settings: Settings) -> dict[str, object]:
    return {
        "viewport": VIEWPORT, "user_agent": settings.user_agent or "chromium default",
        "page_timeout": settings.page_timeout, "settle_budget": settings.settle_timeout,
        "settle_quiet": QUIET, "rendered": "DOM and screenshot once the page stopped "
                                          "changing (no request, scroll or DOM change)",
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


class BrowserPool:
    """Chromium browsers, each living in a thread of its own, serving captures
    asked for from any thread.

    Playwright's sync objects belong to the thread that made them, so a
    browser cannot be handed between task threads; instead each pool thread
    keeps one browser for its whole life (reused across pages, a fresh
    context per page) and closes it on exit.
    """

    def __init__(self, settings: Settings, *, size: int = 2) -> None:
        self.settings = settings
        self.size = max(1, size)
        self._jobs: queue.SimpleQueue[tuple[str, Future[Capture]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> BrowserPool:
        for n in range(self.size):
            thread = threading.Thread(target=self._serve, name=f"browser-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def capture(self, url: str) -> Capture:
        """Capture ``url`` in the next free browser; blocks until done."""
        future: Future[Capture] = Future()
        self._jobs.put((url, future))
        return future.result()

    def _serve(self) -> None:
        browser: Browser | None = None
        try:
            while (job := self._jobs.get()) is not None:
                url, future = job
                try:
                    if browser is None:
                        browser = Browser(self.settings).__enter__()
                    future.set_result(browser.capture(url))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
        finally:
            if browser is not None:
                browser.__exit__(None, None, None)
