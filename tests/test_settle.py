"""Settling: lazy content below the fold is loaded, content a page adds after
its load is scrolled through too, the DOM and screenshot are of the page
once it stopped changing, a page that never goes quiet is still archived,
flagged as not settled, a redirect by script or meta refresh is followed,
a page that stops responding fails in bounded time, and the documents of
its frames are kept as rendered."""

from __future__ import annotations

import base64
import io
import struct
import time
from datetime import datetime, timedelta

import pytest
from warcio.archiveiterator import ArchiveIterator

from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.demo_site import tiny_png
from palimpsest.errors import CaptureError, CaptureTimeout, ConfigError
from palimpsest.models import Capture, Frame
from palimpsest.recorder import NetworkRecorder, _scroll
from palimpsest.render import Rendering
from palimpsest.tap import MEDIA_KEPT
from palimpsest.visit import _within, visit
from palimpsest.warc import FRAME_PREFIX, iter_records, write_warc

from .rawsite import RawSite, _response, ok

# An image fetched only when it scrolls into view, as lazy-loading scripts do
# (an IntersectionObserver, not the browser's own loading=lazy).
LAZY_IMAGE = b"""<div style="height: %dpx">%s</div>
<img id="lazy" data-src="%s" alt="lazy" width="16" height="16">
<script>
new IntersectionObserver((seen, observer) => seen.forEach(e => {
    if (e.isIntersecting) { e.target.src = e.target.dataset.src; observer.disconnect(); }
})).observe(document.getElementById('lazy'));
</script>"""
LONG_PAGE = b"""<!doctype html><html><head><title>Long read</title></head><body>
<h1>Long read</h1>""" + LAZY_IMAGE % (5000, b"<p>Far above the image.</p>", b"/below.png") + \
    b"</body></html>"
# Just over a viewport high: the image is in view only at the one scroll step.
SHORT_PAGE = b"""<!doctype html><html><head><title>Short read</title></head>
<body style="margin: 0">""" + LAZY_IMAGE % (1300, b"<p>Just above the image.</p>",
                                              b"/bottom.png") + b"</body></html>"
# Long, and scrolled smoothly (CSS scroll-behavior, as Bootstrap 5 sets it):
# a scroll by script glides there over many frames unless told otherwise.
SMOOTH_PAGE = LONG_PAGE.replace(b"<html>", b'<html style="scroll-behavior: smooth">')
# The same, on a page that replaced requestAnimationFrame with a function that
# never calls back (scrolling waits for frames).
NO_FRAMES_PAGE = SHORT_PAGE.replace(
    b"<body", b"<script>window.requestAnimationFrame = () => 0;</script><body")
# Laid out as an app shell: the window does not scroll, a box of the page does.
APP_SHELL_PAGE = b"""<!doctype html><html style="height: 100%; overflow: hidden">
<head><title>App shell</title></head><body style="height: 100%; margin: 0; overflow: hidden">
<nav style="height: 60px">Menu</nav>
<main style="height: calc(100% - 60px); overflow-y: auto">""" + LAZY_IMAGE % (
    4000, b"<p>Far above the image.</p>", b"/shell.png") + b"</main></body></html>"
