"""Run our own scripts in a page, beyond the reach of the page's scripts, and
ask the browser about the page.

Settling and drawing a page run a few scripts in it: scroll it through,
watch its DOM for changes, measure it. Run in the page's own JavaScript world
(as Playwright's ``evaluate`` does), they would share it with the page: the
page could see what they leave behind and tell that it is being archived, or
replace what they call (``scrollTo``, ``requestAnimationFrame``,
``MutationObserver``) and steer what is archived. So they run in an isolated
world of their own, as browser extensions' content scripts do: the same DOM,
but built-ins and globals of their own, which the page cannot see or touch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .loop import aside

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Frame, Page

#: What Chromium says when the document a call ran in was replaced meanwhile
#: (a redirect by a script or a meta refresh), and when the world asked for
#: belongs to a document since replaced
GONE, STALE = "Execution context was destroyed", "Cannot find context with specified id"


class World:
    """An isolated world in the document a page shows, made anew for each
    document; and the page's DevTools session, for what else is asked of it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self._session: CDPSession | None = None
        self._waiting = self._cut = False
        # (Playwright's frame tells when it commits a new document; its page's
        # "framenavigated" does not tell one from a change of history entry)
        page.main_frame._impl_obj._event_emitter.on("navigated", self._navigated)
        # (a page target's id is its main frame's)
        self._frame: str = self.send("Target.getTargetInfo")["targetInfo"]["targetId"]
        self._context: int | None = None

    def evaluate(self, function: str, arg: Any = None) -> Any:
        """``function`` (JavaScript) called with ``arg`` in this world, awaited;
        its result, as JSON gives it back. Fails with Playwright's ``Error``
        (as ``Page.evaluate`` does) if the function throws, or if the page
        goes on to another document meanwhile."""
        from playwright.sync_api import Error

        try:
            result = self._call(function, arg)
        except Error as exc:
            if STALE not in exc.message:
                raise
            self._context = None  # the page shows another document since the last call
            result = self._call(function, arg)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise Error(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A DevTools call about the page. Fails as a navigation (worded as
        Playwright words it, which visit.py knows) if the page goes on to
        another document meanwhile."""
        from playwright.sync_api import Error

        if self._session is None:
            self._session = self.page.context.new_cdp_session(self.page)
        self._waiting, self._cut = True, False
        try:
            result: dict[str, Any] = self._session.send(method, params)
        except Error as exc:
            if self._cut or GONE in exc.message:
                raise Error(f"{GONE}, most likely because of a navigation") from exc
            raise
        finally:
            self._waiting = False
        return result

    def frames(self) -> list[Frame]:
        """The frames in the page, nested ones too, in the order they were
        attached; not those showing Chromium's error page (a frame that could
        not be loaded: nothing a site served, and slow to ask anything of)."""
        return [frame for frame in self.page.frames if frame.parent_frame is not None
                and not frame.url.startswith("chrome-error:")]

    def _call(self, function: str, arg: Any) -> dict[str, Any]:
        if self._context is None:
            self._context = self.send("Page.createIsolatedWorld", {
                "frameId": self._frame, "worldName": "palimpsest"})["executionContextId"]
        return self.send("Runtime.callFunctionOn", {
            "functionDeclaration": function, "executionContextId": self._context,
            "arguments": [{"value": arg}], "awaitPromise": True, "returnByValue": True})

    def _navigated(self, event: dict[str, Any]) -> None:
        """The page committed a new document: its world is made anew, and a
        call still waiting on the old one is cut short, by letting its session
        go. Swapped out for another process (another site's), the old
        document would never answer it (a screenshot waits for ever)."""
        if not event.get("newDocument"):
            return
        self._context, session = None, self._session
        if self._waiting and session is not None:
            self._session, self._cut = None, True
            aside(self.page, session._impl_obj.detach())
