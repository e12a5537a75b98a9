"""Backfilling histories from WARCs and WACZs made elsewhere: the article's
earlier versions, in time order, their records copied byte for byte."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from palimpsest.capture import Browser
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.storage import open_store
from palimpsest.web import create_app

from .helpers import warcio_check, write_arc

SLUG = "harbour-bridge-reopens"


def write_foreign_warc(path: Path, records: list[tuple[str, str, str, bytes, str]],
                       *, gzip: bool = True, moved: dict[str, str] | None = None) -> None:
    """A WARC as another crawler writes one: (date, URL, status line,
    body, content type) a response each, with its request; the responses
    to the URLs ``moved`` names carry a Location, to where it says."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip, warc_version="WARC/1.0")
        for date, url, status, body, content_type in records:
            location = [("Location", (moved or {})[url])] if url in (moved or {}) else []
            response = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body),
                http_headers=StatusAndHeaders(status, [("Content-Type", content_type),
                                                       *location], protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": date})
            request = writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(f"GET {url} HTTP/1.1", [("User-Agent", "crawler")],
                                              is_http_request=True),
                warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To":
                                   response.rec_headers.get_header("WARC-Record-ID")})
            writer.write_record(request)
            writer.write_record(response)


def members(data: bytes) -> list[tuple[str, bytes]]:
    """Each record of a WARC (one gzip member each), as its bytes."""
    records = ArchiveIterator(io.BytesIO(data))
    found = []
    for record in records:
        kind = record.rec_type
        record.content_stream().read()
        start, length = records.get_record_offset(), records.get_record_length()
        found.append((kind, data[start:start + length]))
    return found