# A page that wants to steer what is archived: it replaces what scrolling and
# watching for changes would call with functions that do nothing, then
# changes after the load.
STEERING_PAGE = SHORT_PAGE.replace(b"<body", b"""<script>
window.scrollTo = window.scroll = window.scrollBy = () => {};
window.MutationObserver = class { observe() {} };
addEventListener('load', () => setTimeout(() => { document.title = 'Changed late'; }, 150));
</script><body""")
# A page that wants to know it is archived: it looks for anything our scripts
# might leave on the window.
CURIOUS_PAGE = SHORT_PAGE.replace(b"<body", b"""<script>
addEventListener('load', () => {
    const names = new Set(Object.getOwnPropertyNames(window));
    setInterval(() => {
        if (Object.getOwnPropertySymbols(window).length
                || Object.getOwnPropertyNames(window).some(name => !names.has(name)))
            document.title = 'Archiver seen';
    }, 20);
});
</script><body""")
# Its script never yields once loaded: no call to the page is ever answered.
STUCK_PAGE = b"""<!doctype html><html><head><title>Stuck</title></head><body>
<h1>Stuck</h1><script>addEventListener('load', () => setTimeout(() => {
    for (;;) {}
}, 10));</script></body></html>"""
# Short at load; a moment later it fetches more text, and a lazy image with it.
GROWING_PAGE = b"""<!doctype html><html><head><title>Live</title></head><body>
<h1>Live updates</h1><div id="more"></div>
<script>
addEventListener('load', () => setTimeout(async () => {
    const more = document.getElementById('more');
    more.innerHTML = await (await fetch('/more')).text();
    more.querySelectorAll('script').forEach(s => eval(s.textContent));
}, 100));
</script></body></html>"""
MORE = LAZY_IMAGE % (4000, b"<p>Added after the load.</p>", b"/late.png")
# Changes its text a moment after the load, with no request.
TIMED_PAGE = b"""<!doctype html><html><head><title>Timed</title></head><body>
<h1>Timed</h1><p id="late">as loaded</p>
<script>addEventListener('load', () => setTimeout(() => {
    document.getElementById('late').textContent = 'changed after the load';
}, 220));</script></body></html>"""
# Asks for something once, 700 ms after its load, with nothing in flight
# meanwhile, and never reads the answer (as an analytics beacon).
LATE_PAGE = b"""<!doctype html><html><head><title>Late</title></head><body>
<h1>Late</h1><script>addEventListener('load', () => setTimeout(() => fetch('/tick'), 700));
</script></body></html>"""
# Fires a request at its load and forgets it: the answer is never read.
FORGETFUL_PAGE = b"""<!doctype html><html><head><title>Beacon</title></head><body>
<h1>Beacon</h1><script>addEventListener('load', () => { fetch('/tick'); });</script>
</body></html>"""
# Nothing scheduled once loaded.
PLAIN_PAGE = b"""<!doctype html><html><head><title>Plain</title></head><body>
<h1>Plain</h1><p>Nothing left to run.</p></body></html>"""
# Keep themselves busy without asking for anything: a clock, an animation.
CLOCK_PAGE = b"""<!doctype html><html><head><title>Clock</title></head><body>
<p id="clock"></p><script>setInterval(() => {
    document.getElementById('clock').textContent = new Date().toISOString();
}, 50);</script></body></html>"""
ANIMATED_PAGE = b"""<!doctype html><html><head><title>Spinner</title></head><body>
<div id="spinner">*</div><script>(function turn(t) {
    document.getElementById('spinner').style.transform = `rotate(${t % 360}deg)`;
    requestAnimationFrame(turn);
})(0);</script></body></html>"""
# Uses its timers every way a page may, and shows what they did.
TIMERS_PAGE = b"""<!doctype html><html><head><title>Timers</title></head><body>
<p id="out"></p><script>
const out = [setTimeout.name, String(setTimeout) === 'function setTimeout() { [native code] }'
    && String(Function.prototype.toString) === 'function toString() { [native code] }'];
setTimeout(function (a, b) { out.push(this === window, a + b); }, 10, 2, 3);
clearTimeout(setTimeout(() => out.push('cancelled, yet run'), 20));
let n = 0;
const every = setInterval(() => {
    if (++n === 3) { clearInterval(every); out.push('3 ticks'); }
}, 10);
requestAnimationFrame(t => out.push(typeof t));
setTimeout('out.push("code")', 10);
(() => { 'use strict'; setTimeout(function () { out.push(this === window && 'strict'); }); })();
setTimeout(() => { document.getElementById('out').textContent = out.sort().join(); }, 150);
</script></body></html>"""
# Ask for something 400 ms after the load, by a task posted to the
# scheduler, and from a worker of their own.
TASK_PAGE = b"""<!doctype html><html><head><title>Task</title></head><body><h1>Task</h1>
<script>scheduler.postTask(() => fetch('/tick'), {delay: 400});</script></body></html>"""
# Sets a timer for longer than the browser's delays go (it wraps round to 400 ms).
WRAPPED_PAGE = TASK_PAGE.replace(b"scheduler.postTask(() => fetch('/tick'), {delay: 400})",
                                 b"setTimeout(() => fetch('/tick'), 2 ** 32 + 400)")
