"""WACZ export: a valid package, and offline replay in pywb from the archive alone."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from palimpsest.capture import Browser
from palimpsest.cdxj import cdxj_lines
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.history import HistoryStore
from palimpsest.models import Capture, Exchange
from palimpsest.pipeline import process
from palimpsest.storage import open_store
from palimpsest.wacz import read_wacz
from palimpsest.warc import write_warc

SLUG = "harbour-bridge-reopens"
#: pywb lives in a virtualenv of its own (see ./dev): its pins clash with Prefect's
REPLAY_BIN = Path(__file__).parent.parent / ".replay" / "bin"
#: ReplayWeb.page's npm package, as ./dev fetches it
REPLAYWEB = Path(__file__).parent.parent / ".replayweb" / "package"


@pytest.fixture
def exported(browser: Browser, settings: Settings, tmp_path: Path) -> tuple[Path, list[str]]:
    """Two snapshots of a demo article (the second deduplicated), exported as a WACZ;
    the site is stopped afterwards, so nothing can come from it any more."""
    store = open_store(settings.storage_url)
    stamps = []
    with NewsSite() as site, HistoryStore(settings.db_url) as history:
        url = site.url(SLUG)
        for _ in range(2):
            capture = browser.capture(url)
            process(capture, store=store, history=history)
            stamps.append(capture.fetched_at.strftime("%Y%m%d%H%M%S"))
        out = tmp_path / "article.wacz"
        result = CliRunner().invoke(main, ["export", url, "--wacz", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["snapshots"] == 2
    return out, [url, *stamps]


def test_wacz_is_a_complete_package(exported: tuple[Path, list[str]]) -> None:
    path, (url, *_) = exported
    with path.open("rb") as stream:
        package = read_wacz(stream)  # checks every file's SHA-256
    paths = {r["path"] for r in package["resources"]}
    assert {"indexes/index.cdx", "pages/pages.jsonl"} <= paths
    assert sum(p.startswith("archive/") for p in paths) == 2
    with zipfile.ZipFile(path) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
        index = wacz.read("indexes/index.cdx").decode().splitlines()
    assert pages[0]["format"] == "json-pages-1.0"
    assert [p["url"] for p in pages[1:]] == [url, url]
    # listed by headline, and found by the article's words (ReplayWeb.page's page search)
    title = pages[1]["title"]
    assert title.startswith("Harbour bridge reopens") and "(v1, new," in title
    assert "reopened to traffic on Friday morning" in pages[2]["text"]
    assert index == sorted(index)
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    page_entries = [e for e in entries if e["url"] == url]
    # the second snapshot's unchanged image and stylesheet are revisits
    assert any(e["mime"] == "warc/revisit" for e in entries)
    assert {e["status"] for e in page_entries} == {"200"}


def test_several_articles_go_in_one_package(
    browser: Browser, settings: Settings, tmp_path: Path,
) -> None:
    """One WACZ of several articles: each one's snapshots and pages, an article
    named by two of its URLs once, and a URL not tracked refused whole."""
    store = open_store(settings.storage_url)
    with NewsSite() as site, HistoryStore(settings.db_url) as history:
        urls = [site.url(SLUG), site.url("museum-returns-bronzes")]
        for url in urls:
            process(browser.capture(url), store=store, history=history)
        out = tmp_path / "two.wacz"
        given = "\n".join([*urls, urls[0] + "?utm_source=feed", "# a comment"])
        result = CliRunner().invoke(main, ["export", "-", "--wacz", str(out), "--json"],
                                    input=given)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) | {"bytes": 0, "index_lines": 0} == {
            "url": urls[0], "articles": 2, "snapshots": 2, "warcs": 2, "bytes": 0,
            "index_lines": 0, "path": str(out)}
        with out.open("rb") as stream:
            package = read_wacz(stream)  # checks every file's SHA-256
        assert package["title"] == "Palimpsest: 2 articles"
        with zipfile.ZipFile(out) as wacz:
            pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
            index = wacz.read("indexes/index.cdx").decode()
        assert [p["url"] for p in pages[1:]] == urls
        # the second article's stylesheet is a revisit of the first's, in the package
        assert "warc/revisit" in index and "dependencies.warc.gz" not in index
        refused = CliRunner().invoke(main, ["export", urls[0], "http://news.test/never",
                                            "--wacz", str(tmp_path / "no.wacz")])
        assert refused.exit_code == 1 and "http://news.test/never is not tracked" in \
            refused.output
        assert not list(tmp_path.glob("no.wacz*"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webrecorder_s_own_validator_finds_the_package_valid(
        exported: tuple[Path, list[str]]) -> None:
    # py-wacz checks what ReplayWeb.page relies on: the files a WACZ holds, its
    # datapackage.json against the Data Package profile, the index, the hashes
    validator = REPLAY_BIN / "wacz"
    assert validator.exists(), "py-wacz is missing: ./dev test installs it into .replay"
    result = subprocess.run([str(validator), "validate", "-f", str(exported[0])],
                            capture_output=True, text=True, timeout=120)
    assert "Validation succeeded" in result.stdout, result.stdout + result.stderr


@pytest.fixture
def pywb(exported: tuple[Path, list[str]], tmp_path: Path) -> Iterator[str]:
    """pywb serving the WACZ (added the way its manual says), on loopback."""
    bindir = REPLAY_BIN
    assert (bindir / "wayback").exists(), "pywb is missing: ./dev test installs it into .replay"
    root = tmp_path / "pywb"
    root.mkdir()
    # unframed: the archived page is the top document, simpler to inspect
    (root / "config.yaml").write_text("framed_replay: false\n")
    for args in (["init", "articles"], ["add", "--unpack-wacz", "articles", str(exported[0])]):
        subprocess.run([str(bindir / "wb-manager"), *args], cwd=root, check=True,
                       capture_output=True)
    port = _free_port()
    server = subprocess.Popen([str(bindir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_pywb_replays_the_article_offline(pywb: str, exported: tuple[Path, list[str]],
                                          browser: Browser) -> None:
    _, (url, first, second) = exported
    with browser.page() as world:
        page = world.page
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        for stamp in (first, second):  # the second is mostly revisits
            page.goto(f"{pywb}/articles/{stamp}/{url}", wait_until="load")
            assert "Harbour bridge" in (page.text_content("h1.article-title") or "")
            width = page.eval_on_selector("figure.lead-image img", "img => img.naturalWidth")
            assert width == 8  # the demo's 8x8 PNG, served from the archive
            color = page.eval_on_selector(".site-header",
                                          "h => getComputedStyle(h).backgroundColor")
            assert color == "rgb(139, 0, 0)"  # the archived stylesheet applied
    assert requested and all(r.startswith(pywb) for r in requested if r.startswith("http"))


@pytest.fixture
def replayweb(exported: tuple[Path, list[str]], tmp_path: Path) -> Iterator[str]:
    """A page on loopback embedding ReplayWeb.page, opening the WACZ as its
    embedding guide shows (ui.js; the service worker under replay/); its URL."""
    assert (REPLAYWEB / "sw.js").exists(), "ReplayWeb.page is missing: ./dev test fetches it"
    root = tmp_path / "replayweb"
    (root / "replay").mkdir(parents=True)
    shutil.copy(REPLAYWEB / "ui.js", root)
    shutil.copy(REPLAYWEB / "sw.js", root / "replay")
    shutil.copy(exported[0], root / "article.wacz")
    (root / "index.html").write_text(
        '<!doctype html><script src="ui.js"></script><replay-web-page source="article.wacz"'
        f' url="{exported[1][0]}" style="display: block; height: 900px"></replay-web-page>')

    class Static(SimpleHTTPRequestHandler):
        def list_directory(self, path: str) -> None:  # type: ignore[override]
            # (a 404, as a static host answers: ReplayWeb.page, whose service
            # worker may not yet be in place to answer replay/, then reloads)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Static, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_replayweb_page_replays_the_article_offline(
        replayweb: str, exported: tuple[Path, list[str]], browser: Browser,
        settings: Settings) -> None:
    url = exported[1][0]
    assert browser._playwright is not None
    # (a Chromium of its own: captures block service workers, and ReplayWeb.page is one)
    reader = browser._playwright.chromium.launch(executable_path=settings.chromium_path())
    try:
        page = reader.new_page()
        requested: list[str] = []
        page.context.on("request", lambda r: requested.append(r.url))
        said: list[str] = []  # (told if it fails)
        page.on("console", lambda message: said.append(message.text[:200]))
        # Its service worker, registered on the first visit, may miss a
        # visit's first request, and then shows nothing (ReplayWeb.page issue
        # #412, "forces the client to manually refresh"): it is opened again
        # once the worker is in place, and reloaded as a reader would, twice at most.
        page.goto(f"{replayweb}/index.html")
        page.wait_for_function("""async () =>
            !!(await navigator.serviceWorker.getRegistration("replay/"))?.active""")
        shown = []
        for _ in range(3):
            page.reload()
            deadline = time.monotonic() + 10
            while not shown and time.monotonic() < deadline:
                page.wait_for_timeout(200)  # (frames are seen as Playwright's calls run)
                shown = [f for f in page.frames if f.url.endswith("mp_/" + url)]
            if shown:
                break
        assert shown, ([f.url for f in page.frames], said)
        [frame] = shown
        frame.wait_for_selector("h1.article-title")
        assert "Harbour bridge" in (frame.text_content("h1.article-title") or "")
        assert frame.eval_on_selector("figure.lead-image img", "img => img.naturalWidth") == 8
        color = frame.eval_on_selector(".site-header", "h => getComputedStyle(h).backgroundColor")
        assert color == "rgb(139, 0, 0)"  # the archived stylesheet applied
    finally:
        reader.close()
    assert all(r.startswith((replayweb, "blob:", "data:")) for r in requested), requested


def _exchange(method: str, url: str, body: bytes | None = None, kind: str = "") -> Exchange:
    sent = ((("Content-Type", kind),) if kind else ()) + (
        (("Content-Length", str(len(body))),) if body is not None else ())
    return Exchange(url, method, sent, body, 200, "OK", (("Content-Type", "text/html"),),
                    f"{method} {body!r}".encode())


def test_every_record_is_keyed_as_pywb_s_own_indexer_keys_it(tmp_path: Path) -> None:
    # Replay tools find a record by the key they make of what the page asks
    # for. Requests other than GET are keyed with their method, and a POST's
    # or PUT's body, by the IIPC guideline (pywb's indexer with -p): on replay
    # a GET is not answered with the 204 of a preflight, nor one GraphQL
    # query with another's answer. URLs are canonicalized as pywb does.
    page, api = "http://news.test/story", "http://api.test/graphql?v=3"
    exchanges = (
        _exchange("GET", page), _exchange("GET", api), _exchange("OPTIONS", api),
        _exchange("POST", api, b'{"query": "{ story(id: 7) { title } }", "ids": [1, 2]}',
                  "application/json"),
        _exchange("POST", api, b"q=night+trains&page=2&c=%C3%A9t%C3%A9",
                  "application/x-www-form-urlencoded"),
        _exchange("POST", api, b'{"a": 1}', "text/plain;charset=UTF-8"),
        _exchange("PUT", api, b"\x00\xff", "application/octet-stream"),
        _exchange("POST", api, b'--XyZ\r\nContent-Disposition: form-data; name="q"\r\n\r\n'
                  b"night trains \xc3\xa9t\xc3\xa9\r\n--XyZ\r\nContent-Disposition: form-data;"
                  b' name="photo"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
                  b"\x89PNG\x00\r\n--XyZ--\r\n", "multipart/form-data; boundary=XyZ"),
        _exchange("GET", "http://news.test/a%7Eb/c%2Cd?x=%41&b=2&b-c=1&b=1"),
    )
    warc = tmp_path / "keys.warc.gz"
    with warc.open("wb") as out:
        write_warc(Capture(url=page, final_url=page, status=200, fetched_at=datetime.now(UTC),
                           exchanges=exchanges, dom="<p>story</p>"), out)
    pywb = subprocess.run([str(REPLAY_BIN / "cdx-indexer"), "-j", "-p", str(warc)],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    ours = list(cdxj_lines(warc.name, warc.read_bytes()))
    keys = [sorted(line.split(" ")[0] for line in lines if line.startswith("test,"))
            for lines in (ours, pywb)]
    assert keys[0] == keys[1]
    assert "test,api)/graphql?__wb_method=options&v=3" in keys[0]
    assert len({k for k in keys[0] if "__wb_method=post" in k}) == 4  # (four apart)
