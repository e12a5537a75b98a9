"""Follow a page's network through the DevTools protocol, for what the wire cannot tell.

The exchanges themselves are recorded by the egress proxy (``tap.py``),
exactly as the wire carried them. The browser tells the rest: when the page
has gone quiet (no request in flight), which requests it made (the proxy also
relays the browser's own calls home, which are not the page's), and which got
no response and why. Nothing is paused: the page loads at full speed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .models import Exchange

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, CDPSession, Page


class NetworkRecorder:
    """Attach to a page before it navigates; read :meth:`exchanges` when it is done."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self._asked: set[tuple[str, str]] = set()  # (method, URL) the page requested
        self._urls: dict[str, str] = {}  # request id -> URL of its latest hop
        self._failed: list[str] = []
        self._in_flight: set[str] = set()
        self.last_activity = time.monotonic()
        self.cdp: CDPSession = context.new_cdp_session(page)
        self.cdp.on("Network.requestWillBeSent", self._started)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.loadingFailed", self._failed_to_load)
        # no bodies kept in the browser: the proxy has them
        self.cdp.send("Network.enable", {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0})

    @property
    def quiet(self) -> bool:
        """No request in flight."""
        return not self._in_flight

    def _started(self, event: dict[str, Any]) -> None:
        request = event["request"]
        self._asked.add((request["method"], request["url"]))
        self._urls[event["requestId"]] = request["url"]
        self._in_flight.add(event["requestId"])
        self.last_activity = time.monotonic()

    def _finished(self, event: dict[str, Any]) -> None:
        self._in_flight.discard(event["requestId"])
        self.last_activity = time.monotonic()

    def _failed_to_load(self, event: dict[str, Any]) -> None:
        url = self._urls.get(event["requestId"], "")
        if urlsplit(url).scheme in ("http", "https"):
            self._failed.append(url)
        self._finished(event)

    def exchanges(self, recorded: list[Exchange]) -> tuple[tuple[Exchange, ...], tuple[str, ...]]:
        """The page's own exchanges among those the proxy ``recorded``, and the
        URLs that got no response."""
        mine = tuple(e for e in recorded if (e.method, e.url) in self._asked)
        answered = {e.url for e in mine}
        return mine, tuple(url for url in self._failed if url not in answered)


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
