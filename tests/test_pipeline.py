"""The whole pipeline against the demo site in real Chromium, on both stores."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.storage import BlobStore
from palimpsest.warc import iter_records, read_record

from .helpers import warcio_check

pytestmark = pytest.mark.browser
SLUG = "harbour-bridge-reopens"


def take(site: NewsSite, settings: Settings, browser: Browser, store: BlobStore,
         history: HistoryStore, slug: str = SLUG):
    return snapshot(site.url(slug), settings=settings, browser=browser, store=store,
                    history=history)


@pytest.mark.s3
def test_snapshot_archives_every_exchange(
    site: NewsSite, store_settings: Settings, browser: Browser, store: BlobStore,
    history: HistoryStore, tmp_path: Path,
) -> None:
    result = take(site, store_settings, browser, store, history)
    assert result.outcome == "new" and result.version == 1
    data = store.get(result.warc_key)
    path = tmp_path / "snapshot.warc.gz"
    path.write_bytes(data)
    warcio_check(path)
    responses = {r.rec_headers.get_header("WARC-Target-URI")
                 for r in iter_records(io.BytesIO(data)) if r.rec_type == "response"}
    # The browser itself (not the page) asks for /favicon.ico; that is not archived.
    served = {site.base_url + path for _, path in site.requests if path != "/favicon.ico"}
    assert served and served <= responses  # every request the page made has its response
    assert {urlsplit(u).path for u in served} >= {
        "/news/" + SLUG, "/static/site.css", "/static/site.js", "/api/ticker",
        f"/img/{SLUG}.png", "/px.gif"}


def test_key_records_are_read_back_with_one_ranged_read(
    site: NewsSite, settings: Settings, browser: Browser, history: HistoryStore,
) -> None:
    from palimpsest.storage import open_store

    store = open_store(settings.storage_url)
    result = take(site, settings, browser, store, history)
    with history.engine.connect() as conn:
        from sqlalchemy import select

        from palimpsest.schema import snapshots
        records = conn.execute(select(snapshots.c.records)).scalar_one()
    offset, length = records["dom"]
    kind, uri, body = read_record(store.get(result.warc_key, start=offset, length=length))
    assert kind == "resource" and uri == "urn:dom:" + site.url(SLUG)
    assert b"Harbour bridge reopens" in body
    offset, length = records["page"]
    kind, uri, _ = read_record(store.get(result.warc_key, start=offset, length=length))
    assert (kind, uri) == ("response", site.url(SLUG))


def test_noise_only_changes_record_no_version_and_headline_rewrite_one_edit(
    site: NewsSite, settings: Settings, browser: Browser, history: HistoryStore,
) -> None:
    from palimpsest.storage import open_store

    store = open_store(settings.storage_url)
    assert take(site, settings, browser, store, history).outcome == "new"
    again = take(site, settings, browser, store, history)
    assert (again.outcome, again.version) == ("unchanged", 1)
    site.edit(SLUG, headline="Harbour bridge reopens, months late")
    changed = take(site, settings, browser, store, history)
    assert (changed.outcome, changed.version) == ("changed", 2)
    data = history.history(site.url(SLUG))
    assert len(data["versions"]) == 2 and data["snapshots"] == 3
    assert [e["changed_fields"] for e in data["edits"]] == [["headline"]]
    assert data["edits"][0]["fields"]["headline"]["new"] == "Harbour bridge reopens, months late"