WORKER_PAGE = b"""<!doctype html><html><head><title>Worker</title></head><body><h1>Worker</h1>
<script>new Worker('/worker.js');</script></body></html>"""
# A red box fades in over 200 ms once loaded, as lazy images do: no change to
# the DOM tells when it ends.
FADING_PAGE = b"""<!doctype html><html><head><title>Fade</title><style>
#box { width: 300px; height: 300px; background: rgb(255, 0, 0); opacity: 0;
       transition: opacity 200ms linear; }
#box.shown { opacity: 1; }
</style></head><body><div id="box"></div><script>addEventListener('load', () =>
    requestAnimationFrame(() => document.getElementById('box').classList.add('shown')));
</script></body></html>"""
# Asks the server something every 100 ms, for ever.
BUSY_PAGE = b"""<!doctype html><html><head><title>Ticker</title></head><body>
<h1>Ticker</h1><p id="tick">0</p>
<script>setInterval(() => fetch('/tick', {cache: 'no-store'}).then(r => r.text())
    .then(t => { document.getElementById('tick').textContent = t; }), 100);</script>
</body></html>"""


def _site() -> RawSite:
    png = tiny_png((30, 30, 200), size=16)
    return RawSite(table={
        ("GET", "/long"): ok("text/html", LONG_PAGE),
        ("GET", "/short"): ok("text/html", SHORT_PAGE),
        ("GET", "/smooth"): ok("text/html", SMOOTH_PAGE),
        ("GET", "/no-frames"): ok("text/html", NO_FRAMES_PAGE),
        ("GET", "/steering"): ok("text/html", STEERING_PAGE),
        ("GET", "/app-shell"): ok("text/html", APP_SHELL_PAGE),
        ("GET", "/shell.png"): ok("image/png", png),
        ("GET", "/curious"): ok("text/html", CURIOUS_PAGE),
        ("GET", "/stuck"): ok("text/html", STUCK_PAGE),
        ("GET", "/growing"): ok("text/html", GROWING_PAGE),
        ("GET", "/more"): ok("text/html", MORE),
        ("GET", "/busy"): ok("text/html", BUSY_PAGE),
        ("GET", "/timed"): ok("text/html", TIMED_PAGE),
        ("GET", "/late"): ok("text/html", LATE_PAGE),
        ("GET", "/forgetful"): ok("text/html", FORGETFUL_PAGE),
        ("GET", "/plain"): ok("text/html", PLAIN_PAGE),
        ("GET", "/fading"): ok("text/html", FADING_PAGE),
        ("GET", "/task"): ok("text/html", TASK_PAGE),
        ("GET", "/wrapped"): ok("text/html", WRAPPED_PAGE),
        ("GET", "/worker"): ok("text/html", WORKER_PAGE),
        ("GET", "/worker.js"): ok("text/javascript", b"setTimeout(() => fetch('/tick'), 400);"),
        ("GET", "/timers"): ok("text/html", TIMERS_PAGE),
        ("GET", "/clock"): ok("text/html", CLOCK_PAGE),
        ("GET", "/animated"): ok("text/html", ANIMATED_PAGE),
        ("GET", "/tick"): ok("text/plain", b"tick"),
        ("GET", "/below.png"): ok("image/png", png),
        ("GET", "/bottom.png"): ok("image/png", png),
        ("GET", "/late.png"): ok("image/png", png),
    })


def _paths(site: RawSite) -> list[str]:
    return [r.path for r in site.received]


