"""The web UI in real Chromium, the JSON API, Memento and Atom, and safety
against hostile archived HTML."""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from lxml import etree
from playwright.sync_api import expect
from sqlalchemy import func, select, update
from warcio.archiveiterator import ArchiveIterator

from palimpsest import demo_site
from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.database import to_db_time
from palimpsest.demo_site import ARTICLES, NewsSite, tiny_png
from palimpsest.history import HistoryStore
from palimpsest.jobs import UNFINISHED, _process
from palimpsest.pipeline import snapshot
from palimpsest.schema import jobs, snapshots
from palimpsest.storage import open_store
from palimpsest.watchlist import Watchlist
from palimpsest.web import create_app

from .rawsite import RawSite, _response, ok
from .s3server import free_port

TOKEN = "test-token-123"
SLUG = "museum-returns-bronzes"
OTHER_SLUG = "harbour-bridge-reopens"
HOSTILE = replace(
    ARTICLES[0], slug="hostile",
    headline='Bridge <script>window.top.__pwned = "headline"</script>'
             '<img src=x onerror="window.top.__pwned = \'headline-img\'"> reopens',
    body=("Officials said <script>window.top.__pwned = 'body'</script> the works are done.",
          "A second paragraph <b onmouseover=alert(1)>with markup</b> as text.",
          *ARTICLES[0].body[2:]),
    extra_html=('<script>window.top.__pwned = "archived-script"; alert("archived")</script>'
                '<img src="x" onerror="window.top.__pwned = \'archived-img\'">'),
)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.with_(api_token=TOKEN)


@pytest.fixture
def seeded(site: NewsSite, app_settings: Settings, browser: Browser) -> dict[str, Any]:
    """Two versions of one article: a number corrected in the body, a headline rewritten."""
    history = HistoryStore(app_settings.db_url)
    store = open_store(app_settings.storage_url)

    def take() -> Any:
        return snapshot(site.url(SLUG), settings=app_settings, browser=browser, store=store,
                        history=history)

    first = take()
    first_at = datetime.now(UTC)
    article = site.articles[SLUG]
    site.edit(SLUG, headline="Museum agrees to return 36 looted bronzes",
              body=tuple(p.replace("32 bronzes", "36 bronzes") for p in article.body))
    # Memento datetimes (HTTP dates) have one-second resolution: keep the two
    # captures at least two seconds apart so that each can be asked for.
    time.sleep(max(0.0, 2.0 - (datetime.now(UTC) - first_at).total_seconds()))
    take()
    history.close()
    return {"article_id": first.article_id, "url": site.url(SLUG)}


