"""Capture fidelity: the WARC holds what the server really sent, byte for byte.

The server in tests/rawsite.py writes every response by hand, so the status
lines, header order, case and duplicates, and bodies are known exactly.
"""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from palimpsest import egress
from palimpsest.capture import CHROMIUM_ARGS, Browser, BrowserPool, capture
from palimpsest.config import Settings
from palimpsest.errors import BlockedURL, BrowserGone, CaptureError
from palimpsest.extract import extract
from palimpsest.models import Capture
from palimpsest.visit import visit
from palimpsest.warc import ORIG_PREFIX, iter_records, write_warc

from .helpers import warcio_check
from .rawsite import REDIRECT, RawSite, _response, ok, responses

RENAMED = ("content-encoding", "transfer-encoding")


@pytest.fixture(scope="module")
def captured(browser: Browser, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[RawSite, Capture, Path]:
    with RawSite() as site:
        capture = browser.capture(site.url("/start"))
    path = tmp_path_factory.mktemp("warc") / "exact.warc.gz"
    with path.open("wb") as out:
        write_warc(capture, out)
    return site, capture, path


def _records(path: Path) -> list[tuple[str, str, Any, bytes, Any]]:
    with path.open("rb") as stream:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.http_headers,
                 r.content_stream().read(), r.rec_headers) for r in iter_records(stream)]