def imported(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["import", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def renaming(site: NewsSite) -> tuple[bytes, bytes]:
    """The article's page, then its page once its headline was rewritten."""
    before = site.render(SLUG).encode()
    site.edit(SLUG, headline="Harbour bridge reopens after costly two-year repair")
    return before, site.render(SLUG).encode()


def test_an_article_s_earlier_versions_are_backfilled_in_time_order(
    site: NewsSite, settings: Settings, tmp_path: Path,
) -> None:
    url, html = site.url(SLUG), "text/html; charset=utf-8"
    before, renamed = renaming(site)
    site.edit(SLUG, body=(*site.articles[SLUG].body, "Tolls return in March."))
    longer = site.render(SLUG).encode("iso-8859-1", "replace")
    crawl = tmp_path / "crawl.warc.gz"
    write_foreign_warc(crawl, [
        ("2024-02-01T09:00:00Z", url, "200 OK", renamed, html),
        ("2024-01-01T09:00:00Z", url, "200 OK", before, html),
        ("2024-01-01T09:00:01Z", f"{site.base_url}/static/site.css", "200 OK", b"p{}", "text/css"),
        ("2024-01-01T09:00:02Z", site.url("old-slug"), "301 Moved Permanently", b"", html),
        ("2024-01-15T09:00:00Z", site.url("museum-returns-bronzes"), "200 OK",
         site.render("museum-returns-bronzes").encode(), html),
    ])
    later = tmp_path / "later.warc"  # (not gzipped, and in another charset)
    write_foreign_warc(later, [("2024-03-01T09:00:00Z", url, "200 OK", longer,
                                "text/html; charset=ISO-8859-1")], gzip=False)

    # the later file first: the history is rebuilt in time order all the same
    assert imported(str(later), "--url", url)["snapshots"] == 1
    done = imported(str(crawl), "--url", url)
    assert (done["snapshots"], done["already_imported"]) == (2, 0)
    assert done["articles"] == [{"url": url, "snapshots_added": 2, "versions": 3}]
    with HistoryStore(settings.db_url) as history:
        data = history.history(url)
    assert [v["captured_at"][:10] for v in data["versions"]] == [
        "2024-01-01", "2024-02-01", "2024-03-01"]
    assert [e["changed_fields"] for e in data["edits"]] == [["headline"], ["body"]]
    assert data["versions"][2]["fields"]["body"][-1] == "Tolls return in March."

    # each snapshot's WARC holds the source's records byte for byte
    store = open_store(settings.storage_url)
    keys = sorted(store.keys())
    assert len(keys) == 3 and all("imported-" in key for key in keys)
    ours = members(store.get(keys[0]))
    assert [kind for kind, _ in ours] == ["warcinfo", "request", "response", "resource"]
    assert {raw for kind, raw in ours[1:3]} <= {raw for _, raw in members(crawl.read_bytes())}
    checked = json.loads(CliRunner().invoke(main, ["verify", "--json"]).stdout)
    assert (checked["checked"], checked["intact"]) == (3, 3)
    # shown for what they are: the page as the other archive had it, no screenshot
    with TestClient(create_app(settings)) as client:
        aid = data["article_id"]
        first = client.get(f"/api/articles/{aid}/snapshots").json()[0]
        assert "Imported from another web archive" in client.get(f"/snapshots/{first['id']}").text
        assert client.get(f"/snapshots/{first['id']}/dom").status_code == 200
        diff = client.get(f"/articles/{aid}/diff", params={"from_version": 1, "to_version": 2})
        assert diff.text.count(" · imported") == 2 and "screenshot" not in diff.text.lower()
        assert diff.text.count('src="/snapshots/') == 2  # (the pages as archived, instead)

    # again, from a WACZ holding the same WARC: nothing new; all its pages otherwise
    wacz = tmp_path / "crawl.wacz"
    with zipfile.ZipFile(wacz, "w") as package:
        package.write(crawl, "archive/crawl.warc.gz")
    again = imported(str(wacz), "--url", url)
    assert (again["snapshots"], again["already_imported"]) == (0, 2)
    listed = tmp_path / "listed.wacz"  # (its pages.jsonl names the pages: not the other)
    with zipfile.ZipFile(listed, "w") as package:
        package.write(crawl, "archive/crawl.warc.gz")
        package.writestr("pages/pages.jsonl", '{"format": "json-pages-1.0"}\n'
                                              f'{{"url": "{url}", "ts": "2024-01-01"}}\n')
    assert [a["url"] for a in imported(str(listed))["articles"]] == [url]
    every = imported(str(wacz))
    assert every["snapshots"] == 1 and [(a["url"], a["snapshots_added"]) for a in
                                        every["articles"]] == [
        (url, 0), (site.url("museum-returns-bronzes"), 1)]

    # an article forgotten (a takedown) is not brought back by an import
    assert CliRunner().invoke(main, ["forget", url, "--yes"]).exit_code == 0
    left = sorted(store.keys())
    after = imported(str(wacz))
    assert (after["snapshots"], after["forgotten"]) == (0, 2)
    assert sorted(store.keys()) == left and len(left) == 1  # (the other article's)


def test_a_file_that_is_not_a_web_archive_stops_the_import_before_it_starts(
    site: NewsSite, settings: Settings, tmp_path: Path,
) -> None:
    good, bad = tmp_path / "good.warc.gz", tmp_path / "notes.warc.gz"
    write_foreign_warc(good, [("2024-01-01T09:00:00Z", site.url(SLUG), "200 OK",
                               site.render(SLUG).encode(), "text/html")])
    bad.write_bytes(b"these are not WARC records\n")
    result = CliRunner().invoke(main, ["import", str(good), str(bad)])
    assert result.exit_code == 1 and f"{bad}: not a WARC or ARC file" in result.output, \
        result.output
    assert list(open_store(settings.storage_url).keys()) == []


@pytest.mark.browser
def test_an_archive_exported_here_is_imported_elsewhere_with_its_history(
    site: NewsSite, settings: Settings, browser: Browser, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another Palimpsest takes this one's export: the same versions."""
    url = site.url(SLUG)
    with HistoryStore(settings.db_url) as history:
        for edit in ({}, {"headline": "Harbour bridge reopens at last"}):
            site.edit(SLUG, **edit)
            snapshot(url, settings=settings, browser=browser, history=history,
                     store=open_store(settings.storage_url))
        here = history.history(url)
    wacz = tmp_path / "article.wacz"
    assert CliRunner().invoke(main, ["export", url, "--wacz", str(wacz)]).exit_code == 0
    monkeypatch.setenv("PALIMPSEST_HOME", str(tmp_path / "elsewhere"))
    done = imported(str(wacz))
    assert done["snapshots"] == 2 and [a["url"] for a in done["articles"]] == [url]
    with HistoryStore(Settings.from_env().db_url) as history:
        there = history.history(url)
    assert [v["fields"] for v in there["versions"]] == [v["fields"] for v in here["versions"]]
    assert [e["changed_fields"] for e in there["edits"]] == [["headline"]]


def test_a_page_reached_by_redirects_is_a_snapshot_of_the_address_asked_for(
    site: NewsSite, settings: Settings, tmp_path: Path,
) -> None:
    url, html = site.url(SLUG), "text/html; charset=utf-8"
    short, old = f"{site.base_url}/s/hb", site.url("old-slug")
    page = site.render(SLUG).encode()
    crawl = tmp_path / "wayback.warc.gz"
    write_foreign_warc(crawl, [  # (the later hops first: a crawler's queue decides)
        ("2024-01-01T09:00:05Z", old, "301 Moved Permanently", b"", html),
        ("2024-01-01T09:00:00Z", short, "302 Found", b"<a href=x>moved</a>", html),
        ("2024-01-01T10:00:00Z", url, "200 OK", page, html),
        ("2024-01-05T09:00:00Z", url, "200 OK", page.replace(b"2024", b"2025"), html),
    ], moved={short: "/news/old-slug", old: url})

    # the page archived days later, on its own, comes too: the article is
    # known by that address since the first page was imported
    done = imported(str(crawl), "--url", short)
    assert done["snapshots"] == 2
    assert done["articles"] == [{"url": short, "snapshots_added": 2, "versions": 2}]
    with HistoryStore(settings.db_url) as history:
        data = history.history(short)
        assert history.history(url)["article_id"] == data["article_id"]  # (an alias now)
    assert [v["captured_at"][:10] for v in data["versions"]] == ["2024-01-01", "2024-01-05"]
    with TestClient(create_app(settings)) as client:
        first, later = client.get(f"/api/articles/{data['article_id']}/snapshots").json()
    assert (first["requested_url"], first["final_url"]) == (short, url)
    assert (later["requested_url"], later["final_url"]) == (url, url)

    # the redirects' records come first in its WARC, as the source has them
    store = open_store(settings.storage_url)
    ours = members(store.get(first["warc_key"]))
    assert [kind for kind, _ in ours] == ["warcinfo", *["request", "response"] * 3, "resource"]
    theirs = [raw for _, raw in members(crawl.read_bytes())]
    assert [theirs.index(raw) for _, raw in ours[1:7]] == [2, 3, 0, 1, 4, 5]
    checked = json.loads(CliRunner().invoke(main, ["verify", "--json"]).stdout)
    assert (checked["checked"], checked["intact"]) == (2, 2)
    again = imported(str(crawl), "--url", short)
    assert (again["snapshots"], again["already_imported"]) == (0, 2)


def test_an_arc_file_s_pages_are_imported_as_warc_records(
    site: NewsSite, settings: Settings, tmp_path: Path,
) -> None:
    url = site.url(SLUG)
    before = site.render(SLUG).encode("iso-8859-1", "replace")
    site.edit(SLUG, headline="Harbour bridge reopens after costly two-year repair")
    after = site.render(SLUG).encode("iso-8859-1", "replace")
    crawl = tmp_path / "IA-2004.arc.gz"
    sent = write_arc(crawl, [
        (stamp, url, b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(page), page))
        for stamp, page in (("20040301120000", after), ("20040102030405", before))])

    done = imported(str(crawl), "--url", url)
    assert done["articles"] == [{"url": url, "snapshots_added": 2, "versions": 2}]
    with HistoryStore(settings.db_url) as history:
        data = history.history(url)
    assert [v["captured_at"][:19] for v in data["versions"]] == [
        "2004-01-02T03:04:05", "2004-03-01T12:00:00"]
    assert [e["changed_fields"] for e in data["edits"]] == [["headline"]]

    # a WARC response record each, its HTTP response as the ARC file has it
    store = open_store(settings.storage_url)
    keys = sorted(store.keys())
    for key, http in zip(keys, reversed(sent), strict=True):
        (record,) = [(r.rec_headers, r.raw_stream.read()) for r in
                     ArchiveIterator(io.BytesIO(store.get(key))) if r.rec_type == "response"]
        assert record[0].get_header("WARC-Target-URI") == url
        assert record[0].get_header("WARC-IP-Address") == "192.0.2.7"
        assert record[1] == http.partition(b"\r\n\r\n")[2]
    checked = json.loads(CliRunner().invoke(main, ["verify", "--json"]).stdout)
    assert (checked["checked"], checked["intact"]) == (2, 2)
    (tmp_path / "ours.warc.gz").write_bytes(store.get(keys[0]))
    warcio_check(tmp_path / "ours.warc.gz")
    # converted the same again: nothing new
    assert imported(str(crawl), "--url", url)["already_imported"] == 2
    assert sorted(store.keys()) == keys


def test_a_page_archived_again_unchanged_as_a_revisit_is_a_snapshot_too(
    site: NewsSite, settings: Settings, tmp_path: Path,
) -> None:
    url, html = site.url(SLUG), "text/html; charset=utf-8"
    first, renamed = renaming(site)
    crawl = tmp_path / "archive-it.warc.gz"
    with crawl.open("wb") as out:  # (as Heritrix writes a page fetched again, unchanged)
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.0")
        headers = StatusAndHeaders("200 OK", [("Content-Type", html)], protocol="HTTP/1.1")
        original = writer.create_warc_record(
            url, "response", payload=io.BytesIO(first), http_headers=headers,
            warc_headers_dict={"WARC-Date": "2024-01-01T09:00:00Z"})
        digest = original.rec_headers.get_header("WARC-Payload-Digest")
        writer.write_record(original)
        writer.write_record(writer.create_revisit_record(
            url, digest, url, "2024-01-01T09:00:00Z", http_headers=headers,
            warc_headers_dict={"WARC-Date": "2024-01-08T09:00:00Z"}))
        writer.write_record(writer.create_warc_record(
            url, "response", payload=io.BytesIO(renamed),
            http_headers=headers, warc_headers_dict={"WARC-Date": "2024-01-15T09:00:00Z"}))
        writer.write_record(writer.create_revisit_record(  # (of a crawl not given here)
            url, "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH", url, "2023-06-01T09:00:00Z",
            http_headers=headers, warc_headers_dict={"WARC-Date": "2024-01-22T09:00:00Z"}))

    done = imported(str(crawl), "--url", url)
    assert (done["snapshots"], done["revisits_without_original"]) == (3, 1)
    with TestClient(create_app(settings)) as client:
        aid = client.get("/api/articles", params={"site": "127.0.0.1"}).json()["items"][0]
        taken = client.get(f"/api/articles/{aid['article_id']}/snapshots").json()
        history = client.get(f"/api/articles/{aid['article_id']}").json()
    assert [(s["fetched_at"][:10], s["outcome"]) for s in taken] == [
        ("2024-01-01", "new"), ("2024-01-08", "unchanged"), ("2024-01-15", "changed")]
    assert history["versions"][0]["last_seen"][:10] == "2024-01-08"
    # the revisit's WARC holds it, then the record it refers to, as the crawl has them
    store = open_store(settings.storage_url)
    ours = members(store.get(sorted(store.keys())[1]))  # (named by their times)
    assert [kind for kind, _ in ours] == ["warcinfo", "revisit", "response", "resource"]
    assert [raw for _, raw in ours[1:3]] == [raw for _, raw in members(crawl.read_bytes())[1::-1]]


def test_an_arc_file_of_a_version_warcio_misreads_is_refused(settings: Settings,
                                                             tmp_path: Path) -> None:
    fields = (b"2 0 Crawl\nURL IP-address Archive-date Content-type Result-code Checksum "
              b"Location Offset Filename Archive-length\n")
    crawl = tmp_path / "alexa.arc"
    crawl.write_bytes(b"filedesc://alexa.arc 0.0.0.0 20080101000000 text/plain 200 - - 0 "
                      b"alexa.arc %d\n%s\n" % (len(fields), fields))
    result = CliRunner().invoke(main, ["import", str(crawl)])
    assert result.exit_code == 1, result.output
    assert "an ARC file of version 2: only version 1 is read" in result.output
    assert list(open_store(settings.storage_url).keys()) == []
