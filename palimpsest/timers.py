"""What a page has scheduled: the timers it set and the frames it asked to be
called back at, in each of its frames, and the transitions it has running.

Settling waits for the network to stay quiet, because a page may still ask
for more: a timer that fetches the next part of a story, a callback that
shows what came. A page with nothing scheduled will not, unless something
happens first (a request ends, a frame is drawn); so a page asked what it
has scheduled need not be given the whole quiet window: the window ends
once every piece of work the page set within it has run.

Chromium tells nothing of a page's timers short of tracing it, so each
document, before its own scripts run, has its timer functions watched
(``HOOK``, in the page's own JavaScript world: the timers are set there).
The watch adds no name to the window, its functions' source reads as the
browser's own, and it answers only an event whose name (``NAME``) the page
cannot know. A page could still tell its timer functions apart from the
browser's own (read by another window's ``toString``, or by the stack of an
error), or answer falsely; all it gains is being waited for the whole
window, or less, as it could by timing its requests.
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from typing import TYPE_CHECKING

from .loop import finished, started

if TYPE_CHECKING:
    from .recorder import NetworkRecorder
    from .world import World

#: The event a page's watch answers; a page cannot guess it.
NAME = f"palimpsest-{secrets.token_hex(8)}"
#: Milliseconds within which a requested animation frame or idle callback is
#: taken to have run (a frame is drawn every 16 ms; a busy one is late).
FRAME_MS = 50
#: Seconds the page's frames are given to answer, all together.
ANSWER_TIME = 0.1
#: Seconds given a piece of work, once due, to run (and ask for what it wants)
RUN_TIME = 0.01
#: Times a page is asked within one quiet window: one still busy when asked
#: again (an animation, a clock) is waited for to the window's end.
ASKED = 2

#: Run in every document before its scripts (``add_init_script``): watch the
#: timers the page sets, and answer ``NAME`` with the milliseconds until the
#: last of them due within the horizon asked about (0: due now, -1: none).
#: Each timer function is the browser's own behind a proxy, which calls it as
#: the page would (and whose source reads as the browser's own); a timeout's
#: callback is called through one that notes it has run (a timeout given code
#: as a string, or a task posted to the scheduler, is taken to have run once
#: due).
HOOK = """((name, frameMs) => {
    const clock = performance.now.bind(performance), apply = Reflect.apply;
    // id -> [when due, the interval's period, or 0 (a timeout), or -1 (taken as run once due)]
    const timers = new Map();
    let frameAsked = -Infinity;
    const natives = new WeakMap();  // each proxy -> the function behind it
    const watch = (method, call, owner = window) => {
        const native = owner[method];
        if (typeof native !== "function") return;
        owner[method] = new Proxy(native, {apply: call});
        natives.set(owner[method], native);
    };
    // (a proxy's source reads "function () { [native code] }": a page checking
    // its timer functions are the browser's own reads theirs, as it would)
    watch("toString", (native, self, args) => apply(native, natives.get(self) ?? self, args),
          Function.prototype);
    const set = period => (native, self, [callback, delay, ...rest]) => {
        let id;
        const run = period || typeof callback !== "function" ? callback
            : function (...args) { timers.delete(id); return apply(callback, this, args); };
        id = apply(native, self, [run, delay, ...rest]);
        const ms = Math.max(0, Number(delay) | 0);  // (a long, as the browser takes it)
        timers.set(id, [clock() + ms, period ? Math.max(ms, 1) : run === callback ? -1 : 0]);
        return id;
    };
    const noting = note => (native, self, args) => {
        const result = apply(native, self, args);
        note(args);
        return result;
    };
    const clear = noting(([id]) => timers.delete(id));
    const frame = noting(() => { frameAsked = clock(); });
    const task = noting(([, options]) => {
        timers.set({}, [clock() + Math.max(0, Number(options && options.delay) || 0), -1]);
    });
    watch("setTimeout", set(false));
    watch("setInterval", set(true));
    watch("clearTimeout", clear);
    watch("clearInterval", clear);
    watch("requestAnimationFrame", frame);
    watch("requestIdleCallback", frame);
    if (typeof Scheduler === "function") watch("postTask", task, Scheduler.prototype);
    const due = (now, horizon) => {
        let last = now - frameAsked < frameMs ? frameAsked + frameMs - now : -1;
        for (const [id, [when, period]] of timers) {
            if (period > 0) {  // (one due within the horizon runs on to its end)
                const next = when + Math.max(0, Math.ceil((now - when) / period)) * period;
                if (next - now <= horizon) last = Math.max(last, horizon);
            } else if (period < 0 && when < now - frameMs) timers.delete(id);  // (it ran)
            else if (when - now <= horizon) last = Math.max(last, when - now, 0);
        }
        return last;
    };
    addEventListener(name, event => {
        dispatchEvent(new CustomEvent(name + "!", {detail: due(clock(), event.detail)}));
    }, true);
})"""

#: Ask a frame's watch (from any world of it) what is due within ``horizon`` ms.
ASK = """([name, horizon]) => {
    let due = null;
    const answer = event => { due = event.detail; };
    addEventListener(name + "!", answer, true);
    dispatchEvent(new CustomEvent(name, {detail: horizon}));
    removeEventListener(name + "!", answer, true);
    return typeof due === "number" ? due : null;
}"""
#: Milliseconds until an animation (a transition too) ends: Infinity if it
#: is not running, or never ends (a spinner)
ANIMATION_LEFT = """animation => {
    const timing = animation.effect?.getComputedTiming();
    return animation.playState === "running" && timing
        ? (timing.endTime - timing.localTime) / Math.abs(animation.playbackRate) : Infinity;
}"""
#: The same, in the page's main frame, once two frames have been drawn: what
#: the page last changed has been laid out, and what that woke (a lazy
#: image, an intersection observer's callback) has asked for what it wanted.
#: A transition or animation that ends within the horizon (an image fading
#: in) is due when it ends: the page is drawn once it has.
ASK_WHEN_DRAWN = """async ([name, horizon]) => {
    const frame = () => new Promise(r => {
        requestAnimationFrame(() => setTimeout(r));
        setTimeout(r, 100);
    });
    await frame();
    await frame();
    const due = (""" + ASK + """)([name, horizon]);
    const ending = document.getAnimations().map(""" + ANIMATION_LEFT + """)
        .filter(ms => ms <= horizon);
    return due === null ? null : Math.max(due, ...ending);
}"""


def hook() -> str:
    """The script that watches a document's timers (for ``add_init_script``)."""
    return f"{HOOK}({NAME!r}, {FRAME_MS})"