@pytest.fixture
def server(app_settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free port, in a thread."""
    port = free_port()
    config = uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port,
                            log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


@pytest.mark.browser
def test_timeline_diff_and_resnapshot_in_a_real_browser(
    seeded: dict[str, Any], server: str, site: NewsSite, browser: Browser,
) -> None:
    with browser.page() as world:
        page = world.page
        page.goto(f"{server}/articles/{seeded['article_id']}")
        assert page.locator("h1.headline").inner_text() == \
            "Museum agrees to return 36 looted bronzes"
        assert page.locator("ol.timeline li.version").count() == 2
        assert page.locator("ol.headlines li").count() == 2
        page.locator("li#v2 a.changed").click()
        page.wait_for_url(re.compile(r"/diff\?"))
        body = page.locator('section[data-field="body"]')
        assert body.locator("del").first.inner_text() == "32"
        assert body.locator("ins").first.inner_text() == "36"
        headline = page.locator('section[data-field="headline"]')
        assert headline.locator("ins").all_inner_texts() == ["36"]
        # Beside the diff, each version as it was captured when first seen.
        captured = page.locator("section.captured .capture")
        assert captured.count() == 2
        links = [captured.nth(n).locator('a[href^="/snapshots/"]').first.get_attribute("href")
                 for n in range(2)]
        assert len(set(links)) == 2
        for n, link in enumerate(links):
            shot = captured.nth(n).locator("img.screenshot")
            shot.scroll_into_view_if_needed()
            expect(shot).to_have_attribute("src", f"{link}/screenshot.png")
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=shot.element_handle())

        site.edit(SLUG, headline="Museum to return 36 bronzes by the end of next year")
        page.goto(f"{server}/articles/{seeded['article_id']}")
        page.fill("input.token", TOKEN)
        page.click("button.resnapshot-button")
        page.wait_for_selector("li#v3", timeout=60_000)  # the page reloads when recorded
        assert page.locator("h1.headline").inner_text() == \
            "Museum to return 36 bronzes by the end of next year"


@pytest.mark.browser
def test_resnapshot_without_the_token_is_refused_in_the_page(
    seeded: dict[str, Any], server: str, browser: Browser,
) -> None:
    with browser.page() as world:
        page = world.page
        page.goto(f"{server}/articles/{seeded['article_id']}")
        page.fill("input.token", "wrong")
        page.click("button.resnapshot-button")
        # expect() polls from Playwright's own world: the page's CSP forbids eval.
        expect(page.locator(".job-status")).to_have_text(re.compile(r"^Refused"))


@pytest.mark.browser
def test_hostile_archived_html_stays_inert_on_every_page(
    app_settings: Settings, server: str, browser: Browser,
) -> None:
    with NewsSite((HOSTILE,)) as hostile:
        history = HistoryStore(app_settings.db_url)
        result = snapshot(hostile.url("hostile"), settings=app_settings, browser=browser,
                          store=open_store(app_settings.storage_url), history=history)
        hostile.edit("hostile", body=(*HOSTILE.body, "<img src=y onerror=alert(2)> appended"))
        snapshot(hostile.url("hostile"), settings=app_settings, browser=browser,
                 store=open_store(app_settings.storage_url), history=history)
        history.close()
        aid, url = result.article_id, hostile.url("hostile")
        stamp = result.warc_key.rsplit("/", 1)[1][:16].replace("T", "")[:14]
    pages = ["/", "/?q=bridge", "/?q=script", "/?q=appended", "/articles", f"/articles/{aid}",
             f"/articles/{aid}/diff?from_version=1&to_version=2",
             f"/articles/{aid}/diff?from_version=1&to_version=2&view=inline",
             f"/snapshots/{result.snapshot_id}", f"/snapshots/{result.snapshot_id}/dom",
             f"/snapshots/{result.snapshot_id}/page",
             f"/memento/{stamp}/{url}", f"/timegate/{url}"]
    dialogs: list[str] = []
    with browser.page() as world:
        page = world.page
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in pages:
            page.goto(server + path)
            page.wait_for_load_state("load")
            for frame in page.frames:
                assert frame.evaluate("() => window.__pwned") is None, (path, frame.url)
        page.goto(f"{server}/articles/{aid}")
        assert "<script>" in page.locator("h1.headline").inner_text()  # shown, as text
    assert dialogs == []


def test_write_actions_need_the_token(client: TestClient, settings: Settings) -> None:
    url = "http://127.0.0.1:9/never"
    assert client.post("/api/snapshots", json={"url": url}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/api/snapshots", json={"url": url}, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert client.delete("/api/articles/0123456789abcdef").status_code == 401
    assert client.delete("/api/articles/0123456789abcdef", headers=right).status_code == 404
    bad = client.post("/api/snapshots", json={"url": "ftp://x/"}, headers=right)
    assert bad.status_code == 422 and "http" in bad.json()["detail"]
    with TestClient(create_app(settings.with_(api_token=None))) as open_client:
        refused = open_client.post("/api/snapshots", json={"url": url}, headers=right)
        assert refused.status_code == 403 and "PALIMPSEST_TOKEN" in refused.json()["detail"]


@pytest.mark.browser
def test_a_job_is_answered_by_any_server_on_its_database(
    site: NewsSite, app_settings: Settings,
) -> None:
    """Jobs live in the history database: a server started later (another
    instance, or this one restarted) answers for one it never ran. Those
    finished a month ago are deleted."""
    right = {"Authorization": f"Bearer {TOKEN}"}
    now = datetime.now(UTC).replace(tzinfo=None)
    with HistoryStore(app_settings.db_url) as history, history.engine.begin() as conn:
        for name, age in (("last-month", 31), ("last-week", 7)):
            conn.execute(jobs.insert().values(
                id=name, url=site.url(SLUG), runner="local", status="done",
                created_at=now - timedelta(days=age), finished_at=now - timedelta(days=age)))
    with TestClient(create_app(app_settings)) as first:
        job = first.post("/api/snapshots", json={"url": site.url(SLUG)}, headers=right).json()
        assert job["status"] in ("queued", "running") and job["runner"] == "local"
        deadline = time.monotonic() + 120
        while (job := first.get(f"/api/jobs/{job['id']}").json())["status"] != "done":
            assert job["status"] != "failed" and time.monotonic() < deadline, job
            time.sleep(0.2)
    with TestClient(create_app(app_settings)) as second:
        again = second.get(f"/api/jobs/{job['id']}").json()
    assert again == job and again["result"]["outcome"] == "new"
    assert again["finished_at"] >= again["created_at"]
    assert second.get("/api/jobs/last-month").status_code == 404
    assert second.get("/api/jobs/last-week").json()["status"] == "done"


@pytest.mark.browser
def test_a_server_closing_fails_the_jobs_it_had_not_started(app_settings: Settings) -> None:
    """A server closing fails the jobs still queued in it (interrupted), and
    lets the one it is running finish. Asking again for a page whose job is
    still queued is answered with that job."""
    right = {"Authorization": f"Bearer {TOKEN}"}
    with NewsSite(page_delay=2.0) as slow:
        with TestClient(create_app(app_settings)) as first:
            taken = [first.post("/api/snapshots", json={"url": slow.url(slug)},
                                headers=right).json()["id"]
                     for slug in (SLUG, OTHER_SLUG, OTHER_SLUG)]
            assert taken[1] == taken[2] != taken[0]
        with TestClient(create_app(app_settings)) as second:
            queued = second.get(f"/api/jobs/{taken[1]}").json()
            assert queued["status"] == "failed" and "interrupted" in queued["error"]
            deadline = time.monotonic() + 60
            while (running := second.get(f"/api/jobs/{taken[0]}").json())["status"] != "done":
                assert running["status"] in UNFINISHED and time.monotonic() < deadline, running
                time.sleep(0.2)


def test_a_local_job_whose_server_stopped_says_so(
    client: TestClient, app_settings: Settings,
) -> None:
    """A job left running by a server process that has stopped failed; one
    whose process still runs, or runs on another host, is left as it is."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    host = socket.gethostname()
    workers = {"stopped": f"{host}:{ended.pid}:1", "alive": _process(os.getpid()),
               "elsewhere": "another-host:1:1"}
    with HistoryStore(app_settings.db_url) as history, history.engine.begin() as conn:
        for name, worker in workers.items():
            conn.execute(jobs.insert().values(
                id=name, url="http://127.0.0.1:9/x", runner="local", status="running",
                worker=worker, created_at=datetime(2026, 11, 29)))
    stopped = client.get("/api/jobs/stopped").json()
    assert stopped["status"] == "failed" and "interrupted" in stopped["error"]
    assert stopped["finished_at"] is not None
    assert client.get("/api/jobs/alive").json()["status"] == "running"
    assert client.get("/api/jobs/elsewhere").json()["status"] == "running"
    assert client.get("/api/jobs/unknown").status_code == 404


def test_when_prefect_cannot_be_asked_a_job_is_neither_made_nor_lost(
    app_settings: Settings,
) -> None:
    """With Prefect down, asking for a snapshot is refused (and leaves no job
    queued for ever), and asking after a job says Prefect failed (502), not
    that the job failed."""
    down = app_settings.with_(prefect_api_url=f"http://127.0.0.1:{free_port()}/api")
    right = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(down)) as client:
        refused = client.post("/api/snapshots", json={"url": "http://127.0.0.1:9/x"},
                              headers=right)
        assert refused.status_code == 502 and "Prefect API" in refused.json()["detail"]
        with HistoryStore(down.db_url) as history, history.engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(jobs)).scalar() == 0
            conn.execute(jobs.insert().values(
                id="a-flow-run", url="http://127.0.0.1:9/x", runner="prefect",
                status="queued", created_at=datetime(2026, 11, 29)))
        unknown = client.get("/api/jobs/a-flow-run")
        assert unknown.status_code == 502 and "Prefect API" in unknown.json()["detail"]


