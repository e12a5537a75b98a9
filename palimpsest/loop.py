"""Calls on the event loop that Playwright's sync API runs on, left to run
while this thread goes on.

Playwright's sync API drives an asyncio loop on this thread: each sync call
runs the loop until its answer comes, so whatever was started on the loop
meanwhile moves on too. :func:`aside` starts a call from where no sync call
can be made (a timer, an event handler) and forgets it; :func:`started` runs
sync calls in the background, to overlap work that takes longer than the
time there is for it, and :func:`finished` waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def aside(owner: Any, call: Coroutine[Any, Any, Any]) -> None:
    """Start ``call`` (of Playwright's async objects) on the event loop that
    ``owner`` (a sync Playwright object) runs on, without waiting for it. What
    it raises (its target gone already) is seen, so that asyncio does not log it."""
    task = owner._loop.create_task(call)
    task.add_done_callback(lambda done: done.exception())


def started(owner: Any, call: Callable[[], T]) -> asyncio.Future[T]:
    """Make the sync Playwright calls of ``call`` in the background, on the loop
    ``owner`` runs on, as Playwright runs an event handler: in a greenlet of
    its own, which waits on the loop while this thread goes on. Its outcome
    is for :func:`finished`; nothing is logged if no one asks for it."""
    import greenlet

    future: asyncio.Future[T] = owner._loop.create_future()
    future.add_done_callback(lambda done: done.exception())

    def run() -> None:
        try:
            future.set_result(call())
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits for it
            future.set_exception(exc)

    owner._loop.call_soon(lambda: greenlet.greenlet(run).switch())
    return future


def finished(owner: Any, future: asyncio.Future[T], timeout: float | None = None) -> T:
    """What the call :func:`started` gave, waited for as a sync call is; or
    what it raised. After ``timeout`` seconds, TimeoutError: the call goes on."""
    waited = future if timeout is None or future.done() else \
        asyncio.wait_for(asyncio.shield(future), timeout)
    result: T = owner._sync(waited)
    return result