def scheduled(world: World, horizon: float) -> float | None:
    """Seconds until the last piece of work the page and its frames have
    scheduled within ``horizon`` seconds has run (0: some is due now); -1 if
    they scheduled none; None if a frame could not tell (it was not watched,
    did not answer in time, or went away), or the page runs a worker."""
    from playwright.sync_api import Error

    page, ms = world.page, round(horizon * 1000)
    if page.workers:
        return None  # (a worker's timers are not watched)
    asking = [started(page, partial(frame.evaluate, ASK, [NAME, ms]))
              for frame in world.frames()]
    deadline = time.monotonic() + ANSWER_TIME
    try:
        answers = [world.evaluate(ASK_WHEN_DRAWN, [NAME, ms])]
        answers += [finished(page, a, max(0.0, deadline - time.monotonic())) for a in asking]
    except (Error, TimeoutError):
        return None
    if any(not isinstance(a, int | float) for a in answers):
        return None
    return max(answers) / 1000 if max(answers) >= 0 else -1


class Watch:
    """When a page gone quiet has settled: once the work it scheduled within its
    quiet window has run, if that is before the window ends."""

    def __init__(self, world: World, recorder: NetworkRecorder, quiet: float) -> None:
        self.world, self.recorder, self.quiet = world, recorder, quiet
        self._window, self._asked = -1.0, 0  # the window asked about (its start), how often

    def left(self) -> float | None:
        """Asked while the network is idle: -1 if the page has settled (it has
        nothing left to run within its window); else the seconds after which
        to look again; None if it is to be waited for to the window's end."""
        start = self.recorder.last_activity
        if start != self._window:
            self._window, self._asked = start, 0
        if self._asked == ASKED:
            return None
        self._asked += 1
        due = scheduled(self.world, start + self.quiet - time.monotonic())
        if due is None:
            self._asked = ASKED
            return None
        if not self.recorder.idle() or self.recorder.last_activity != start:
            return 0.0  # (something happened meanwhile: a window of its own)
        return due + RUN_TIME if due >= 0 else -1.0
