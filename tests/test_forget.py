"""Forgetting an article: its archive deleted, its URLs kept so it is not
archived again, and the records other articles' revisits need kept for them."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from palimpsest.capture import Browser
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.errors import Forgotten, HistoryError
from palimpsest.history import HistoryStore
from palimpsest.pipeline import process, snapshot
from palimpsest.schema import payloads
from palimpsest.storage import open_store
from palimpsest.warc import iter_records
from palimpsest.watchlist import Watchlist
from palimpsest.web import create_app

pytestmark = pytest.mark.browser


def revisit_digests(data: bytes) -> set[str]:
    return {r.rec_headers.get_header("WARC-Payload-Digest")
            for r in iter_records(io.BytesIO(data)) if r.rec_type == "revisit"}


def test_a_forgotten_article_is_gone_and_stays_gone_while_others_replay_whole(
    site: NewsSite, settings: Settings, browser: Browser, tmp_path: Path,
) -> None:
    store = open_store(settings.storage_url)
    gone, kept = site.url("harbour-bridge-reopens"), site.url("museum-returns-bronzes")
    with HistoryStore(settings.db_url) as history:
        first = process(browser.capture(gone), store=store, history=history)
        other = process(browser.capture(kept), store=store, history=history)
        shared = revisit_digests(store.get(other.warc_key))  # the site's own stylesheet...
        assert shared, "the second article's shared assets are revisits of the first's"
        with history.engine.connect() as conn:
            in_first = set(conn.execute(select(payloads.c.digest).where(
                payloads.c.warc_key == first.warc_key)).scalars())
        code = CliRunner().invoke(main, ["forget", gone, "--yes", "--json"])
        assert code.exit_code == 0, code.output
        done = json.loads(code.stdout)
        assert (done["snapshots"], done["payloads_kept"]) == (1, len(shared & in_first))
        assert done["payloads_dropped"] == len(in_first - shared) > 0  # (its page, its photo)
        # gone: its WARC, its versions; what is left of it says so
        assert not list(store.keys(first.warc_key))
        assert history.history(gone)["status"] == "forgotten"
        assert history.history(gone)["versions"] == [] and history.snapshot_count() == 1
        status = json.loads(CliRunner().invoke(main, ["status", "--json"]).stdout)
        assert (status["articles"], status["forgotten"]) == (1, 1)
        with history.engine.connect() as conn:
            left = {r.digest: r.warc_key for r in conn.execute(select(payloads))}
        assert not set(left) & (in_first - shared)
        assert {left[d] for d in shared & in_first} == {done["kept_warc"]}
        # the other article still replays whole: its revisits' originals are exported
        out = tmp_path / "kept.wacz"
        assert CliRunner().invoke(main, ["export", kept, "--wacz", str(out)]).exit_code == 0
        with zipfile.ZipFile(out) as wacz:
            dependencies = wacz.read("archive/dependencies.warc.gz")
        responses = {r.rec_headers.get_header("WARC-Payload-Digest")
                     for r in iter_records(io.BytesIO(dependencies))}
        assert shared <= responses
        # the kept records are checked for fixity with the snapshots' WARCs
        checked = json.loads(CliRunner().invoke(main, ["verify", "--json"]).stdout)
        assert (checked["checked"], checked["intact"]) == (2, 2)
        data = bytearray(store.get(done["kept_warc"]))
        data[len(data) // 2] ^= 1
        store.put(done["kept_warc"], bytes(data))
        (altered,) = json.loads(CliRunner().invoke(main, ["verify", "--json"]).stdout)["altered"]
        assert altered["warc_key"] == done["kept_warc"] and altered["snapshot_id"] is None
        told = CliRunner().invoke(main, ["verify"])
        assert told.exit_code == 1 and \
            f"altered: records kept for revisits: {done['kept_warc']}" in told.stdout
        # and it stays gone: not captured, not watched again; forgetting twice is harmless
        with pytest.raises(Forgotten, match="was forgotten") as refused_capture:
            snapshot(gone, settings=settings, browser=browser, store=store, history=history)
        # (as Prefect carries a failed task's error)
        assert str(pickle.loads(pickle.dumps(refused_capture.value))) == str(
            refused_capture.value)
        assert sorted(store.keys()) == sorted([other.warc_key, done["kept_warc"]])
        with pytest.raises(HistoryError, match="was forgotten"):
            Watchlist(history).add(gone)
        again = CliRunner().invoke(main, ["forget", gone, "--yes", "--json"])
        assert json.loads(again.stdout)["snapshots"] == 0
    refused = CliRunner().invoke(main, ["forget", gone], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    with TestClient(create_app(settings.with_(api_token="t"))) as client:
        again = client.post("/api/watchlist", json={"url": gone},
                            headers={"Authorization": "Bearer t"})
        assert again.status_code == 409 and "was forgotten" in again.json()["detail"]


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "from-an-older-release"])
def test_the_records_others_need_are_found_by_the_index_not_by_reading_their_warcs(
    site: NewsSite, settings: Settings, browser: Browser, indexed: bool,
) -> None:
    """Snapshots recorded before the revisit index existed are read, once, and
    indexed; those recorded since are not read at all."""
    from palimpsest.forget import forget
    from palimpsest.schema import revisits, snapshots

    store = open_store(settings.storage_url)
    gone, other = site.url("harbour-bridge-reopens"), site.url("museum-returns-bronzes")
    with HistoryStore(settings.db_url) as history:
        process(browser.capture(gone), store=store, history=history)
        kept = process(browser.capture(other), store=store, history=history)
        shared = revisit_digests(store.get(kept.warc_key))
        with history.engine.begin() as conn:
            assert set(conn.execute(select(revisits.c.digest)).scalars()) == shared
            if not indexed:
                conn.execute(revisits.delete())
                conn.execute(snapshots.update().values(revisits_indexed=False))
        read: list[str] = []  # (whole WARCs: a ranged read copies one record)
        get = store.get

        def reading(key: str, *, start: int = 0, length: int | None = None) -> bytes:
            if length is None:
                read.append(key)
            return get(key, start=start, length=length)

        store.get = reading  # type: ignore[method-assign]
        done = forget(history, store, gone)
        assert done.payloads_kept == len(shared) > 0
        assert read == ([] if indexed else [kept.warc_key])
        with history.engine.connect() as conn:
            assert set(conn.execute(select(revisits.c.digest, revisits.c.warc_key))) == \
                {(d, kept.warc_key) for d in shared}
            assert conn.execute(select(snapshots.c.revisits_indexed)).scalars().all() == [True]