def test_lazy_content_below_the_fold_is_loaded_and_archived(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/long"), screenshot=False)
    assert "/below.png" in _paths(site)
    assert site.url("/below.png") in [e.url for e in capture.exchanges]
    assert capture.settled


@pytest.mark.parametrize(("path", "image"), [
    # CSS asks for scrolling to glide, over many frames
    pytest.param("/smooth", "/below.png", id="smooth-scrolling"),
    # each position is drawn (and seen by observers) before the next, the last one too
    pytest.param("/short", "/bottom.png", id="in-view-at-the-last-step"),
    # requestAnimationFrame replaced by a function that never calls back
    pytest.param("/no-frames", "/bottom.png", id="no-animation-frames"),
    # an app shell: the window does not scroll, a box of the page does
    pytest.param("/app-shell", "/shell.png", id="a-box-of-its-own"),
])
def test_lazy_content_is_woken_however_the_page_scrolls(
        browser: Browser, path: str, image: str) -> None:
    with _site() as site:
        capture = browser.capture(site.url(path), screenshot=False)
    assert site.url(image) in [e.url for e in capture.exchanges]
    assert capture.settled


def test_a_page_cannot_steer_the_scripts_that_settle_it(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/steering"), screenshot=False)
    assert site.url("/bottom.png") in [e.url for e in capture.exchanges]
    assert "<title>Changed late</title>" in capture.dom


def test_a_page_cannot_see_the_scripts_that_settle_it(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/curious"), screenshot=False)
    assert "<title>Short read</title>" in capture.dom


def test_a_page_whose_scripts_may_not_run_is_scrolled_all_the_same(browser: Browser) -> None:
    # Under a CSP sandbox without allow-scripts the page's timers and frame
    # callbacks never fire; the browser's own lazy loading needs the scroll.
    body = (b'<!doctype html><html><body><div style="height: 8000px">Far above.</div>'
            b'<img src="/native.png" loading="lazy" width="16" height="16"></body></html>')
    png = tiny_png((200, 30, 30), size=16)
    with RawSite(table={
            ("GET", "/sandboxed"): (_response("200 OK", [
                ("Content-Type", "text/html"), ("Content-Security-Policy", "sandbox"),
                ("Content-Length", str(len(body))), ("Connection", "close")], body), body),
            ("GET", "/native.png"): ok("image/png", png)}) as site:
        started = time.monotonic()
        capture = browser.capture(site.url("/sandboxed"))
        assert time.monotonic() - started < 10  # (it waited for no frame for ever)
    assert site.url("/native.png") in [e.url for e in capture.exchanges]
    assert capture.settled and "Far above." in capture.dom and capture.screenshot


def test_a_page_that_stops_responding_fails_within_its_time(
        browser: Browser, settings: Settings) -> None:
    quick = settings.with_(page_timeout=2.0, settle_timeout=1.0)
    with _site() as site:
        with browser.page(quick) as world, \
                pytest.raises(CaptureTimeout, match="stopped responding"):
            started = time.monotonic()
            visit(world, site.url("/stuck"), quick, "", True, browser.egress)
        assert time.monotonic() - started < 3.0 + 5.0  # (3 s, and the time to close it)
        assert browser.capture(site.url("/short"), screenshot=False).settled  # unharmed


SECOND = b"<!doctype html><html><head><title>Second</title></head><body><h1>second</h1>"


def _sent_on(way: bytes) -> RawSite:
    return RawSite(table={
        ("GET", "/first"): ok("text/html", b"<!doctype html><html><head>%s</head>"
                                            b"<body><h1>first</h1></body></html>" % way),
        ("GET", "/second"): ok("text/html", SECOND),
        ("GET", "/track"): (_response("204 No Content", [("Connection", "close")]), b""),
    })


@pytest.mark.parametrize("way", [
    b"<script>addEventListener('load', () => location.replace('/second'));</script>",
    b"<script>addEventListener('load', () => setTimeout(() => location.href = '/second', 100));"
    b"</script>",
    b'<meta http-equiv="refresh" content="0; url=/second">',
], ids=["script-at-load", "script-after-load", "meta-refresh"])
def test_a_page_that_sends_the_reader_on_is_followed(browser: Browser, way: bytes) -> None:
    with _sent_on(way) as site:
        capture = browser.capture(site.url("/first"))
    assert capture.final_url == site.url("/second") and "second" in capture.dom
    assert capture.redirect_chain == (site.url("/first"),)
    assert [e.url for e in capture.exchanges] == [site.url("/first"), site.url("/second")]
    assert capture.page.url == site.url("/second") and capture.settled


@pytest.mark.parametrize("way", [
    b'<meta http-equiv="refresh" content="30">',  # (a front page that reloads itself)
    b"<script>addEventListener('load', () => location.href = '/track');</script>",  # a 204
], ids=["later-refresh", "no-content"])
def test_a_page_that_stays_is_kept(browser: Browser, way: bytes) -> None:
    with _sent_on(way) as site:
        capture = browser.capture(site.url("/first"), screenshot=False)
    assert capture.final_url == site.url("/first") and "first" in capture.dom
    assert capture.redirect_chain == ()
    assert ("/track" in _paths(site)) == (b"/track" in way)  # (asked for, and stayed)


def test_a_page_that_goes_to_another_site_while_it_is_drawn_is_followed(
        browser: Browser) -> None:
    # The full-page screenshot resizes the page, and this one goes on to
    # another site then, taking its time about it. Chromium draws the other
    # site in a process of its own, and the old page, swapped out, would never
    # answer the screenshot: the capture would fail once its time ran out.
    with RawSite(host="127.0.0.2", table={
            ("GET", "/there"): ok("text/html", b"<!doctype html><p>Moved here.</p>")}) as other:
        page = b"""<!doctype html><html><body><div style="height: 3000px">Here.</div><script>
addEventListener('resize', () => {
    location.href = '%s';
    for (const end = Date.now() + 100; Date.now() < end;) {}
}, {once: true});
</script></body></html>""" % other.url("/there").encode()
        with RawSite(table={("GET", "/here"): ok("text/html", page)}) as site:
            capture = browser.capture(site.url("/here"))
    assert capture.final_url == other.url("/there") and "Moved here." in capture.dom
    assert capture.redirect_chain == (site.url("/here"),) and capture.screenshot


def test_a_page_that_sends_the_reader_round_for_ever_fails(browser: Browser) -> None:
    with _sent_on(b"<script>addEventListener('load', () => location.replace('/first'));"
                  b"</script>") as site, pytest.raises(CaptureError, match="in a loop"):
        browser.capture(site.url("/first"), screenshot=False)


def test_a_page_whose_load_never_ends_is_archived_as_it_stands(
        browser: Browser, settings: Settings) -> None:
    # Its image sends its head and a tenth of its body, then nothing, for ever:
    # the load event never comes.
    page = b"<!doctype html><html><body><h1>Hanging</h1><img src='/never.png'></body></html>"
    never = _response("200 OK", [("Content-Type", "image/png"), ("Content-Length", "1000")],
                      b"\x89PNG\r\n\x1a\n\0\0")
    quick = settings.with_(page_timeout=2.0, settle_timeout=1.0)
    with RawSite(table={("GET", "/hanging"): ok("text/html", page),
                        ("GET", "/never.png"): (never, b"")}, stall=("/never.png",)) as site, \
            browser.page(quick) as world:
        capture = visit(world, site.url("/hanging"), quick, "", True, browser.egress)
    assert "Hanging" in capture.dom and capture.screenshot and not capture.settled
    image = next(e for e in capture.exchanges if e.url == site.url("/never.png"))
    assert image.truncated == "unspecified" and image.body.startswith(b"\x89PNG")


def test_a_live_page_settles_with_its_event_stream_open(browser: Browser) -> None:
    # A live blog's updates come down an event stream that stays open as long
    # as the page does: that is not loading, and the page settles around it.
    page = b"""<!doctype html><html><body><h1>Live</h1><p id="latest">none</p><script>
new EventSource('/events').onmessage = e => { latest.textContent = e.data; };
</script></body></html>"""
    events = _response("200 OK", [("Content-Type", "text/event-stream")], b"data: First post\n\n")
    with RawSite(table={("GET", "/live"): ok("text/html", page),
                        ("GET", "/events"): (events, b"")}, stall=("/events",)) as site:
        capture = browser.capture(site.url("/live"))
    assert capture.settled and '<p id="latest">First post</p>' in capture.dom
    stream = next(e for e in capture.exchanges if e.url == site.url("/events"))
    assert stream.body == b"data: First post\n\n" and stream.truncated == "unspecified"


def test_a_page_with_a_media_player_settles_while_the_player_buffers(
        browser: Browser) -> None:
    # A player fetches its media on its own schedule, and keeps the request
    # open for as long as it may want more: that is not loading either.
    silence = bytes(30 * 2**20)  # (three minutes of it, more than a player buffers at once)
    wav = (b"RIFF" + struct.pack("<I", 36 + len(silence)) + b"WAVEfmt "
           + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
           + b"data" + struct.pack("<I", len(silence)) + silence)
    page = (b"<!doctype html><html><body><h1>Listen</h1>"
            b"<audio controls preload=metadata src=/talk.wav></audio></body></html>")
    with RawSite(table={("GET", "/listen"): ok("text/html", page),
                        ("GET", "/talk.wav"): ok("audio/wav", wav)}) as site:
        capture = browser.capture(site.url("/listen"), screenshot=False)
    assert capture.settled
    # Its buffer is kept to the first bytes, the same in every snapshot.
    talk = next(e for e in capture.exchanges if e.url == site.url("/talk.wav"))
    assert talk.body == wav[:MEDIA_KEPT] and talk.truncated == "length"


def test_content_added_after_the_load_is_scrolled_through_too(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/growing"), screenshot=False)
    paths = _paths(site)
    assert "/late.png" in paths and paths.index("/more") < paths.index("/late.png")
    assert "Added after the load." in capture.dom
    assert capture.settled


def test_the_dom_and_screenshot_are_of_the_page_once_it_stopped_changing(
        browser: Browser) -> None:
    # The page changes a moment after its load, with no request; when exactly
    # the rendering is taken again is tested below, with no timing involved.
    with _site() as site:
        capture = browser.capture(site.url("/timed"))
    assert "changed after the load" in capture.dom
    assert capture.screenshot and capture.screenshot.startswith(b"\x89PNG")


def test_the_screenshot_is_of_the_page_once_what_moved_has_stopped(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/fading"))
    assert capture.screenshot is not None and capture.settled
    png = base64.b64encode(capture.screenshot).decode()
    with browser.page() as world:  # (the browser reads the pixel)
        world.page.set_content(f'<img id="shot" src="data:image/png;base64,{png}">')
        pixel = world.page.evaluate("""() => {
            const shot = document.getElementById('shot'), canvas = document.createElement('canvas');
            canvas.width = shot.naturalWidth; canvas.height = shot.naturalHeight;
            const context = canvas.getContext('2d');
            context.drawImage(shot, 0, 0);
            return [...context.getImageData(150, 150, 1, 1).data];
        }""")
    assert pixel == [255, 0, 0, 255]  # (not pink: faded in whole)


def test_a_page_that_never_goes_quiet_is_archived_and_flagged(browser: Browser) -> None:
    with _site() as site:
        capture = browser.capture(site.url("/busy"), screenshot=False)
    assert not capture.settled
    # archived with what loaded: the page and the ticks answered so far
    assert capture.exchanges[0].url == site.url("/busy")
    assert sum(e.url == site.url("/tick") for e in capture.exchanges) >= 3
    assert 'id="tick">tick<' in capture.dom


def _visit(browser: Browser, settings: Settings, url: str, quiet: float) -> Capture:
    """``url`` captured with a quiet window of ``quiet`` seconds, within 3 s."""
    patient = settings.with_(settle_quiet=quiet, settle_timeout=3.0)
    with browser.page(patient) as world:
        return visit(world, url, patient, "", False, browser.egress)


def test_how_long_a_page_must_be_quiet_to_settle_is_a_setting(
        browser: Browser, settings: Settings) -> None:
    # What a page asks for once the quiet window has closed is not waited for;
    # a longer window (PALIMPSEST_SETTLE_QUIET) waits for it, and says so.
    seen = []
    with _site() as site:
        for quiet in (0.25, 1.0):
            capture = _visit(browser, settings, site.url("/late"), quiet)
            seen.append((sum(e.url == site.url("/tick") for e in capture.exchanges),
                         capture.conditions["settle_quiet"], capture.settled))
    assert seen == [(0, 0.25, True), (1, 1.0, True)]


@pytest.mark.parametrize("path", ["/plain", "/timed"])
def test_a_page_with_nothing_left_to_run_settles_before_its_window_ends(
        browser: Browser, settings: Settings, path: str) -> None:
    # Asked what it has scheduled, the page has nothing left (/timed: once
    # its timer, 220 ms after the load, has run): it will ask for nothing more.
    with _site() as site:
        capture = _visit(browser, settings, site.url(path), quiet=1.5)
    assert capture.settled and capture.timings["settle_render"] < 1.0
    assert path == "/plain" or "changed after the load" in capture.dom


def test_the_page_s_timers_work_as_the_browser_s_own(browser: Browser) -> None:
    # (they are watched, so that settling may ask what is due)
    with _site() as site:
        capture = browser.capture(site.url("/timers"), screenshot=False)
    assert '<p id="out">3 ticks,5,code,number,setTimeout,strict,true,true</p>' in capture.dom


@pytest.mark.parametrize("path", ["/clock", "/animated"])
def test_a_page_that_keeps_itself_busy_is_waited_for_to_its_window_s_end(
        browser: Browser, settings: Settings, path: str) -> None:
    with _site() as site:
        capture = _visit(browser, settings, site.url(path), quiet=0.6)
    assert capture.settled and capture.timings["settle_render"] >= 0.6


@pytest.mark.parametrize("path", ["/task", "/worker", "/wrapped"])
def test_what_a_page_asks_for_by_a_task_or_a_worker_within_its_window_is_waited_for(
        browser: Browser, settings: Settings, path: str) -> None:
    with _site() as site:
        capture = _visit(browser, settings, site.url(path), quiet=1.0)
    assert site.url("/tick") in [e.url for e in capture.exchanges]
    assert capture.settled


def test_what_a_frame_from_another_site_scheduled_is_waited_for(
        browser: Browser, settings: Settings) -> None:
    # The story has nothing left to run; its embed fetches something 400 ms
    # after its load.
    embed = b"""<!doctype html><p>Poll</p><script>addEventListener('load',
        () => setTimeout(() => fetch('/votes'), 400));</script>"""
    with RawSite(host="127.0.0.2", table={("GET", "/embed"): ok("text/html", embed),
                                          ("GET", "/votes"): ok("text/plain", b"12")}) as other, \
            RawSite(table={("GET", "/story"): ok("text/html", b'<!doctype html><h1>Story</h1>'
                                                b'<iframe src="%s"></iframe>'
                                                % other.url("/embed").encode())}) as site:
        capture = _visit(browser, settings, site.url("/story"), quiet=1.5)
    assert other.url("/votes") in [e.url for e in capture.exchanges]
    assert capture.settled and capture.timings["settle_render"] < 1.2


def test_a_response_the_page_never_reads_does_not_keep_it_from_settling(
        browser: Browser) -> None:
    # Chromium never says a request has finished while the page has not read
    # its response; the wire says it has come whole.
    with _site() as site:
        capture = browser.capture(site.url("/forgetful"), screenshot=False)
    assert capture.settled
    [tick] = [e for e in capture.exchanges if e.url == site.url("/tick")]
    assert tick.body == b"tick" and tick.truncated is None


def test_a_quiet_window_as_long_as_the_settle_budget_is_refused() -> None:
    with pytest.raises(ConfigError, match="PALIMPSEST_SETTLE_QUIET must be shorter than "
                                          r"PALIMPSEST_SETTLE_TIMEOUT \(2 s\)"):
        Settings.from_env({"PALIMPSEST_SETTLE_QUIET": "2"})
    assert Settings.from_env({"PALIMPSEST_SETTLE_QUIET": "0.5"}).settle_quiet == 0.5


def test_a_cross_site_frame_and_what_it_loads_are_recorded(browser: Browser) -> None:
    # Chromium renders a frame from another site in a process of its own
    # (site isolation); its requests are the page's all the same.
    with RawSite(host="127.0.0.2", table={
            ("GET", "/embed"): ok("text/html", b'<!doctype html><img src="/embed.png">'),
            ("GET", "/embed.png"): ok("image/png", tiny_png((0, 128, 0), size=8))}) as other, \
            RawSite(table={("GET", "/story"): ok("text/html", b'<!doctype html><h1>Story</h1>'
                                                b'<iframe src="%s"></iframe>'
                                                % other.url("/embed").encode())}) as site:
        capture = browser.capture(site.url("/story"), screenshot=False)
    urls = [e.url for e in capture.exchanges]
    assert other.url("/embed") in urls and other.url("/embed.png") in urls


def _framed(browser: Browser, embed: bytes) -> tuple[Capture, str, str]:
    """A story holding a frame from another site (a process of its own) that
    serves ``embed``: its capture, the story's URL and the frame's."""
    with RawSite(host="127.0.0.2", table={("GET", "/embed"): ok("text/html", embed)}) as other, \
            RawSite(table={("GET", "/story"): ok("text/html", b'<!doctype html><h1>Story</h1>'
                                                b'<iframe src="%s"></iframe>'
                                                % other.url("/embed").encode())}) as site:
        return (browser.capture(site.url("/story"), screenshot=False),
                site.url("/story"), other.url("/embed"))


def test_what_a_reader_saw_in_each_frame_is_archived(browser: Browser) -> None:
    # An embedded post or chart is drawn by script in a frame from another
    # site; what the reader saw in it is kept as the page's DOM is, nested
    # frames too, each a resource record beside the page's.
    capture, story, embed = _framed(browser, b'<!doctype html><p id="post"></p><script>'
                                    b'document.getElementById("post").textContent = "Drawn";'
                                    b'</script><iframe srcdoc="<b>nested</b>"></iframe>')
    [frame, nested] = capture.frames
    assert (frame.url, frame.parent, nested.parent) == (embed, story, embed)
    assert frame.dom is not None and '<p id="post">Drawn</p>' in frame.dom
    assert nested.dom is not None and "<b>nested</b>" in nested.dom
    out = io.BytesIO()
    write_warc(capture, out)
    out.seek(0)
    records = {(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")): (
        r.rec_headers, r.content_stream().read()) for r in ArchiveIterator(out)}
    page, _ = records["response", story]
    kept, dom = records["resource", FRAME_PREFIX + embed]
    assert b'<p id="post">Drawn</p>' in dom
    assert kept.get_header("WARC-Concurrent-To") == page.get_header("WARC-Record-ID")


def test_a_frame_that_does_not_answer_does_not_hold_the_page_up(browser: Browser) -> None:
    # An ad's script that never yields holds its own process only: the page
    # is archived, the frame listed as unread. (It stops yielding at once
    # after its load: a page that settles fast may be read 50 ms later.)
    capture, _, embed = _framed(browser, b'<!doctype html><p>ad</p><script>addEventListener('
                                b'"load", () => setTimeout(() => { for (;;) {} }));</script>')
    assert "<h1>Story</h1>" in capture.dom and capture.settled
    assert [(f.url, f.dom, f.unread) for f in capture.frames] == [(embed, None, "no answer")]


def test_frames_past_the_page_s_byte_limit_are_listed_not_kept() -> None:
    frames = tuple(Frame(url=f"http://ads.test/{n}", parent="http://news.test/", dom="x" * size)
                   for n, size in enumerate((40, 80, 30)))
    kept = _within(frames, 100)  # (what the page's own DOM left of its limit)
    assert [(f.dom is not None, f.unread) for f in kept] == [
        (True, ""), (False, "too large"), (True, "")]


def test_a_rendering_is_taken_again_after_any_change_request_or_scroll(
        browser: Browser) -> None:
    with browser.page() as world:
        page = world.page
        recorder = NetworkRecorder(page)
        # (an id makes a name on the window, in every world: none to rely on)
        page.set_content('<p id="changed">first</p>')
        rendering = Rendering(world, recorder, screenshot=True)
        assert rendering.take() and "first" in rendering.dom and rendering.png
        assert rendering.current() and not rendering.take()  # nothing happened since
        page.evaluate("document.getElementById('changed').textContent = 'second'")
        assert not rendering.current() and rendering.take() and "second" in rendering.dom
        assert rendering.current()
        recorder.touch()  # a scroll, or a request
        assert not rendering.current()


def test_the_quiet_window_counts_from_the_last_new_position_drawn(browser: Browser) -> None:
    # Scrolling back to the top shows what the load showed: the window that
    # lets lazy content ask runs from the last position the scroll revealed.
    with _site() as site, browser.page() as world:
        world.page.goto(site.url("/long"), wait_until="load")
        recorder = NetworkRecorder(world.page)
        reached, taken, ago = _scroll(world, 0, 12)
        assert taken > 1 and reached > 900
        assert 0 < ago < 1  # (the frame drawn back at the top, since)
        recorder.last_activity = 0.0  # (the lazy images it woke: set aside)
        before = time.monotonic()
        recorder.touch(ago)
        assert before - ago <= recorder.last_activity <= time.monotonic() - ago
        recorder.last_activity = later = time.monotonic()  # a request, since
        recorder.touch(ago)
        assert recorder.last_activity == later


def test_each_record_is_dated_when_its_capture_began(browser: Browser) -> None:
    # /more is asked for 100 ms after the load; the DOM is taken once the page
    # has settled: a WARC dated all at the page's start would say otherwise.
    with _site() as site:
        capture = browser.capture(site.url("/growing"), screenshot=False)
    out = io.BytesIO()
    write_warc(capture, out)
    dates: dict[tuple[str, str], list[datetime]] = {}
    for record in iter_records(io.BytesIO(out.getvalue())):
        uri = record.rec_headers.get_header("WARC-Target-URI")
        when = datetime.fromisoformat(record.rec_headers.get_header("WARC-Date"))
        dates.setdefault((record.rec_type, uri), []).append(when)
    page, more = site.url("/growing"), site.url("/more")
    [page_sent], [more_sent] = dates[("response", page)], dates[("response", more)]
    assert dates[("request", page)] == [page_sent] and dates[("request", more)] == [more_sent]
    assert capture.fetched_at <= page_sent
    assert more_sent - page_sent >= timedelta(seconds=0.1)
    [rendered] = dates[("resource", f"urn:dom:{page}")]
    assert rendered == capture.rendered_at
    assert rendered > max(d for (kind, _), found in dates.items() if kind == "response"
                          for d in found)