def test_a_busy_prefect_api_is_asked_again(app_settings: Settings) -> None:
    """As Prefect's own client does: a 503 (its database busy) is asked again,
    after the Retry-After it gives; another error fails at once."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from palimpsest.errors import PrefectError
    from palimpsest.jobs import Jobs

    answers = {"/api/deployments/name/snapshot-url/snapshot-url-default": [503, 503, 200]}
    asked: list[str] = []

    class Prefect(BaseHTTPRequestHandler):
        def answer(self) -> None:
            asked.append(self.path)
            status = (answers.get(self.path) or [200]).pop(0)
            body = json.dumps({"id": "run-1" if "create_flow_run" in self.path else "d1"})
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body.encode())

        do_GET = answer

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.answer()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Prefect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = app_settings.with_(prefect_api_url=f"http://127.0.0.1:{server.server_port}/api")
    try:
        with HistoryStore(api.db_url) as history:
            job = Jobs(api, history).submit("http://127.0.0.1:9/x")
            assert job["id"] == "run-1" and job["runner"] == "prefect"
            assert asked[:4] == [asked[0]] * 3 + ["/api/deployments/d1/create_flow_run"]
            answers["/api/deployments/name/snapshot-url/snapshot-url-default"] = [500]
            before = len(asked)
            with pytest.raises(PrefectError, match="HTTP Error 500"):
                Jobs(api, history).submit("http://127.0.0.1:9/y")
            assert len(asked) == before + 1
    finally:
        server.shutdown()


@pytest.mark.browser
def test_a_job_the_server_no_longer_knows_fails_in_the_page(
    seeded: dict[str, Any], server: str, browser: Browser, app_settings: Settings,
) -> None:
    with browser.page() as world:
        page = world.page
        page.goto(f"{server}/articles/{seeded['article_id']}")
        page.fill("input.token", TOKEN)
        page.click("button.resnapshot-button")
        expect(page.locator(".job-status")).to_have_text(re.compile(r"Queued|Capturing"))
        with HistoryStore(app_settings.db_url) as history, history.engine.begin() as conn:
            conn.execute(jobs.delete())
        expect(page.locator(".job-status")).to_have_text(re.compile(r"^Failed: no job"))


def _links(text: str) -> list[dict[str, str]]:
    """A small RFC 6690 link-format parser: <uri>; attr="value"; ..."""
    links = []
    for match in re.finditer(r'<([^>]*)>((?:\s*;\s*[\w-]+="[^"]*")*)', text):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(2)))
        links.append({"uri": match.group(1), **attrs})
    return links


@pytest.mark.browser
def test_timemap_and_timegate(seeded: dict[str, Any], client: TestClient) -> None:
    url = seeded["url"]
    snapshots = client.get(f"/api/articles/{seeded['article_id']}/snapshots").json()
    timemap = client.get(f"/timemap/link/{url}")
    assert timemap.headers["content-type"].startswith("application/link-format")
    links = _links(timemap.text)
    assert links[0] == {"uri": url, "rel": "original"}
    mementos = [link for link in links if "memento" in link["rel"].split()]
    assert len(mementos) == len(snapshots) == 2
    assert mementos[0]["rel"] == "first memento" and mementos[-1]["rel"] == "last memento"
    for link, snap in zip(mementos, snapshots, strict=True):
        when = parsedate_to_datetime(link["datetime"])
        assert link["datetime"].endswith(" GMT")
        assert abs(when - datetime.fromisoformat(snap["fetched_at"])) < timedelta(seconds=1)
    for snap, link in zip(snapshots, mementos, strict=True):
        near = datetime.fromisoformat(snap["fetched_at"]) + timedelta(milliseconds=300)
        answer = client.get(f"/timegate/{url}", follow_redirects=False,
                            headers={"Accept-Datetime": format_datetime(near, usegmt=True)})
        assert answer.status_code == 302 and answer.headers["vary"] == "accept-datetime"
        assert answer.headers["location"] == link["uri"]
    memento = client.get(mementos[0]["uri"].replace("http://testserver", ""))
    assert memento.status_code == 200 and "sandbox" in memento.headers["content-security-policy"]
    assert memento.headers["memento-datetime"] == mementos[0]["datetime"]
    early = format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True)
    assert client.get(f"/timegate/{url}", follow_redirects=False,
                      headers={"Accept-Datetime": early}).headers["location"] == mementos[0]["uri"]
    assert client.get(f"/timegate/{url}", headers={"Accept-Datetime": "yesterday"}).status_code \
        == 400


@pytest.mark.browser
def test_snapshots_within_one_second_are_one_memento_the_last(
        seeded: dict[str, Any], client: TestClient, app_settings: Settings) -> None:
    # (a re-snapshot asked for twice at once, say: HTTP dates cannot tell them apart)
    url = seeded["url"]
    first, last = client.get(f"/api/articles/{seeded['article_id']}/snapshots").json()
    second = datetime.fromisoformat(first["fetched_at"]).replace(microsecond=0)
    with HistoryStore(app_settings.db_url) as history, history.engine.begin() as conn:
        for taken, offset in ((first, 0), (last, 500)):
            conn.execute(update(snapshots).where(snapshots.c.id == taken["id"]).values(
                fetched_at=to_db_time(second + timedelta(milliseconds=offset))))
    mementos = [link for link in _links(client.get(f"/timemap/link/{url}").text)
                if "memento" in link["rel"].split()]
    assert [m["rel"] for m in mementos] == ["first last memento"]
    page = client.get(mementos[0]["uri"].replace("http://testserver", ""))
    assert "36 looted bronzes" in page.text  # the later one, edited


@pytest.mark.browser
def test_an_article_s_snapshots_download_as_one_wacz_or_one_warc_each(
    seeded: dict[str, Any], client: TestClient,
) -> None:
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from palimpsest.wacz import read_wacz
    from palimpsest.warc import iter_records

    aid = seeded["article_id"]
    page = client.get(f"/articles/{aid}").text
    assert f'href="/api/articles/{aid}/wacz" download' in page
    left = set(Path(tempfile.gettempdir()).glob("palimpsest-wacz-*"))
    got = client.get(f"/api/articles/{aid}/wacz")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == f'attachment; filename="{aid}.wacz"'
    package = read_wacz(io.BytesIO(got.content))  # checks every file's SHA-256
    assert package["mainPageURL"] == seeded["url"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as wacz:
        pages = wacz.read("pages/pages.jsonl").decode().splitlines()
    assert len(pages) == 1 + 2  # (the header, then one page a snapshot)
    assert set(Path(tempfile.gettempdir()).glob("palimpsest-wacz-*")) == left  # (cleaned up)
    assert client.get("/api/articles/0000000000000000/wacz").status_code == 404
    first = client.get(f"/api/articles/{aid}/snapshots").json()[0]
    warc = client.get(f"/snapshots/{first['id']}/warc")
    assert warc.headers["content-type"] == "application/warc"
    assert "response" in {r.rec_type for r in iter_records(io.BytesIO(warc.content))}


@pytest.mark.browser
def test_api_feeds_and_search(seeded: dict[str, Any], client: TestClient) -> None:
    aid = seeded["article_id"]
    history = client.get(f"/api/articles/{aid}").json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    diff = client.get(f"/api/articles/{aid}/diff", params={"from_version": 1, "to_version": 2})
    assert diff.json()["changed_fields"] == ["headline", "dek", "body"] or \
        "headline" in diff.json()["changed_fields"]
    beyond = client.get(f"/api/articles/{aid}/diff", params={"from_version": 1, "to_version": 3})
    assert beyond.status_code == 404 and "versions 1 to 2, not 1 and 3" in beyond.json()["detail"]
    edits = client.get("/api/edits", params={"field": "headline"}).json()
    assert [e["to_version"] for e in edits["items"]] == [2]
    assert client.get("/api/edits", params={"field": "tags"}).json()["items"] == []
    found = client.get("/api/articles", params={"q": "looted bronzes"}).json()["items"]
    assert [a["article_id"] for a in found] == [aid]
    assert client.get("/api/articles", params={"q": "no such words"}).json()["items"] == []
    (said,) = client.get("/api/search", params={"q": "return 32 BRONZES"}).json()["items"]
    assert (said["article_id"], said["versions"], said["removed_in"]) == (aid, [1], 2)
    assert client.get("/api/search", params={"q": "36 bronzes", "removed": "true"}).json()[
        "items"] == []
    assert client.get("/api/search", params={"q": "  "}).status_code == 422
    assert client.get("/api/search", params={"q": "return 32 bronzes", "field": [
        "headline", "dek"]}).json()["items"] == []
    assert client.get("/api/search", params={"q": "x", "field": "tags"}).status_code == 422
    index = client.get("/", params={"q": "return 32 bronzes"}).text
    assert f'href="/articles/{aid}/diff?from_version=1&amp;to_version=2">taken out in v2' in index
    assert "<mark>return 32 bronzes</mark>" in index
    listed = client.get("/articles").text
    assert f'<a href="/articles/{aid}">Museum agrees to return 36 looted bronzes</a>' in listed
    assert "No article is tracked on elsewhere.example yet." in client.get(
        "/articles", params={"site": "elsewhere.example"}).text
    page = client.get("/api/articles", params={"limit": 1}).json()
    assert page["next"] is not None and len(page["items"]) == 1
    atom = etree.fromstring(client.get(f"/feeds/articles/{aid}.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = atom.findall("a:entry", ns)
    assert len(entries) == 1 and "headline" in entries[0].findtext("a:title", namespaces=ns)
    assert len(etree.fromstring(client.get("/feeds/edits.atom").content)
               .findall("a:entry", ns)) == 1
    assert client.get("/openapi.json").json()["info"]["title"] == "Palimpsest"
    assert client.get("/api/articles/nope").status_code == 404


@pytest.mark.browser
def test_events_are_listed_and_fed_beside_the_edits(
    seeded: dict[str, Any], client: TestClient, site: NewsSite, browser: Browser,
    app_settings: Settings,
) -> None:
    """A story unpublished (here, a "page not found" served with 200) is in
    /api/events and in every Atom feed that holds its edits, newest first."""
    site.edit(SLUG, not_found=True)
    with HistoryStore(app_settings.db_url) as history:
        snapshot(seeded["url"], settings=app_settings, browser=browser, history=history,
                 store=open_store(app_settings.storage_url))
    aid = seeded["article_id"]
    (event,) = client.get("/api/events").json()["items"]
    assert (event["kind"], event["article_id"], event["url"]) == ("unpublished", aid, seeded["url"])
    assert event["detail"] == {"http_status": 200,
                               "notice": "Sorry, we couldn't find that page"}
    assert event["headline"] == "Museum agrees to return 36 looted bronzes"
    assert client.get("/api/events", params={"kind": "moved"}).json()["items"] == []
    assert client.get("/api/events", params={"site": "elsewhere.example"}).json()["items"] == []
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for feed in (f"/feeds/articles/{aid}.atom", "/feeds/edits.atom", "/feeds/sites/127.0.0.1.atom"):
        entries = etree.fromstring(client.get(feed).content).findall("a:entry", ns)
        titles = [entry.findtext("a:title", namespaces=ns) for entry in entries]
        assert len(titles) == 2 and titles[0].endswith(": unpublished"), (feed, titles)
        assert "changed" in titles[1]
        assert entries[0].findtext("a:summary", namespaces=ns) == \
            "the page says “Sorry, we couldn't find that page” (HTTP 200)"
        for only, kept in (({"field": "headline"}, "changed"), ({"kind": "unpublished"},
                                                                ": unpublished")):
            chosen = etree.fromstring(client.get(feed, params=only).content)
            (entry,) = chosen.findall("a:entry", ns)
            assert kept in entry.findtext("a:title", namespaces=ns), (feed, only)
        assert etree.fromstring(client.get(feed, params={"field": "tags"}).content).findall(
            "a:entry", ns) == []
    assert client.get("/feeds/edits.atom", params={"field": "nope"}).status_code == 422
    # in words on the pages too, as the feeds and the terminal say it
    said = "unpublished the page says “Sorry, we couldn't find that page” (HTTP 200)"
    (row,) = etree.HTML(client.get("/").text).xpath('//table[@class="events"]/tbody/tr')
    (entry,) = etree.HTML(client.get(f"/articles/{aid}").text).xpath('//li[@class="event"]')
    assert said in "".join(row.itertext()) and said in " ".join("".join(entry.itertext()).split())


@pytest.mark.browser
def test_a_snapshot_lists_its_frames_and_their_documents(
        app_settings: Settings, browser: Browser, client: TestClient) -> None:
    embed = {("GET", "/embed"): ok("text/html", b"<p>post")}
    with RawSite(host="127.0.0.2", table=embed) as other:
        story = b"<h1>Story</h1><iframe src=%s>" % other.url("/embed").encode()
        with RawSite(table={("GET", "/story"): ok("text/html", story)}) as site:
            result = snapshot(site.url("/story"), settings=app_settings, browser=browser,
                              store=open_store(app_settings.storage_url),
                              history=HistoryStore(app_settings.db_url))
    facts = client.get(f"/api/snapshots/{result.snapshot_id}/capture").json()
    assert facts["frames"] == [{"url": other.url("/embed"), "parent": site.url("/story"),
                                "name": "", "dom": "archived"}]
    page = client.get(f"/snapshots/{result.snapshot_id}").text
    assert f"<td>{other.url('/embed')}</td><td>{site.url('/story')}</td><td>archived</td>" in page


def test_a_snapshot_says_how_it_was_captured_and_who_served_it(
        seeded: dict[str, Any], client: TestClient, app_settings: Settings) -> None:
    first = client.get(f"/api/articles/{seeded['article_id']}/snapshots").json()[0]
    capture = client.get(f"/api/snapshots/{first['id']}/capture").json()
    origin = seeded["url"].rsplit("/", 2)[0]  # (the demo site's pages are /news/<slug>)
    assert capture["final_url"] == seeded["url"] and capture["settled"] is True
    assert capture["servers"] == {origin: {"address": "127.0.0.1"}}  # (plain HTTP)
    page = client.get(f"/snapshots/{first['id']}").text
    assert "How it was captured" in page and capture["browser"] in page
    assert f"<td>{origin}</td><td>127.0.0.1</td>" in page
    # The WARC's hash, as recorded when it was stored: what a citation gives.
    stored = open_store(app_settings.storage_url).get(first["warc_key"])
    assert first["warc_sha256"] == hashlib.sha256(stored).hexdigest()
    assert f'<code class="warc-sha256">{first["warc_sha256"]}</code>' in page
    # A WARC that went bad: the API says so; the page still shows what the database knows.
    open_store(app_settings.storage_url).put(first["warc_key"], b"not a WARC any more")
    assert client.get(f"/api/snapshots/{first['id']}/capture").status_code == 502
    page = client.get(f"/snapshots/{first['id']}").text
    assert "How it was captured could not be read" in page and first["final_url"] in page


def test_an_article_whose_captures_fail_says_so_with_the_error_escaped(
    client: TestClient, app_settings: Settings,
) -> None:
    url = "https://news.example/2026/story"
    history = HistoryStore(app_settings.db_url)
    watchlist = Watchlist(history)
    aid = watchlist.add(url)
    # (the server's own words may be in an error: here, its Content-Type)
    watchlist.failed(url, f"{url} is not an HTML page (Content-Type: <script>alert(1)</script>)")
    history.close()
    page = client.get(f"/articles/{aid}")
    alert = re.search(r'<p class="failing" role="alert">(.*?)</p>', page.text)
    assert alert is not None and "(1 in a row)" in alert.group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alert.group(1) and "<script>" not in page.text
    assert client.get(f"/api/articles/{aid}").json()["failing"]["failures"] == 1


def test_the_watchlist_and_feeds_are_read_by_anyone_and_changed_with_the_token(
    client: TestClient, app_settings: Settings,
) -> None:
    url, feed = "https://news.example/2026/story", "https://news.example/feed.xml"
    right = {"Authorization": f"Bearer {TOKEN}"}
    for method, path, body in (("POST", "/api/watchlist", {"url": url}),
                               ("DELETE", f"/api/watchlist?url={url}", None),
                               ("POST", "/api/feeds", {"url": feed}),
                               ("DELETE", f"/api/feeds?url={feed}", None)):
        assert client.request(method, path, json=body).status_code == 401
    added = client.post("/api/watchlist", json={"url": url + "?utm_source=x", "priority": 2},
                        headers=right)
    assert added.status_code == 201 and added.json()["priority"] == 2
    bad = client.post("/api/watchlist", json={"url": "javascript:alert(1)"}, headers=right)
    assert bad.status_code == 422
    (entry,) = client.get("/api/watchlist").json()["items"]
    assert (entry["url"], entry["priority"], entry["failing"]) == (url, 2, None)
    assert client.get("/api/watchlist", params={"failing": "true"}).json()["items"] == []
    with HistoryStore(app_settings.db_url) as history:
        Watchlist(history).failed(url, "could not reach news.example: connection refused")
    page = client.get("/watchlist", params={"failing": "true"}).text
    assert url in page and "(1 in a row): could not reach news.example" in page
    assert client.delete("/api/watchlist", params={"url": url}, headers=right).json() == {
        "url": url, "removed": True}
    assert client.delete("/api/watchlist", params={"url": url}, headers=right).status_code == 404
    assert "Nothing is watched yet." in client.get("/watchlist").text
    assert client.post("/api/feeds", json={"url": feed}, headers=right).status_code == 201
    assert client.post("/api/feeds", json={"url": feed}, headers=right).json()["added"] is False
    assert [f["url"] for f in client.get("/api/feeds").json()] == [feed]
    assert client.delete("/api/feeds", params={"url": feed}, headers=right).status_code == 200
    assert client.get("/api/feeds").json() == []


@pytest.mark.browser
def test_the_archived_page_shows_its_archived_styles_and_images_and_nothing_live(
    app_settings: Settings, client: TestClient, server: str, browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (a stylesheet large enough to be worth a revisit: the second's is one of the first's)
    monkeypatch.setattr(demo_site, "CSS", demo_site.CSS + b"/*" + b" " * 4096 + b"*/")
    with NewsSite(noise=False) as site, HistoryStore(app_settings.db_url) as history:
        for _ in range(2):
            later = snapshot(site.url(SLUG), settings=app_settings, browser=browser,
                             store=open_store(app_settings.storage_url), history=history)
        page = client.get(f"/snapshots/{later.snapshot_id}/page")
        assert page.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
        css = re.search(r'href="/snapshots/\d+/r/([^"]+/static/site\.css[^"]*)"', page.text)
        image = re.search(r'src="/snapshots/\d+/r/([^"]+/img/[^"]+)"', page.text)
        assert css is not None and image is not None, page.text
        kinds = {r.rec_headers.get_header("WARC-Target-URI"): r.rec_type for r in ArchiveIterator(
            io.BytesIO(client.get(f"/snapshots/{later.snapshot_id}/warc").content))
            if r.rec_type in ("response", "revisit")}
        assert kinds[html.unescape(css[1])] == "revisit", kinds

        def archived(url: str) -> httpx.Response:
            return client.get(f"/snapshots/{later.snapshot_id}/r/{url}")

        style = archived(html.unescape(css[1]))
        assert style.status_code == 200
        assert style.headers["content-type"] == "text/css; charset=utf-8"
        assert style.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in style.headers["content-security-policy"]
        assert archived(image[1]).content == httpx.get(image[1]).content
        # its links lead into the archive: to what it has of each page, closest in time
        stamp = re.search(rf'href="/memento/(\d{{14}})/{re.escape(site.base_url)}/news/',
                          page.text)
        assert stamp is not None, page.text
        closest = client.get(f"/memento/2999/{site.url(SLUG)}", follow_redirects=False)
        assert closest.status_code == 302 and f"/memento/{stamp[1]}/" in closest.headers["location"]
        # never a script, nor anything the snapshot did not archive
        assert archived(f"{site.base_url}/static/site.js").status_code == 404
        assert archived(f"{site.base_url}/never.png").status_code == 404

        asked = len(site.requests)
        with browser.page() as world:  # (the page in a browser: drawn from the archive alone)
            world.page.goto(f"{server}/snapshots/{later.snapshot_id}/page", wait_until="load")
            ticker, pictured = world.page.evaluate("""() => [
                getComputedStyle(document.querySelector('.breaking-ticker')).backgroundColor,
                [...document.images].filter(i => i.naturalWidth > 0).length]""")
        assert (ticker, pictured > 0) == ("rgb(17, 17, 17)", True)
        assert site.requests[asked:] == []


@pytest.mark.browser
def test_an_archived_page_s_icons_are_drawn_from_the_sprite_it_archived(
    app_settings: Settings, server: str, browser: Browser,
) -> None:
    # An icon drawn from a file of icons (a sprite): the archived page is shown
    # from an opaque origin, from which Chromium draws no <use> of another file.
    sprite = (b'<?xml version="1.0" encoding="utf-8"?>\n'
              b'<svg xmlns="http://www.w3.org/2000/svg"><symbol id="dot" viewBox="0 0 10 10">'
              b'<rect width="10" height="10" fill="green"/></symbol></svg>')
    story = (b'<!doctype html><h1>Story</h1><p id="dot">A paragraph of the same id</p>'
             b'<svg width="20" height="20"><use href="/icons.svg#dot"/></svg>')
    with RawSite(table={("GET", "/story"): ok("text/html", story),
                        ("GET", "/icons.svg"): ok("image/svg+xml", sprite)}) as site, \
            HistoryStore(app_settings.db_url) as history:
        taken = snapshot(site.url("/story"), settings=app_settings, browser=browser,
                         store=open_store(app_settings.storage_url), history=history)
        with browser.page() as world:
            world.page.goto(f"{server}/snapshots/{taken.snapshot_id}/page", wait_until="load")
            drawn = world.page.evaluate("() => document.querySelector('use').getBBox().width")
    assert drawn == 20


@pytest.mark.browser
@pytest.mark.parametrize("src", ["/embed", "/go"])
def test_an_archived_page_s_frames_show_what_they_showed_the_reader(
    app_settings: Settings, server: str, browser: Browser, src: str,
) -> None:
    # An embedded post drawn by script in a frame from another site: on the
    # archived page, where no script runs, it shows as the reader saw it;
    # also when the frame's address redirects to it (/go), as ads' often do.
    embed = (b'<!doctype html><p id="post"></p><img src="/avatar.png"><script>'
             b'document.getElementById("post").textContent = "Drawn by the embed";</script>')
    with RawSite(host="127.0.0.2", table={
            ("GET", "/embed"): ok("text/html", embed),
            ("GET", "/go"): (_response("302 Found", [("Location", "/embed"),
                                                     ("Content-Length", "0")]), b""),
            ("GET", "/avatar.png"): ok("image/png", tiny_png((0, 128, 0), size=8))}) as other, \
            RawSite(table={("GET", "/story"): ok("text/html", b'<!doctype html><h1>Story</h1>'
                                                b'<iframe src="%s"></iframe>'
                                                % other.url(src).encode())}) as site, \
            HistoryStore(app_settings.db_url) as history:
        taken = snapshot(site.url("/story"), settings=app_settings, browser=browser,
                         store=open_store(app_settings.storage_url), history=history)
        asked = len(site.received) + len(other.received)
        with browser.page() as world:
            world.page.goto(f"{server}/snapshots/{taken.snapshot_id}/page", wait_until="load")
            frame = world.page.frames[1]
            shown = frame.evaluate("""() => [document.getElementById('post').textContent,
                                             document.images[0].naturalWidth]""")
        assert shown == ["Drawn by the embed", 8]
        assert len(site.received) + len(other.received) == asked
