"""Orchestration: a real Prefect server and workers running the deployments of
prefect.yaml, and the sweep, discovery and re-extraction flows under the harness."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update

from palimpsest.capture import BrowserPool
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite, generated_articles
from palimpsest.errors import HistoryError
from palimpsest.history import HistoryStore
from palimpsest.jobs import Jobs
from palimpsest.schema import articles, snapshots, versions
from palimpsest.storage import open_store
from palimpsest.warc import page_from_warc
from palimpsest.watchlist import Watchlist

from .prefectstack import ROOT, PrefectStack

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    running = PrefectStack(tmp_path_factory.mktemp("prefect")).start()
    yield running
    running.stop()


def recorded(settings: Settings) -> int:
    history = HistoryStore(settings.db_url)
    try:
        with history.engine.connect() as conn:
            return int(conn.execute(select(func.count(snapshots.c.article_id.distinct())))
                       .scalar_one())
    finally:
        history.close()


def test_prefect_yaml_declares_every_flow_on_a_schedule_or_by_hand() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    assert set(deployments) == {"snapshot-url-default", "sweep-watchlist-default",
                                "discover-articles-default", "reextract-default",
                                "verify-archive-default"}
    assert deployments["verify-archive-default"]["schedules"] == [{"interval": 604800}]
    assert deployments["sweep-watchlist-default"]["schedules"] == [{"interval": 300}]
    assert deployments["discover-articles-default"]["schedules"] == [{"interval": 600}]
    assert "schedules" not in deployments["reextract-default"]
    for deployment in deployments.values():
        module, flow = deployment["entrypoint"].split(":")
        assert (ROOT / module).exists() and deployment["work_pool"]["name"] == "palimpsest"


def test_run_button_snapshots_through_server_and_worker(
    stack: PrefectStack, site: NewsSite, env: dict[str, str], settings: Settings,
) -> None:
    """The web UI's re-snapshot button with a Prefect API: a flow run of the snapshot
    deployment, picked up by a worker (the Prefect UI's Run button makes the same call)."""
    worker = stack.start_worker(**env)
    history = HistoryStore(settings.db_url)
    prefect = settings.with_(prefect_api_url=stack.api_url)
    jobs = Jobs(prefect, history)
    try:
        url = site.url("museum-returns-bronzes")
        job = jobs.submit(url)
        assert job["runner"] == "prefect" and job["id"] == job["flow_run_id"]
        deadline = time.monotonic() + 240
        while (job := jobs.get(job["id"]) or job)["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["status"] == "done", job
        # Another server on the same database answers for it, with what it did.
        assert Jobs(prefect, history).get(job["id"]) == job
    finally:
        stack.kill(worker)
        jobs.close()
    data = history.history(url)
    history.close()
    assert job["result"]["outcome"] == "new" and job["result"]["version"] == 1
    assert job["result"]["article_id"] == data["article_id"]
    assert [v["version"] for v in data["versions"]] == [1]
    assert data["versions"][0]["fields"]["headline"] == "Museum agrees to return looted bronzes"


def test_killing_the_worker_mid_sweep_leaves_no_partial_snapshot(
    stack: PrefectStack, env: dict[str, str], settings: Settings,
) -> None:
    with NewsSite(generated_articles(8), page_delay=1.0) as site:
        history = HistoryStore(settings.db_url)
        watchlist = Watchlist(history)
        for slug in site.articles:
            watchlist.add(site.url(slug))
        worker = stack.start_worker(**env)
        stack.run_deployment("sweep-watchlist/sweep-watchlist-default", per_domain=1,
                             browsers=1)
        deadline = datetime.now(UTC) + timedelta(seconds=180)
        while recorded(settings) < 2 and datetime.now(UTC) < deadline:
            time.sleep(0.2)
        stack.kill(worker)
        done_before = recorded(settings)
        assert 2 <= done_before < 8, "the kill should land in the middle of the sweep"
        store = open_store(settings.storage_url)
        warcs = Path(settings.storage_url)
        assert not [p for p in warcs.rglob("*") if p.name.startswith(".tmp-")]
        with history.engine.connect() as conn:
            keys = conn.execute(select(snapshots.c.warc_key)).scalars().all()
        for key in keys:  # every recorded snapshot is whole and readable
            _, dom = page_from_warc(io.BytesIO(store.get(key)))
            assert "Story number" in dom
        worker = stack.start_worker(**env)
        try:
            run = stack.run_deployment("sweep-watchlist/sweep-watchlist-default", wait=300,
                                       per_domain=2, browsers=2)
            assert run["state"]["type"] == "COMPLETED", run["state"]
        finally:
            stack.kill(worker)
        assert recorded(settings) == 8
        history.close()


@pytest.fixture
def watchlist(settings: Settings) -> Iterator[Watchlist]:
    history = HistoryStore(settings.db_url)
    yield Watchlist(history)
    history.close()


def test_sweep_captures_the_due_and_skips_the_rest(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist,
) -> None:
    from flows.sweep_watchlist import sweep_watchlist

    for slug in site.articles:
        watchlist.add(site.url(slug))
    later = site.url("drought-wheat-harvest")
    with watchlist.engine.begin() as conn:  # checked a moment ago: not due for a while
        conn.execute(update(articles).where(articles.c.url == later).values(
            next_check_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)))
    result = sweep_watchlist(per_domain=2, browsers=2)
    assert result["due"] == 2 and result["outcomes"] == {"new": 2} and result["failed"] == {}
    pages = {path for _, path in site.requests if path.startswith("/news/")}
    assert pages == {"/news/harbour-bridge-reopens", "/news/museum-returns-bronzes"}
    assert watchlist.due() == []  # both rescheduled into the future
    assert sweep_watchlist()["due"] == 0


def test_a_failed_capture_is_noted_on_its_article_and_retried_later(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist,
) -> None:
    from flows.sweep_watchlist import sweep_watchlist

    feed = f"{site.base_url}/feed.xml"  # watched by mistake: not a page
    watchlist.add(feed)
    result = sweep_watchlist()
    assert result["due"] == 1 and result["outcomes"] == {}
    assert "is not an HTML page" in result["failed"][feed]
    (entry,) = watchlist.entries(failing=True)
    assert entry["failing"]["failures"] == 1 and entry["failing"]["error"] == result["failed"][feed]
    wait = datetime.fromisoformat(entry["next_check_at"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < wait <= timedelta(minutes=10)
    assert sweep_watchlist()["due"] == 0  # not asked again at once


def test_nothing_is_captured_while_the_warc_store_cannot_take_a_warc(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.sweep_watchlist import sweep_watchlist

    watchlist.add(site.url("harbour-bridge-reopens"))
    (tmp_path / "blocked").write_text("a file where the store's folder should be")
    monkeypatch.setenv("PALIMPSEST_STORAGE_URL", str(tmp_path / "blocked" / "warcs"))
    state = sweep_watchlist(return_state=True)
    assert state.is_failed() and "could not write" in (state.message or "")
    assert not [path for _, path in site.requests if path.startswith("/news/")]
    assert watchlist.entries(failing=True) == [] and len(watchlist.due()) == 1


def test_a_capture_lost_to_our_own_fault_is_not_held_against_its_article(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database failing as a capture is recorded: the run fails and says
    so; the article is not noted failing, nor backed off, nor told of."""
    import tasks.sweep
    from flows.sweep_watchlist import sweep_watchlist

    def gone(*args: Any, **kwargs: Any) -> None:
        raise HistoryError("could not record: the database server closed the connection")

    url = site.url("harbour-bridge-reopens")
    watchlist.add(url)
    monkeypatch.setattr(tasks.sweep, "process", gone)
    state = sweep_watchlist(return_state=True)
    assert state.is_failed() and state.message == (
        "1 captures could not be kept (storage or database), e.g. could not record: "
        "the database server closed the connection")
    assert watchlist.entries(failing=True) == [] and watchlist.due() == [url]


def test_an_article_no_longer_due_when_its_turn_comes_is_not_captured(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist, settings: Settings,
) -> None:
    # Two sweeps overlap when one runs longer than the schedule's interval:
    # both listed the same due articles; the first to reach one captures it.
    from tasks.sweep import snapshot_due_article

    captured, unwatched = site.url("harbour-bridge-reopens"), site.url("drought-wheat-harvest")
    for url in (captured, unwatched):
        watchlist.add(url)
    with BrowserPool(settings, size=1) as pool:
        assert snapshot_due_article.fn(captured, pool)["outcome"] == "new"
        assert snapshot_due_article.fn(captured, pool) == {"url": captured, "outcome": "not due"}
        watchlist.remove(unwatched)  # (by a reader, while the sweep waited)
        assert snapshot_due_article.fn(unwatched, pool) == {"url": unwatched, "outcome": "not due"}
    assert [path for _, path in site.requests if path.startswith("/news/")] == [
        "/news/harbour-bridge-reopens"]


def test_per_domain_politeness_holds(prefect_harness: None, watchlist: Watchlist) -> None:
    from flows.sweep_watchlist import sweep_watchlist

    with NewsSite(generated_articles(20), page_delay=0.4) as site:
        for slug in site.articles:
            watchlist.add(site.url(slug))
        result = sweep_watchlist(per_domain=2, browsers=6)
        assert result["outcomes"] == {"new": 20}
        assert site.max_pages_in_flight == 2  # parallel, and never more than the limit


def test_discovery_adds_exactly_the_new_articles(
    prefect_harness: None, site: NewsSite, watchlist: Watchlist,
) -> None:
    from flows.discover_articles import discover_articles

    known = site.url("harbour-bridge-reopens") + "?utm_source=rss"
    watchlist.add(known)
    feed, sitemap = f"{site.base_url}/feed.xml", f"{site.base_url}/sitemap.xml"
    watchlist.add_feed(feed)
    watchlist.add_feed(sitemap)
    result = discover_articles()
    added = sorted(url for urls in result["added"].values() for url in urls)
    assert added == sorted([site.url("drought-wheat-harvest"), site.url("museum-returns-bronzes")])
    assert result["failed"] == []
    assert len(watchlist.entries()) == 3
    again = discover_articles()
    assert all(urls == [] for urls in again["added"].values())


def test_reextract_rebuilds_only_what_changed(
    prefect_harness: None, site: NewsSite, settings: Settings, watchlist: Watchlist,
) -> None:
    from flows.reextract import reextract
    from flows.sweep_watchlist import sweep_watchlist

    for slug in site.articles:
        watchlist.add(site.url(slug))
    sweep_watchlist()
    assert reextract()["rebuilt"] == []  # same extractor, same results: nothing recorded
    with watchlist.engine.begin() as conn:  # as if an older extractor had missed a paragraph
        row = conn.execute(select(versions.c.id, versions.c.fields).limit(1)).one()
        stale = {**row.fields, "body": row.fields["body"][:-1]}
        conn.execute(update(versions).where(versions.c.id == row.id).values(fields=stale,
                     content_hash="stale"))
    report = reextract()
    assert len(report["rebuilt"]) == 1 and report["snapshots"] == 3
    with watchlist.engine.connect() as conn:
        fields = conn.execute(select(versions.c.fields).where(versions.c.id == row.id)).first()
    assert fields is None or fields.fields != stale
