"""The command line, in process (CliRunner) and once as a real subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from palimpsest.capture import Browser
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.storage import open_store
from palimpsest.watchlist import Watchlist

from .helpers import write_arc
from .s3server import free_port

DATA = Path(__file__).parent / "data"
SLUG = "drought-wheat-harvest"


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def nothing_recorded(settings: Settings) -> None:
    warcs = Path(settings.storage_url)
    assert not warcs.exists() or not any(warcs.rglob("*")), "no WARC may be left behind"
    if Path(settings.db_url.removeprefix("sqlite:///")).exists():
        history = HistoryStore(settings.db_url)
        assert history.snapshot_count() == 0
        history.close()


@pytest.mark.browser
def test_snapshot_and_history_as_a_real_process(site: NewsSite, env: dict[str, str]) -> None:
    exe = str(Path(sys.executable).with_name("palimpsest"))
    environ = {**os.environ, **env}
    out = subprocess.run([exe, "snapshot", "--json", site.url(SLUG)], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["outcome"], result["version"]) == ("new", 1)
    out = subprocess.run([exe, "history", "--json", site.url(SLUG)], env=environ,
                         capture_output=True, text=True, timeout=60)
    history = json.loads(out.stdout)
    assert history["versions"][0]["fields"]["authors"] == ["Jonas Lindqvist", "Mei Tanaka"]
    assert history["edits"] == []
    text = subprocess.run([exe, "history", site.url(SLUG)], env=environ,
                          capture_output=True, text=True, timeout=60).stdout
    assert "v1" in text and "Drought cuts wheat harvest by a fifth" in text


@pytest.mark.browser
@pytest.mark.parametrize("path, message", [
    ("/data.json", "is not an HTML page (Content-Type: application/json)"),
    ("/slow", "did not load within 2s"),
])
def test_bad_pages_fail_cleanly(
    site: NewsSite, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, path: str,
    message: str,
) -> None:
    monkeypatch.setenv("PALIMPSEST_PAGE_TIMEOUT", "2")
    code, output = run("snapshot", site.base_url + path)
    assert code == 1
    assert output.startswith("Error: ") and message in output
    assert output.count("\n") == 1  # one line, no traceback
    nothing_recorded(Settings.from_env())


@pytest.mark.browser
def test_unreachable_host_fails_cleanly(settings: Settings) -> None:
    code, output = run("snapshot", f"http://127.0.0.1:{free_port()}/story")
    assert code == 1 and "could not be reached (ERR_CONNECTION_REFUSED)" in output
    code, output = run("snapshot", "http://127.0.0.1:25/story")  # (SMTP's)
    assert code == 1 and "on a port browsers never connect to" in output
    nothing_recorded(settings)


@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.com/x", "http://"])
def test_malformed_url_fails_before_anything_starts(settings: Settings, url: str) -> None:
    code, output = run("snapshot", url)
    assert code == 1 and output.startswith("Error: ") and output.count("\n") == 1
    nothing_recorded(settings)


def test_private_address_is_refused_without_the_opt_in(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PALIMPSEST_ALLOW_PRIVATE")
    code, output = run("snapshot", "http://169.254.169.254/latest/meta-data/")
    assert code == 1 and "internal address 169.254.169.254" in output
    nothing_recorded(settings)


@pytest.mark.parametrize("value", ["soon", "-1", "0", "nan"])
def test_unusable_setting_fails_with_its_name(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, value: str,
) -> None:
    monkeypatch.setenv("PALIMPSEST_SETTLE_TIMEOUT", value)
    code, output = run("snapshot", "http://127.0.0.1:9/story")
    assert code == 1
    assert output == f"Error: PALIMPSEST_SETTLE_TIMEOUT must be a positive number, not '{value}'\n"
    nothing_recorded(settings)
    monkeypatch.setenv("PALIMPSEST_SETTLE_TIMEOUT", "0.5")
    assert Settings.from_env().settle_timeout == 0.5


def test_extract_html_files_and_stdin(settings: Settings) -> None:
    code, output = run("extract", "--json", str(DATA / "german-jsonld-graph-two-authors.html"),
                       str(DATA / "intl-news-drupal-no-structured-data.html"))
    assert code == 0
    first, second = (json.loads(line) for line in output.splitlines())
    assert first["fields"]["authors"] == ["Katrin Müller", "Özlem Yıldız"]
    assert second["fields"]["tags"] == ["Fisheries", "Environment"]
    html = (DATA / "intl-news-drupal-no-structured-data.html").read_text()
    code, output = run("extract", "--json", "-", input=html)
    assert json.loads(output)["fields"] == second["fields"]


@pytest.mark.browser
def test_extract_from_a_stored_warc(site: NewsSite, settings: Settings) -> None:
    code, output = run("snapshot", "--json", site.url(SLUG))
    assert code == 0, output
    key = json.loads(output)["warc_key"]
    code, output = run("extract", "--json", str(Path(settings.storage_url) / key))
    assert code == 0
    result = json.loads(output)
    assert result["url"] == site.url(SLUG)
    assert result["fields"]["headline"] == "Drought cuts wheat harvest by a fifth"


def test_extract_from_an_arc_file(site: NewsSite, settings: Settings, tmp_path: Path) -> None:
    page = site.render(SLUG).encode()
    crawl = tmp_path / "IA-2004.arc.gz"
    write_arc(crawl, [("20040102030405", site.url(SLUG), b"HTTP/1.0 200 OK\r\nContent-Type: "
                       b"text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page))])
    code, output = run("extract", "--json", str(crawl))
    assert code == 0, output
    assert json.loads(output)["fields"]["headline"] == "Drought cuts wheat harvest by a fifth"
    crawl.write_bytes(b"filedesc://x.arc 0.0.0.0 20080101000000 text/plain 200 - - 0 x.arc 11\n"
                      b"2 0 Crawl\n\n")  # (a version warcio misreads)
    code, output = run("extract", str(crawl))
    assert code == 1 and "only version 1 is read" in output


def test_history_of_an_unknown_url(settings: Settings) -> None:
    code, output = run("history", "http://unknown.test/")
    assert code == 1 and "not tracked" in output


def test_extract_missing_file(settings: Settings) -> None:
    code, output = run("extract", "/nonexistent/page.html")
    assert code != 0 and "page.html" in output


def test_watch_and_feeds_commands(settings: Settings) -> None:
    url = "https://news.example/2026/story?utm_source=x"
    assert run("watch", "add", "--priority", "1", url)[0] == 0
    code, output = run("watch", "list", "--json")
    (entry,) = json.loads(output)
    assert entry["url"] == "https://news.example/2026/story" and entry["priority"] == 1
    assert entry["status"] == "new" and entry["versions"] == 0 and entry["failing"] is None
    assert json.loads(run("watch", "list", "--failing", "--json")[1]) == []
    with HistoryStore(settings.db_url) as history:
        Watchlist(history).failed(url, "could not reach news.example: connection refused")
    lines = run("watch", "list", "--failing")[1].splitlines()
    assert lines[0].endswith("https://news.example/2026/story") and \
        lines[1].endswith("(1 in a row): could not reach news.example: connection refused")
    assert "removed" in run("watch", "remove", url)[1]
    assert json.loads(run("watch", "list", "--json")[1]) == []
    assert "not watched" in run("watch", "remove", url)[1]
    feed = "https://news.example/feed.xml"
    assert "added" in run("feeds", "add", feed)[1]
    assert "already registered" in run("feeds", "add", feed)[1]
    assert [f["url"] for f in json.loads(run("feeds", "list", "--json")[1])] == [feed]
    assert "removed" in run("feeds", "remove", feed)[1]
    code, output = run("watch", "add", "javascript:alert(1)")
    assert code == 1 and output.startswith("Error: ")


@pytest.mark.browser
def test_several_urls_share_a_browser_and_a_failure_stops_none(
    site: NewsSite, settings: Settings,
) -> None:
    """``snapshot -`` captures a list with one browser; a URL that cannot be
    reached is reported (one JSON line with its error) and the rest go on."""
    urls = [site.url(SLUG), f"http://127.0.0.1:{free_port()}/closed", site.url("no-such-story"),
            site.url("museum-returns-bronzes")]
    result = CliRunner().invoke(main, ["snapshot", "--json", "-"], input="\n".join(urls))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1 and "1 of 4 URLs were not captured" in result.stderr
    assert [line["url"] for line in lines] == urls
    assert [line.get("outcome") for line in lines] == ["new", None, "unpublished", "new"]
    assert "could not be reached" in lines[1]["error"]
    history = HistoryStore(settings.db_url)
    assert history.snapshot_count() == 3
    history.close()
    text = CliRunner().invoke(main, ["snapshot", site.url(SLUG), site.url(SLUG)])
    assert text.exit_code == 0
    assert text.stdout.splitlines() == [f"{site.url(SLUG)}: unchanged since v1"] * 2


@pytest.mark.parametrize("command", [
    ["snapshot", "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], ["history", "http://x.test/"],
    ["extract", "-"], ["watch", "list"], ["edits"], ["events"], ["reextract"], ["verify"],
    ["export", "http://x.test/", "--wacz", "out.wacz"], ["serve"],
])
def test_every_command_says_which_setting_is_unusable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str],
) -> None:
    monkeypatch.setenv("PALIMPSEST_SITE_RULES", str(tmp_path / "missing.json"))
    code, output = run(*command, input="")
    assert code == 1 and output.startswith("Error: PALIMPSEST_SITE_RULES"), output
    assert output.count("\n") == 1  # (one line, no traceback)


def test_a_list_of_urls_is_read_from_stdin_and_checked_whole(settings: Settings) -> None:
    """``watch add -`` reads a list (blank lines and comments skipped); a list
    with a bad line adds nothing and names every bad line."""
    good = "# from the newsroom's sitemap\nhttps://news.example/a\n\n  https://news.example/b  \n"
    bad = good + "ftp://news.example/c\nnot a url\n"
    code, output = run("watch", "add", "-", "https://news.example/d", input=bad)
    assert code == 1 and output.startswith("Error: nothing added: 2 of 5 URLs")
    assert "line 5" in output and "line 6" in output
    assert json.loads(run("watch", "list", "--json")[1]) == []
    assert run("watch", "add", "-", "https://news.example/d", input=good)[0] == 0
    watched = [e["url"] for e in json.loads(run("watch", "list", "--json")[1])]
    assert sorted(watched) == [f"https://news.example/{x}" for x in "abd"]
    assert run("feeds", "add", "-", input="https://news.example/feed.xml\n")[0] == 0
    assert run("watch", "add", "-", input="# nothing yet\n") == \
        (1, "Error: no URL given: standard input held none\n")
    assert len(json.loads(run("feeds", "list", "--json")[1])) == 1


@pytest.mark.browser
def test_reextract_command_reports_nothing_new(site: NewsSite, settings: Settings) -> None:
    assert run("snapshot", site.url(SLUG))[0] == 0
    code, output = run("reextract", "--json")
    assert code == 0
    report = json.loads(output[output.index("{"):])
    assert (report["articles"], report["snapshots"], report["rebuilt"]) == (1, 1, [])


def test_the_demo_site_logs_no_error_when_a_browser_resets_its_connection(
        site: NewsSite, capsys: pytest.CaptureFixture[str]) -> None:
    # (a browser resets the connections it kept alive when its context closes)
    port = int(site.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /news/" + SLUG.encode() + b" HTTP/1.1\r\nHost: demo\r\n\r\n")
        assert client.recv(12) == b"HTTP/1.1 200"
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.2)  # (while the site reads on)
    assert capsys.readouterr().err == ""


@pytest.mark.browser
def test_the_demo_shows_noise_edits_and_a_takedown(env: dict[str, str]) -> None:
    """The README's first command: what it prints is what happened. (In a
    thread: the tests' own browser holds Playwright's sync API in this one.)"""
    with ThreadPoolExecutor(max_workers=1) as thread:
        result = thread.submit(CliRunner().invoke, main, ["demo"]).result()
    assert result.exit_code == 0, result.output
    rounds = [[line.split()[0] for line in part.splitlines()[1:] if line.startswith("  ")
               and not line.startswith("  newsroom")]
              for part in result.output.split("\n== ")[1:5]]
    assert rounds == [["new"] * 3, ["unchanged"] * 3, ["changed"] * 3,
                      ["unchanged", "unpublished", "unchanged"]]
    assert "unpublished: the page says “Sorry, we couldn't find that page” (HTTP 200)" in \
        result.output
    assert "[-32-] {+36+}" in result.output


@pytest.mark.browser
def test_edits_and_events_across_the_archive_as_text_json_and_csv(
    site: NewsSite, settings: Settings, browser: Browser,
) -> None:
    url = site.url(SLUG)
    with HistoryStore(settings.db_url) as history:
        def take() -> None:
            snapshot(url, settings=settings, browser=browser, history=history,
                     store=open_store(settings.storage_url))
        take()
        site.edit(SLUG, headline="Drought cuts wheat harvest by a quarter")
        take()
        site.edit(SLUG, not_found=True)
        take()
    rows = list(csv.DictReader(io.StringIO(run("edits", "--format", "csv")[1])))
    assert [(r["url"], r["changed_fields"], r["to_version"]) for r in rows] == \
        [(url, "headline", "2")]
    assert rows[0]["headline"] == "Drought cuts wheat harvest by a quarter"
    assert json.loads(run("edits", "--format", "json")[1])[0]["words_added"] == 1
    assert json.loads(run("edits", "--format", "json", "--field", "body")[1]) == []
    assert json.loads(run("edits", "--format", "json", "--site", "elsewhere.example")[1]) == []
    assert "v2   headline" in run("edits")[1]
    code, text = run("events")
    assert code == 0 and f"unpublished{' ' * 12}{url}  the page says “Sorry, we couldn't " \
        "find that page” (HTTP 200)" in text
    (event,) = csv.DictReader(io.StringIO(run("events", "--format", "csv")[1]))
    assert event["kind"] == "unpublished" and json.loads(event["detail"])["http_status"] == 200
    assert run("events", "--kind", "moved", "--format", "json")[1].strip() == "[]"


def test_status_says_what_the_archive_holds(settings: Settings) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from palimpsest.models import Article, Capture, StoredWarc
    from palimpsest.notify import Outbox
    from palimpsest.web import create_app

    url, now = "https://news.example/2026/story", datetime.now(UTC)
    article = Article(headline="Bridge reopens", body=("One.", "Two."))
    with HistoryStore(settings.db_url) as history:
        watchlist = Watchlist(history)
        watchlist.add(url)
        for n, version in enumerate((article, replace(article, headline="Bridge shut"))):
            capture = Capture(url=url, final_url=url, status=200, exchanges=(), dom="",
                              fetched_at=now - timedelta(minutes=10 - n))
            history.record(capture, version, StoredWarc(key=f"k/{n}", size=1000 + n,
                                                        sha256="0" * 64, records={}))
        watchlist.add("https://news.example/2026/other")
        watchlist.failed("https://news.example/2026/other", "connection refused")
        Outbox(history).add([{"kind": "edit", "url": url}])
    code, output = run("status", "--json")
    found = json.loads(output)
    assert code == 0 and {k: found[k] for k in (
        "articles", "watched", "failing", "versions", "snapshots", "warc_bytes",
        "edits_last_day", "webhook_waiting")} == {
        "articles": 2, "watched": 2, "failing": 1, "versions": 2, "snapshots": 2,
        "warc_bytes": 2001, "edits_last_day": 1, "webhook_waiting": 1}
    assert found["last_snapshot"].startswith((now - timedelta(minutes=9)).strftime("%Y-%m-%dT%H"))
    text = run("status")[1]
    assert "watched 2:" in text and "1 failing" in text and "1 edits" in text
    assert "snapshots  2 (2 kB of WARCs;" in text
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/status").json() == found
