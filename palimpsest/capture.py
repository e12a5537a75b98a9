"""Render a page in headless Chromium and record every HTTP exchange.

One :class:`Browser` (Playwright + Chromium) can serve many captures; each
capture gets a fresh context, so no cache, cookie or service worker leaks
from one page into the next and every subresource is fetched and recorded.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from . import timers
from .config import Settings
from .egress import EgressProxy
from .errors import BrowserGone, CaptureError
from .loop import aside, finished, started
from .models import Capture
from .tap import Limits
from .urls import check_url
from .visit import visit
from .world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PWBrowser
    from playwright.sync_api import Error, Playwright

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
    # Chromium lists the Google accounts of each profile it starts, at
    # accounts.google.com, through the proxy if a page is being captured then:
    # that would tell Google of every capture machine. Its own Google sign-in
    # service is sent to a name that cannot exist (RFC 6761), which the proxy
    # answers itself; pages still reach accounts.google.com like any site.
    "--gaia-url=http://gaia.invalid",
    # Pages see a reader's browser: navigator.webdriver stays false (some sites
    # turn automated browsers away, or serve them another page)
    "--disable-blink-features=AutomationControlled",
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


class Capturer(Protocol):
    """Anything that captures a URL: a :class:`Browser` or a :class:`BrowserPool`."""

    def capture(self, url: str) -> Capture: ...


class Browser:
    """A running Chromium, launched on entry and closed on exit.

    Each capture gets a fresh context. A browser that will serve more than one
    page (``reused``) starts opening the next page's context, in the
    background, as the current page starts loading (loading waits on the
    network mostly): that saves the next page the ~150 ms a new context and
    page take. A page's context is closed in the background too, while the
    next page loads: each context comes in by a door of its own to the
    egress proxy, which records only the page being captured.
    """

    def __init__(self, settings: Settings, *, reused: bool = True) -> None:
        self.settings = settings
        self.reused = reused
        self.egress = EgressProxy(allow_private=settings.allow_private,
                                  connect_timeout=settings.page_timeout)
        self._playwright: Playwright | None = None
        self._browser: PWBrowser | None = None
        self._spare: asyncio.Future[tuple[World, str]] | None = None  # the next page

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
            # (settled once, for every context and the record of each capture)
            agent = self.settings.user_agent or _reader_agent(self._browser)
            self.settings = self.settings.with_(user_agent=agent)
        except Error as exc:
            self._playwright.stop()
            self.egress.__exit__(None, None, None)
            raise _not_started(exc) from exc
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

    @property
    def alive(self) -> bool:
        """Chromium is running (it may crash, or be killed when memory runs out)."""
        return self._browser is not None and self._browser.is_connected()

    @contextmanager
    def page(self, settings: Settings | None = None) -> Iterator[World]:
        """A blank page in a fresh browser context (empty cache and cookies), in
        its :class:`World`; the context is closed afterwards, in the
        background. The egress proxy connects and records only meanwhile, within
        the limits of ``settings`` (the browser's own by default)."""
        if self._browser is None:
            raise CaptureError("the browser is not running; use it in a with block")
        spare, self._spare = self._spare, None
        world, door = finished(self._browser, spare) if spare is not None else self._new_page()
        self.egress.new_page(_limits(settings or self.settings), door)
        try:
            yield world
        finally:
            self.egress.end_page()
            context = world.page.context
            aside(context, context._impl_obj.close(None))  # (while the next page loads)

    def _new_page(self) -> tuple[World, str]:
        """A page in a fresh context, and the egress proxy's door it comes in by."""
        assert self._browser is not None
        door = self.egress.door()
        context = self._browser.new_context(
            viewport=VIEWPORT,  # type: ignore[arg-type]
            user_agent=self.settings.user_agent,
            service_workers="block",
            accept_downloads=False,
            proxy={"server": door},
        )
        context.add_init_script(timers.hook())  # (so that settling may ask what is due)
        return World(context.new_page()), door

    def _prepare(self) -> None:
        """Start opening the next page in the background, unless it is open or opening."""
        if self.reused and self._spare is None and self._browser is not None:
            self._spare = started(self._browser, self._new_page)

    def capture(self, url: str, *, screenshot: bool = True) -> Capture:
        """Load ``url`` like a reader would and return everything it was served."""
        url = check_url(url, allow_private=self.settings.allow_private)
        try:
            with self.page() as world:
                self._prepare()
                return visit(world, url, self.settings, self.version, screenshot, self.egress)
        except Exception as exc:
            if self._browser is not None and not self.alive:
                raise BrowserGone(f"{url} was not captured: Chromium ended during "
                                  "the capture") from exc
            raise


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


def _not_started(exc: Error) -> CaptureError:
    """Why Chromium did not start. Killed by a signal as it started (out of
    memory: a sweep's other browsers were busy) or too slow to start, it may
    start later; a binary that is missing or exits with an error will not."""
    first = exc.message.splitlines()[0]
    killed = re.search(r"process did exit: exitCode=null, signal=(SIG[A-Z]+)", exc.message)
    if killed is not None or first.startswith("BrowserType.launch: Timeout"):
        why = f"killed by {killed[1]}" if killed is not None else "too slow"
        return BrowserGone(f"Chromium could not start ({why}); it may, later")
    return CaptureError(f"could not start Chromium: {first}")


def _reader_agent(browser: PWBrowser) -> str:
    """The User-Agent this Chromium sends when it is a reader's browser, not a
    headless one: the archive is of what readers are served, and some news
    sites turn away, or serve another page to, "HeadlessChrome"."""
    session = browser.new_browser_cdp_session()
    try:
        agent: str = session.send("Browser.getVersion")["userAgent"]
    finally:
        session.detach()
    return agent.replace("HeadlessChrome/", "Chrome/")


def _limits(settings: Settings) -> Limits:
    return Limits(requests=settings.max_requests, response_bytes=settings.max_response_bytes,
                  page_bytes=settings.max_snapshot_bytes)


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
                    if browser is not None and not browser.alive:
                        dead, browser = browser, None  # (started anew below)
                        dead.__exit__(None, None, None)
                    if browser is None:
                        browser = Browser(self.settings).__enter__()
                    future.set_result(browser.capture(url))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
        finally:
            if browser is not None:
                browser.__exit__(None, None, None)
