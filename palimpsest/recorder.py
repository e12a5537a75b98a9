"""Follow a page's network through Playwright, for what the wire cannot tell.

The exchanges themselves are recorded by the egress proxy (``tap.py``),
exactly as the wire carried them. The browser tells the rest: when the page
has gone quiet (no request in flight, open streams aside), which
requests were the page's (the proxy relays whatever the page's browser
context asks for), and which got no response.
Playwright's page events are used rather than a DevTools session of our own:
they cover frames from other sites too, which Chromium renders in processes
of their own (site isolation). Nothing is paused: the page loads at full speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .models import Exchange
from .timers import Watch

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Response

    from .world import World


#: Requests that stay open for as long as the page may want more: an event
#: stream (a live blog's updates), a media player's buffering. They are not
#: loading, and a page settles around them.
STREAMS = ("eventsource", "media")


#: When the last response to some requests (method, URL) had come whole, if
#: all have: the egress proxy's :meth:`~palimpsest.egress.EgressProxy.delivered`
Delivered = Callable[[set[tuple[str, str]]], float | None]


class NetworkRecorder:
    """Attach to a page before it navigates; read :meth:`exchanges` when it is done.

    Chromium says a request has finished once the page has taken its
    response; one the page never reads (a fetch fired and forgotten, as
    analytics do) would stay in flight for ever. So a request answered, whose
    response has come whole through the wire (``delivered``), is done too.
    """

    def __init__(self, page: Page, delivered: Delivered = lambda asked: None) -> None:
        self._asked: set[tuple[str, str]] = set()  # (method, URL) the page requested
        self._failed: list[str] = []
        self._in_flight: set[Request] = set()
        self._answered: set[Request] = set()  # (its response's head has come)
        self._documents: dict[Request, Response] = {}  # the page's documents' responses
        self._delivered = delivered
        self.last_activity = time.monotonic()
        #: Requests for the page's own document (each redirect hop, and each
        #: redirect made by a script or a <meta http-equiv=refresh>)
        self.documents: list[Request] = []
        self._main = page.main_frame
        page.on("request", self._started)
        page.on("response", self._answer)
        page.on("requestfinished", self._finished)  # (a redirect hop too)
        page.on("requestfailed", self._failed_to_load)

    def touch(self, ago: float = 0.0) -> None:
        """Something happened on the page ``ago`` seconds ago (a scroll to a
        new position): the quiet window starts again from then, unless a
        request came later."""
        self.last_activity = max(self.last_activity, time.monotonic() - ago)

    def idle(self) -> bool:
        """No request in flight (a response the page has not read, come whole,
        is not in flight: the quiet window then runs from when it came)."""
        if self._in_flight and self._in_flight <= self._answered:
            ended = self._delivered({(r.method, r.url) for r in self._in_flight})
            if ended is not None:
                self._in_flight.clear()
                self.last_activity = max(self.last_activity, ended)
        return not self._in_flight

    def _started(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame == self._main:
            self.documents.append(request)
        self._asked.add((request.method, request.url))
        self.last_activity = time.monotonic()
        if request.resource_type not in STREAMS:
            self._in_flight.add(request)

    def _answer(self, response: Response) -> None:
        self._answered.add(response.request)
        if response.request in self.documents:
            self._documents[response.request] = response

    def response(self, document: Request) -> Response | None:
        """The response to one of :attr:`documents`, if it came: kept as it came
        (asked for later, after a page that made thousands of requests,
        Playwright may have let go of the request)."""
        return self._documents.get(document)

    def _finished(self, request: Request) -> None:
        self._in_flight.discard(request)
        self.last_activity = time.monotonic()

    def _failed_to_load(self, request: Request) -> None:
        if urlsplit(request.url).scheme in ("http", "https"):
            self._failed.append(request.url)
        self._finished(request)

    def exchanges(self, recorded: list[Exchange]) -> tuple[tuple[Exchange, ...], tuple[str, ...]]:
        """The page's own exchanges among those the proxy ``recorded`` (with the
        CORS preflights the browser sent for them, which it does not report),
        and the URLs that got no response."""
        urls = {url for _, url in self._asked}
        mine = tuple(e for e in recorded if (e.method, e.url) in self._asked
                     or (e.method == "OPTIONS" and e.url in urls))
        answered = {e.url for e in mine}
        return mine, tuple(url for url in self._failed if url not in answered)


#: Scroll down a viewport a frame from ``from`` (where the last pass ended) to
#: the end of the page or ``steps`` viewports; back to the top. Returns
#: [where the pass ended, viewports scrolled, milliseconds since the last new
#: position was drawn (the top was drawn at the load)]. Each position is drawn before
#: the next: a requestAnimationFrame callback runs before its frame is drawn
#: (and intersection observers look), so a task queued from it runs after.
#: (At most 100 ms a frame: a page may have replaced requestAnimationFrame.
#: Each jump is instant: a page's CSS may ask for scrolling to glide
#: smoothly, over many frames; Bootstrap 5 does.) A page laid out as an app
#: shell does not scroll the window but a box of its own, the largest that
#: scrolls: that box is scrolled through instead.
SCROLL = """async ([from, steps]) => {
    const frame = () => new Promise(r => {
        requestAnimationFrame(() => setTimeout(r));
        setTimeout(r, 100);
    });
    const page = document.scrollingElement || document.documentElement;
    const area = e => e.clientHeight * e.clientWidth;
    const box = page.scrollHeight > innerHeight ? page : [...document.querySelectorAll("body *")]
        .filter(e => e.scrollHeight > e.clientHeight + 1
                && /auto|scroll/.test(getComputedStyle(e).overflowY))
        .reduce((best, e) => best && area(best) >= area(e) ? best : e, null) || page;
    const view = box === page ? innerHeight : box.clientHeight;
    const to = top => box.scrollTo({top, behavior: "instant"});
    to(Math.max(0, from - view));
    let taken = 0, drawn = performance.now();
    while (taken < steps && view + box.scrollTop < box.scrollHeight) {
        to(box.scrollTop + view);
        taken++;
        await frame();
        drawn = performance.now();
    }
    const reached = box.scrollTop + view;
    to(0);
    await frame();
    return [reached, taken, performance.now() - drawn];
}"""


#: One step of SCROLL, for a page whose own scripts do not run (a CSP sandbox
#: without allow-scripts): its timers and frame callbacks never fire, so the
#: wait for each position to be drawn is made from here. Returns where the
#: step reached, or null at the end of the page.
STEP = """([from, first]) => {
    const to = top => scrollTo({top, behavior: "instant"});
    if (first) to(Math.max(0, from - innerHeight));
    if (innerHeight + scrollY >= document.documentElement.scrollHeight) return null;
    to(scrollY + innerHeight);
    return scrollY + innerHeight;
}"""
#: Seconds given each position to be drawn, when waited for from here
DRAWN = 0.05


def settle(world: World, recorder: NetworkRecorder, *, budget: float, quiet: float,
           scroll_steps: int = 12, meanwhile: Callable[[], bool] = lambda: False,
           scripted: bool = True) -> bool:
    """Scroll through the page to wake lazy content and wait for the network to
    go quiet (no request in flight for ``quiet`` seconds, or less once what
    the page scheduled within them has run: see :mod:`.timers`); again over
    whatever the page grew meanwhile.

    Scrolling starts at once, while the last loads may still run, so a page
    costs one quiet window, not one before the scroll and one after. While
    the network is idle, ``meanwhile`` may do work of its own (it says
    whether it did). Bounded by ``budget`` seconds and ``scroll_steps``
    viewports in all; False if the page never went quiet. A page whose own
    scripts do not run (not ``scripted``) is scrolled a step a call.
    """
    deadline = time.monotonic() + budget
    reached, steps, grew = 0, scroll_steps, True
    scroll = _scroll if scripted else _scroll_by_steps
    # (a page whose scripts do not run schedules nothing, nor do ours run there)
    watch = Watch(world, recorder, quiet) if scripted else None
    while grew:
        reached, taken, ago = scroll(world, reached, steps)
        recorder.touch(ago)  # (what the scroll woke may take a moment to ask)
        if not _quiet(world.page, recorder, deadline, quiet, meanwhile, watch):
            return False
        steps -= taken
        grew = steps > 0 and world.evaluate(
            "() => document.documentElement.scrollHeight") > reached
    return True


def _scroll(world: World, start: int, steps: int) -> tuple[int, int, float]:
    reached, taken, since = world.evaluate(SCROLL, [start, steps])
    return reached, taken, since / 1000


def _scroll_by_steps(world: World, start: int, steps: int) -> tuple[int, int, float]:
    reached, taken = start, 0
    while taken < steps and (step := world.evaluate(STEP, [start, taken == 0])) is not None:
        reached, taken = step, taken + 1
        world.page.wait_for_timeout(DRAWN * 1000)
    world.evaluate("() => scrollTo({top: 0, behavior: 'instant'})")
    return reached, taken, 0.0


def _quiet(page: Page, recorder: NetworkRecorder, deadline: float, quiet: float,
           meanwhile: Callable[[], bool], watch: Watch | None) -> bool:
    while (now := time.monotonic()) < deadline:
        idle = recorder.idle()
        if idle and now - recorder.last_activity >= quiet:
            return True
        if idle and meanwhile():
            continue  # (that took a while: look again)
        if idle and watch is not None and (left := watch.left()) is not None:
            if left < 0:
                return True  # nothing the page scheduled is left to run
        else:
            # Sleep until the window could close (events are handled
            # meanwhile); while requests are in flight, 25 ms at a time:
            # each wake-up is a round trip through Playwright's driver.
            left = quiet - (time.monotonic() - recorder.last_activity) if idle else 0.025
        page.wait_for_timeout(1000 * min(max(left, 0), deadline - time.monotonic()))
    return False