def _head(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return lines[0], [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]


def _as_stored(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The served headers as a faithful WARC keeps them for a decoded ``body``."""
    out, length_kept = [], False
    for name, value in headers:
        if name.lower() == "content-length" and value == str(len(body)):
            length_kept = True
        elif name.lower() in (*RENAMED, "content-length"):
            name = ORIG_PREFIX + name
        out.append((name, value))
    return out if length_kept else [*out, ("Content-Length", str(len(body)))]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/start"), ("GET", "/page"), ("GET", "/style.css"), ("GET", "/missing.js"),
    ("GET", "/app.js"),
    ("GET", "/old-image.png"), ("GET", "/images/new.png"), ("POST", "/api/echo"),
])
def test_response_record_is_what_was_sent(captured: tuple[RawSite, Capture, Path],
                                          method: str, path: str) -> None:
    site, _, warc = captured
    status_line, headers = _head(site.raw(method, path))
    body = site.table[method, path][1] if (method, path) in site.table else \
        site.raw(method, path).partition(b"\r\n\r\n")[2]
    [(http, payload)] = [(h, p) for kind, uri, h, p, _ in _records(warc)
                         if kind == "response" and uri == site.url(path)]
    assert f"{http.protocol} {http.statusline}" == status_line
    assert http.headers == _as_stored(headers, body)
    assert payload == body


def test_redirect_hops_are_response_records_with_their_exact_head(
        captured: tuple[RawSite, Capture, Path]) -> None:
    site, capture, warc = captured
    [(http, rec)] = [(h, r) for kind, uri, h, _, r in _records(warc)
                     if kind == "response" and uri == site.url("/start")]
    status_line, headers = _head(site.raw("GET", "/start"))
    assert f"{http.protocol} {http.statusline}" == status_line == "HTTP/1.1 302 Found"
    # Chromium never hands out a redirect's body: the egress proxy's relay has it.
    assert http.headers == _as_stored(headers, REDIRECT)
    assert rec.get_header("WARC-Truncated") is None
    assert capture.redirect_chain == (site.url("/start"),)
    assert capture.final_url == site.url("/page")


def test_requests_are_recorded_as_sent(captured: tuple[RawSite, Capture, Path]) -> None:
    site, _, warc = captured
    records = _records(warc)
    responses = {r.get_header("WARC-Record-ID"): uri for kind, uri, _, _, r in records
                 if kind == "response"}
    for kind, uri, _, _, rec in records:
        if kind == "request":
            assert responses[rec.get_header("WARC-Concurrent-To")] == uri
    [(http, body)] = [(h, p) for kind, uri, h, p, _ in records
                      if kind == "request" and uri == site.url("/api/echo")]
    [received] = [r for r in site.received if r.path == "/api/echo"]
    assert http.protocol == "POST" and body == received.body == b'{"question":"ping","n":1}'
    assert http.headers == received.headers  # in the order sent, as sent
    assert ("Cookie", "session=abc123; theme=dark") in http.headers


def test_each_exchange_names_the_address_that_answered_it(
        captured: tuple[RawSite, Capture, Path]) -> None:
    records = [r for kind, _, _, _, r in _records(captured[2]) if kind in ("request", "response")]
    assert len(records) > 10
    assert {r.get_header("WARC-IP-Address") for r in records} == {"127.0.0.1"}


def test_dom_screenshot_and_metadata_are_linked_to_the_page(
        captured: tuple[RawSite, Capture, Path]) -> None:
    site, capture, warc = captured
    records = _records(warc)
    [page_id] = [r.get_header("WARC-Record-ID") for kind, uri, _, _, r in records
                 if kind == "response" and uri == site.url("/page")]
    linked = {kind: (uri, r.get_header("Content-Type"), body) for kind, uri, _, body, r
              in records if r.get_header("WARC-Concurrent-To") == page_id}
    assert linked["resource"][0] in (f"urn:dom:{site.url('/page')}",
                                     f"urn:screenshot:{site.url('/page')}")
    kinds = [(kind, r.get_header("Content-Type")) for kind, _, _, _, r in records
             if r.get_header("WARC-Concurrent-To") == page_id]
    assert ("resource", "text/html; charset=utf-8") in kinds
    assert ("resource", "image/png") in kinds
    facts = linked["metadata"][2].decode()
    for expected in ('"redirect_chain"', site.url("/start"), '"timings"', '"user_agent"',
                     capture.browser_version):
        assert expected in facts
    assert "pong" in capture.dom  # the POST answered and the page used it


def test_pages_are_asked_for_as_a_reader_s_browser_asks(
        captured: tuple[RawSite, Capture, Path]) -> None:
    # The User-Agent of Chromium with a window, not "HeadlessChrome", which
    # some sites turn away; in the header and to the page's scripts alike.
    site, capture, _ = captured
    [agent] = {v for r in site.received for k, v in r.headers if k.lower() == "user-agent"}
    assert re.search(r" Chrome/\d+\.", agent) and "Headless" not in agent
    assert not [v for r in site.received for _, v in r.headers if "Headless" in v]  # hints too
    facts = next(body for kind, _, _, body, _ in _records(captured[2]) if kind == "metadata")
    assert f'"user_agent": "{agent}"' in facts.decode()


def test_a_configured_user_agent_is_sent_as_it_is(settings: Settings) -> None:
    mine = settings.with_(user_agent="Palimpsest-Test/1.0 (+https://example.org/bot)")
    with RawSite() as site:
        capture(site.url("/start"), mine, screenshot=False)  # (a browser of its own)
    assert {v for r in site.received for k, v in r.headers
            if k.lower() == "user-agent"} == {mine.user_agent}


def _one_page(browser: Browser, page: bytes) -> Capture:
    """``page``, served alone, captured (without a screenshot)."""
    table = {("GET", "/story"): (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(page), page), page)}
    with RawSite(table=table) as site:
        return browser.capture(site.url("/story"), screenshot=False)


def test_the_page_sees_a_reader_s_browser_not_an_automated_one(browser: Browser) -> None:
    # Sites that look for automation (navigator.webdriver, the headless
    # User-Agent) turn it away or serve it another page; the archive is of
    # what a reader is served.
    page = (b"<!doctype html><html><head><title>Who reads</title></head><body><p id=who></p>"
            b"<script>document.getElementById('who').textContent = navigator.webdriver"
            b" || /Headless/.test(navigator.userAgent + JSON.stringify(navigator.userAgentData))"
            b" ? 'automated' : 'reader';</script>"
            b"</body></html>")
    capture = _one_page(browser, page)
    assert '<p id="who">reader</p>' in capture.dom


def test_the_page_is_the_document_not_a_request_the_page_made_for_its_own_url(
        browser: Browser) -> None:
    # Pages ask for their own URL again: a PJAX or Turbo fetch, a beacon
    # POSTed back. The page's record is still the document the reader was sent.
    page = (b"<!doctype html><html><head><title>Own URL</title></head><body><p>story</p>"
            b"<script>fetch(location.href, {headers: {'X-Requested-With': 'fetch'}})"
            b".then(() => navigator.sendBeacon(location.href, 'seen'));</script></body></html>")
    table = {("GET", "/story"): ok("text/html", page),
             ("POST", "/story"): (b"HTTP/1.1 204 No Content\r\n\r\n", b"")}
    with RawSite(table=table) as site:
        capture = browser.capture(site.url("/story"), screenshot=False)
    own = [e.method for e in capture.exchanges if e.url == capture.final_url]
    assert own == ["GET", "GET", "POST"]  # (all archived)
    assert capture.page.method == "GET" and capture.page.body == page
    assert "X-Requested-With" not in dict(capture.page.request_headers)


def test_a_cors_preflight_is_archived_with_the_request_it_cleared(browser: Browser) -> None:
    # A request to another origin with a header of its own is first cleared
    # by an OPTIONS preflight, which the browser sends itself and does not
    # report to the page: an exchange the reader's browser made all the same.
    allowed = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "PUT"),
               ("Access-Control-Allow-Headers", "x-edition")]
    with RawSite(host="127.0.0.2", table={
            ("OPTIONS", "/api"): (_response("204 No Content", allowed), b""),
            ("PUT", "/api"): (_response("200 OK", [*allowed, ("Content-Length", "6")],
                                        b"filed!"), b"filed!")}) as api:
        capture = _one_page(browser, b"<!doctype html><title>Edition</title><script>"
                            b"fetch('%s', {method: 'PUT', headers: {'X-Edition': 'uk'}, body: 'x'})"
                            b".then(r => r.text()).then(t => { document.title = t; });</script>"
                            % api.url("/api").encode())
    assert [(e.method, e.status) for e in capture.exchanges if e.url == api.url("/api")] == [
        ("OPTIONS", 204), ("PUT", 200)]
    assert "<title>filed!</title>" in capture.dom


def test_the_dom_record_keeps_what_web_components_show(browser: Browser) -> None:
    # Text inside shadow roots, open and closed, is serialized with the DOM
    # (as declarative shadow roots) and extracted with the article.
    page = (b"<!doctype html><html><head><title>Night trains stay</title></head><body>"
            b"<h1>Night trains stay</h1><news-story></news-story><fact-box></fact-box><script>"
            b"customElements.define('news-story', class extends HTMLElement { connectedCallback() {"
            b" this.attachShadow({mode: 'open'}).innerHTML = '<article>' + ["
            b"'The council voted on Tuesday to keep the night trains running.',"
            b"'The decision came after a petition signed by twelve thousand riders.',"
            b"'Operators said the timetable would not change before spring.'"
            b"].map(p => '<p>' + p + '</p>').join('') + '</article>'; } });"
            b"customElements.define('fact-box', class extends HTMLElement { connectedCallback() {"
            b" this.attachShadow({mode: 'closed'}).innerHTML = '<p>Closed but shown</p>'; } });"
            b"</script></body></html>")
    capture = _one_page(browser, page)
    assert '<template shadowrootmode="closed"><p>Closed but shown</p></template>' in capture.dom
    assert extract(capture.dom).body[:3] == (
        "The council voted on Tuesday to keep the night trains running.",
        "The decision came after a petition signed by twelve thousand riders.",
        "Operators said the timetable would not change before spring.")


def test_warcio_check_passes(captured: tuple[RawSite, Capture, Path]) -> None:
    warcio_check(captured[2])


@pytest.mark.parametrize("redirect", [
    b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    b"<script>addEventListener('load', () => location.href = '%s');</script>",
], ids=["302", "script"])
def test_redirect_to_an_internal_address_is_refused_before_it_is_requested(
        browser: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        redirect: bytes) -> None:
    """Every connection, a redirect's too, is checked by the egress proxy before
    it is dialled. Both servers are on loopback, so the check is told that only
    127.0.0.2 is internal: the origin (127.0.0.1) passes, its redirect target
    does not."""
    monkeypatch.setattr(egress, "internal_address", lambda address: address == "127.0.0.2")
    monkeypatch.setattr(browser.egress, "allow_private", False)
    with RawSite(host="127.0.0.2") as target, RawSite() as origin:
        origin.table["GET", "/go"] = (redirect % target.url("/page").encode(), b"")
        with browser.page() as world, pytest.raises(BlockedURL, match="127.0.0.2"):
            # Browser.capture vets the first URL itself (and would refuse 127.0.0.1)
            visit(world, origin.url("/go"), settings, "", False, browser.egress)
        assert origin.received[0].path == "/go"
    assert target.received == []


def test_page_request_limit_refuses_the_rest(browser: Browser, settings: Settings) -> None:
    limited = settings.with_(max_requests=2)
    with RawSite() as site, browser.page(limited) as world:
        capture = visit(world, site.url("/page"), limited, "", False, browser.egress)
    assert len(capture.exchanges) == 2
    assert len(capture.failed) >= 3  # css, scripts, image: refused, listed


def test_contexts_open_no_hidden_browser_ui(browser: Browser) -> None:
    # The full Chromium preloads WebUI omnibox popups in every window; their
    # renderer costs more CPU than the capture itself, so they are switched off
    # (with Playwright's own disabled features kept: Chromium reads one list).
    assert browser._browser is not None
    session = browser._browser.new_browser_cdp_session()
    with browser.page() as world:
        assert world.page.context.pages == [world.page]
        targets = session.send("Target.getTargets")["targetInfos"]
    assert [t["url"] for t in targets if t["type"] not in ("page", "tab")] == []
    [features] = [a for a in CHROMIUM_ARGS if a.startswith("--disable-features=")]
    assert "HttpsUpgrades" in features and "AvoidCorsURLLoaderRestartOnRedirect" in features


def test_a_context_opened_in_advance_is_as_fresh_as_any(browser: Browser) -> None:
    # The next page's context is opened while a page waits for quiet; it must
    # share nothing with the page being captured (here: its cookies).
    with RawSite() as site:
        browser.capture(site.url("/page"), screenshot=False)  # the server sets two cookies
        assert browser._spare is not None  # opened meanwhile
        browser.capture(site.url("/page"), screenshot=False)
    first, second = [r for r in site.received if r.path == "/page"]
    [echoed] = [r for r in site.received if r.path == "/api/echo"][:1]
    assert ("Cookie", "session=abc123; theme=dark") in echoed.headers  # (set, and sent)
    assert not [k for k, _ in first.headers + second.headers if k.lower() == "cookie"]


def test_only_the_page_being_captured_is_recorded_not_a_context_still_closing(
        browser: Browser) -> None:
    # A page's context is closed in the background while the next page loads;
    # until it is gone, its page may still ask for things, and must not be
    # recorded as the next one's. Each context comes in by a door of its own.
    with RawSite() as site, browser.page() as world:
        other, _ = browser._new_page()  # (as the last page's, not yet closed)
        try:
            with pytest.raises(Exception, match="ERR_"):
                other.page.goto(site.url("/style.css"))
            world.page.goto(site.url("/page"))
            recorded = browser.egress.recorded()
        finally:
            other.page.context.close()
    assert [e.url for e in recorded].count(site.url("/style.css")) == 1  # the page's own
    assert [r.path for r in site.received].count("/style.css") == 1


def test_a_chromium_killed_as_it_starts_is_tried_again_a_missing_one_is_not(
        tmp_path: Path, settings: Settings) -> None:
    # Killed as it starts (out of memory while a sweep's other browsers are
    # busy), Chromium may start later: the task is retried. A binary that
    # does not exist never will: the error says so, and is not retried.
    killed = tmp_path / "chromium"
    killed.write_text("#!/bin/sh\nkill -9 $$\n")
    killed.chmod(0o755)

    def start(chromium: Path) -> None:
        with Browser(settings.with_(chromium=str(chromium))):
            pass

    # (in a thread of its own: this one may run the tests' browser already)
    with ThreadPoolExecutor(max_workers=1) as thread:
        with pytest.raises(BrowserGone, match=r"killed by SIGKILL") as gone:
            thread.submit(start, killed).result()
        with pytest.raises(CaptureError, match="executable doesn't exist") as missing:
            thread.submit(start, tmp_path / "none").result()
    assert gone.value.transient and not missing.value.transient


def _chromiums() -> set[int]:
    """The Chromium browser processes running (not their renderers, GPU...)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # (ended meanwhile)
        if b"--remote-debugging-pipe" in args and not any(a.startswith(b"--type=") for a in args):
            found.add(int(cmdline.parent.name))
    return found


def test_a_pool_browser_that_dies_fails_its_page_for_a_retry_and_is_started_anew(
        settings: Settings) -> None:
    # Chromium may crash, or be killed when memory runs out, in the middle of a
    # sweep: that page's capture may be retried, and the pages after it are
    # captured by a new Chromium, not failed one after the other.
    page = b"<!doctype html><h1>Held</h1><img src='/events'>"  # (its load never ends)
    table = {("GET", "/held"): ok("text/html", page), **responses(),
             ("GET", "/events"): (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                                  b"Content-Length: 100\r\n\r\n", b"")}
    before = _chromiums()
    with RawSite(table=table, stall=("/events",)) as site, \
            BrowserPool(settings.with_(page_timeout=20), size=1) as pool, \
            ThreadPoolExecutor(max_workers=1) as thread:
        held = thread.submit(pool.capture, site.url("/held"))
        until = time.monotonic() + 15
        while "/events" not in [r.path for r in site.received] and time.monotonic() < until:
            time.sleep(0.05)
        [pid] = _chromiums() - before
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrowserGone) as failed:
            held.result(timeout=15)
        assert failed.value.transient
        assert pool.capture(site.url("/page")).status == 200
        assert len(_chromiums() - before) == 1  # (the new one)
