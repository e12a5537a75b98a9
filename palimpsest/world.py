"""Run our own scripts in a page, beyond the reach of the page's scripts.

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

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Page

#: What Chromium says when the document a call ran in was replaced meanwhile
#: (a redirect by a script or a meta refresh), and when the world asked for
#: belongs to a document since replaced
GONE, STALE = "Execution context was destroyed", "Cannot find context with specified id"


class World:
    """An isolated world in the document a page shows, made anew for each
    document; also the page's DevTools session, for what else is asked of it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        # (a page target's id is its main frame's)
        self._frame: str = self.cdp.send("Target.getTargetInfo")["targetInfo"]["targetId"]
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
            if GONE in exc.message:  # (worded as Playwright words it: visit.py knows it)
                raise Error(f"{GONE}, most likely because of a navigation") from exc
            if STALE not in exc.message:
                raise
            self._context = None  # the page shows another document since the last call
            result = self._call(function, arg)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise Error(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    def _call(self, function: str, arg: Any) -> dict[str, Any]:
        if self._context is None:
            self._context = self.cdp.send("Page.createIsolatedWorld", {
                "frameId": self._frame, "worldName": "palimpsest"})["executionContextId"]
        result: dict[str, Any] = self.cdp.send("Runtime.callFunctionOn", {
            "functionDeclaration": function, "executionContextId": self._context,
            "arguments": [{"value": arg}], "awaitPromise": True, "returnByValue": True})
        return result

