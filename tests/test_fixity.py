"""The fixity check: every stored WARC still holds the bytes recorded for it,
on a local folder and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from palimpsest.capture import Browser
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.storage import BlobStore

pytestmark = [pytest.mark.browser, pytest.mark.s3]


def verify(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["verify", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_a_warc_missing_or_altered_fails_the_check(
    site: NewsSite, store_settings: Settings, store: BlobStore, browser: Browser,
    prefect_harness: None,
) -> None:
    from flows.verify_archive import verify_archive

    urls = [site.url(slug) for slug in list(site.articles)[:3]]
    with HistoryStore(store_settings.db_url) as history:
        taken = [snapshot(url, settings=store_settings, browser=browser, store=store,
                          history=history) for url in urls]
    code, report = verify()
    assert code == 0 and (report["checked"], report["intact"]) == (3, 3)
    assert verify_archive()["intact"] == 3

    altered, lost = taken[0].warc_key, taken[1].warc_key
    data = store.get(altered)
    store.put(altered, data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    store.delete(lost)
    code, report = verify()
    assert code == 1 and (report["checked"], report["intact"]) == (3, 1)
    (changed,) = report["altered"]
    assert (changed["snapshot_id"], changed["warc_key"]) == (taken[0].snapshot_id, altered)
    assert changed["size"] == changed["expected_size"] == len(data)
    assert changed["sha256"] != changed["expected_sha256"]
    assert [m["snapshot_id"] for m in report["missing"]] == [taken[1].snapshot_id]
    assert report["unreadable"] == []
    assert verify("--url", urls[2]) == (0, {"checked": 1, "intact": 1, "missing": [],
                                            "altered": [], "unreadable": [], "unrecorded": []})
    text = CliRunner().invoke(main, ["verify"]).stdout
    assert "3 WARCs checked: 1 intact, 1 missing, 1 altered, 0 unreadable" in text
    state = verify_archive(return_state=True)
    assert state.is_failed() and "2 of 3 WARCs failed" in (state.message or "")


def test_warcs_no_snapshot_names_are_listed_and_can_be_deleted(
    site: NewsSite, store_settings: Settings, store: BlobStore, browser: Browser,
) -> None:
    """A process killed between storing a snapshot's WARC and recording it
    leaves a WARC nothing names: listed, and deleted when asked; one stored
    within the hour (a snapshot being recorded now) and what is not a WARC
    are left alone."""
    from palimpsest.pipeline import archive

    url = site.url("harbour-bridge-reopens")
    with HistoryStore(store_settings.db_url) as history:
        kept = snapshot(url, settings=store_settings, browser=browser, store=store,
                        history=history)
    captured = browser.capture(url)
    earlier = captured.fetched_at - timedelta(hours=2)
    killed = archive(replace(captured, fetched_at=earlier), store)
    recording = archive(captured, store)
    store.put("notes.txt", b"not ours")
    code, report = verify()
    assert code == 0 and report["intact"] == 1
    assert report["unrecorded"] == [{"warc_key": killed.key, "deleted": False,
                                     "stored_at": earlier.replace(microsecond=0).isoformat()}]
    told = CliRunner().invoke(main, ["verify"]).stdout
    assert f"1 WARCs no snapshot names (--delete-unrecorded deletes them):\n" \
           f"  unrecorded: {killed.key}" in told
    code, report = verify("--delete-unrecorded")
    assert code == 0 and report["unrecorded"][0]["deleted"] is True
    assert sorted(store.keys()) == sorted([kept.warc_key, recording.key, "notes.txt"])
    assert verify()[1]["unrecorded"] == []
