"""What a settled page looked like: its rendered DOM (shadow roots too), the
documents of its frames, and a full-page screenshot.

Both are taken as soon as the network is idle, while the quiet window that
settling waits for runs out (work that would otherwise follow the wait), and
taken again at the end if anything happened since (a request, a scroll, a
change to the DOM) or was moving then (a transition, an animation with an
end: an image fading in). What is kept is therefore what the page showed
once it stopped changing, as if taken after the wait.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .loop import finished, started
from .models import Frame
from .recorder import NetworkRecorder
from .timers import ANIMATION_LEFT

if TYPE_CHECKING:
    from .world import World

#: CSS pixels; a screenshot of an endless page stops here
MAX_SCREENSHOT_HEIGHT = 16384
#: Seconds the documents of the page's frames are given to be read, all
#: together (each answers in milliseconds): a frame from another site runs
#: in a process of its own, which may be busy (an ad's script); the page is
#: not held up for it, and still settles within its budget.
FRAME_TIME = 0.5
#: Frames read at most (a page of ads may hold hundreds)
MAX_FRAMES = 50
#: From now on, note any change to the DOM (the observer is made once a
#: document, in our own world: the page sees neither it nor the note, which a
#: symbol keeps apart from the window's names for the page's elements); and
#: say whether anything on the page is moving to an end (a transition, an
#: animation that ends: an image fading in), which no change to the DOM tells.
WATCH = """() => {
    const changed = Symbol.for("changed");
    if (!(changed in window)) {
        new MutationObserver(() => { window[changed] = true; }).observe(document, {
            subtree: true, childList: true, attributes: true, characterData: true});
    }
    window[changed] = false;
    return document.getAnimations().map(""" + ANIMATION_LEFT + """).some(isFinite);
}"""
CHANGED = """() => window[Symbol.for("changed")] !== false"""


class Rendering:
    """The DOM, the frames' documents and (if asked for) the screenshot of a
    page that is settling. The frames are taken with the page's DOM; what
    changes in them alone is not watched for."""

    def __init__(self, world: World, recorder: NetworkRecorder, *, screenshot: bool) -> None:
        self.world, self.recorder, self.screenshot = world, recorder, screenshot
        self.dom = ""
        self.frames: tuple[Frame, ...] = ()
        self.png: bytes | None = None
        self.taken_at: datetime | None = None  # when they were taken, last
        self._began: float | None = None  # (the same, on the monotonic clock)
        self._moving = False  # (a transition or animation was running then)

    def take(self) -> bool:
        """Take them, unless those taken are still current; whether they were taken."""
        if self.current():
            return False
        self._take()
        return True

    def take_early(self) -> bool:
        """Take them, unless they were taken since the last request or scroll;
        whether they were taken. Whether the DOM changed since is left to the
        last :meth:`take`: asking the page is a round trip."""
        if self._since_activity():
            return False
        self._take()
        return True

    def current(self) -> bool:
        """Nothing happened since they were taken: no request, no scroll, no
        change, and nothing was moving then."""
        return self._since_activity() and not self._moving \
            and not self.world.evaluate(CHANGED)

    def _since_activity(self) -> bool:
        return self._began is not None and self._began > self.recorder.last_activity

    def _take(self) -> None:
        self._began, self.taken_at = time.monotonic(), datetime.now(UTC)
        self.dom = serialize(self.world)
        self.frames = read_frames(self.world)
        if self.screenshot:
            self.png = screenshot(self.world)
        # Watched from here: the screenshot resizes the page for a moment, and
        # what that changes was never in the DOM taken before it.
        self._moving = bool(self.world.evaluate(WATCH))


def serialize(world: World) -> str:
    """The page's DOM as HTML, its shadow roots included (open or closed), as
    declarative ``<template shadowrootmode>``: text a reader sees inside a web
    component is part of the page. Playwright's ``content()`` leaves them out.
    Serialized by the browser itself, not by a script the page could tamper with."""
    root = world.send("DOM.getDocument", {"depth": 0})["root"]
    html: str = world.send("DOM.getOuterHTML", {
        "nodeId": root["nodeId"], "includeShadowDOM": True})["outerHTML"]
    return html


def read_frames(world: World) -> tuple[Frame, ...]:
    """The documents of the page's frames as rendered (nested frames too, in
    the order they were attached), read by Playwright in a world of its own
    in each frame, out of reach of the frame's scripts; all at once, and
    within ``FRAME_TIME``. A frame gone meanwhile is no longer the page's."""
    from playwright.sync_api import Error

    page = world.page
    # (a frame that could not be loaded is left out: its failure is on record)
    frames = world.frames()[:MAX_FRAMES]
    reading = [started(page, frame.content) for frame in frames]
    deadline = time.monotonic() + FRAME_TIME
    read = []
    for frame, future in zip(frames, reading, strict=True):
        try:
            dom, unread = finished(page, future, max(0.0, deadline - time.monotonic())), ""
        except TimeoutError:
            dom, unread = None, "no answer"
        except Error:
            continue
        parent = frame.parent_frame.url if frame.parent_frame is not None else ""
        read.append(Frame(url=frame.url, parent=parent, name=frame.name, dom=dom, unread=unread))
    return tuple(read)


def screenshot(world: World) -> bytes:
    """A full-page PNG, straight from the DevTools protocol.

    Playwright's ``full_page`` screenshot resizes the page and waits for
    fonts; asking Chromium directly, with its fast PNG encoder, costs half as
    much. Very long pages are cut at ``MAX_SCREENSHOT_HEIGHT``.
    """
    size = world.send("Page.getLayoutMetrics")["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": max(1, size["width"]), "scale": 1,
            "height": max(1, min(size["height"], MAX_SCREENSHOT_HEIGHT))}
    shot = world.send("Page.captureScreenshot", {
        "format": "png", "clip": clip, "captureBeyondViewport": True, "optimizeForSpeed": True,
    })
    return base64.b64decode(shot["data"])
