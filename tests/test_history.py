from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from palimpsest.config import Settings
from palimpsest.errors import HistoryError
from palimpsest.history import HistoryStore
from palimpsest.lifecycle import describe
from palimpsest.models import Article, Capture, StoredWarc
from palimpsest.schema import edits, snapshots, versions

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
URL = "http://news.test/story?utm_source=feed"
ARTICLE = Article(headline="Bridge reopens", authors=("A. Writer",), body=("One.", "Two."))


def capture(minutes: int = 0, status: int = 200) -> Capture:
    return Capture(url=URL, final_url=URL, status=status,
                   fetched_at=T0 + timedelta(minutes=minutes), exchanges=(), dom="")


def warc(n: int) -> StoredWarc:
    return StoredWarc(key=f"news.test/x/{n}.warc.gz", size=10, sha256="0" * 64,
                      records={"page": (0, 5)})


def rate_limited(url: str, when: datetime, *, retry_after: str) -> Capture:
    """A capture of ``url`` answered 429 Too Many Requests, with a Retry-After."""
    from palimpsest.models import Exchange

    asked = Exchange(url=url, method="GET", request_headers=(("Sec-Fetch-Dest", "document"),),
                     request_body=None, status=429, reason="Too Many Requests",
                     response_headers=(("Retry-After", retry_after),), body=b"")
    return Capture(url=url, final_url=url, status=429, exchanges=(asked,), fetched_at=when,
                   dom="")


def count(history: HistoryStore, table: object) -> int:
    with history.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_new_unchanged_changed(db: HistoryStore) -> None:
    assert db.record(capture(0), ARTICLE, warc(1)).outcome == "new"
    assert db.record(capture(5), ARTICLE, warc(2)).outcome == "unchanged"
    result = db.record(capture(9), replace(ARTICLE, headline="Bridge reopens late"), warc(3))
    assert (result.outcome, result.version, result.changed_fields) == ("changed", 2, ("headline",))
    assert count(db, versions) == 2 and count(db, edits) == 1


def test_recording_the_same_warc_twice_changes_nothing(db: HistoryStore) -> None:
    first = db.record(capture(0), ARTICLE, warc(1))
    again = db.record(capture(0), ARTICLE, warc(1))
    assert again.snapshot_id == first.snapshot_id and again.version == 1
    assert count(db, snapshots) == 1


def test_error_page_is_a_snapshot_without_version(db: HistoryStore) -> None:
    db.record(capture(0), ARTICLE, warc(1))
    result = db.record(capture(5, status=410), None, warc(2))
    assert (result.outcome, result.version) == ("unpublished", None)
    data = db.history(URL)
    assert data["status"] == "gone"
    assert [(e["kind"], e["http_status"]) for e in data["events"]] == [("unpublished", 410)]
    assert count(db, versions) == 1


@pytest.mark.parametrize("status", [503, 429])
def test_a_server_that_could_not_answer_says_nothing_about_the_article(
        db: HistoryStore, status: int) -> None:
    # An overloaded or rate-limiting site has not unpublished the story.
    db.record(capture(0), ARTICLE, warc(1))
    result = db.record(capture(5, status=status), None, warc(2))
    assert (result.outcome, result.version) == ("unavailable", None)
    assert db.record(capture(10), ARTICLE, warc(3)).outcome == "unchanged"
    data = db.history(URL)
    assert data["status"] == "live" and data["events"] == []
    assert count(db, snapshots) == 3 and count(db, versions) == 1


@pytest.mark.parametrize("status", [403, 401])
def test_a_refusal_is_a_wall_not_an_unpublished_story(db: HistoryStore, status: int) -> None:
    # A bot check (Cloudflare, Akamai, DataDome answer 403) or a login wall
    # refuses the reader; the story is still there, for those let in.
    db.record(capture(0), ARTICLE, warc(1))
    for minutes in (5, 10):  # (said once, however long it lasts)
        result = db.record(capture(minutes, status=status), None, warc(minutes))
        assert (result.outcome, result.version) == ("wall", None)
    assert db.record(capture(15), ARTICLE, warc(15)).outcome == "unchanged"
    data = db.history(URL)
    assert data["status"] == "live"
    assert [(e["kind"], e["http_status"]) for e in data["events"]] == [("wall", status)]


def test_history_json_contract(db: HistoryStore) -> None:
    db.record(capture(0), ARTICLE, warc(1))
    db.record(capture(5), replace(ARTICLE, body=("One.", "Two.", "Three.")), warc(2))
    data = db.history("http://news.test/story")  # tracking parameter dropped
    assert {"url", "versions", "edits"} <= data.keys()
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert data["versions"][0]["captured_at"] == "2026-11-28T09:00:00+00:00"
    assert data["versions"][1]["fields"]["body"] == ["One.", "Two.", "Three."]
    assert set(data["versions"][0]["fields"]) >= {"headline", "authors", "published", "body",
                                                  "tags"}
    (edit,) = data["edits"]
    assert (edit["from_version"], edit["to_version"], edit["changed_fields"]) == (1, 2, ["body"])
    assert edit["body"] == [{"op": "insert", "new_index": 2, "text": "Three."}]


def test_unknown_url_is_a_clear_error(db: HistoryStore) -> None:
    with pytest.raises(HistoryError, match="not tracked"):
        db.history("http://never.test/")


def test_reopening_keeps_data_and_skips_migration(settings: object) -> None:
    first = HistoryStore(settings.db_url)  # type: ignore[attr-defined]
    first.record(capture(0), ARTICLE, warc(1))
    first.close()
    second = HistoryStore(settings.db_url)  # type: ignore[attr-defined]
    assert len(second.history(URL)["versions"]) == 1
    second.close()


def test_migrations_build_exactly_the_declared_schema(db: HistoryStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from palimpsest.schema import metadata

    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_a_database_made_by_the_first_release_is_upgraded_with_its_history(
        tmp_path: Path) -> None:
    """Upgrading rebuilds tables other tables refer to (SQLite's batch mode),
    which enforced foreign keys would refuse."""
    from sqlalchemy import text

    from palimpsest.database import SCHEMA_REVISION

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = _first_release(url)
    with old.begin() as conn:
        conn.execute(text("INSERT INTO articles VALUES ('a1', 'https://news.example/a', 'live',"
                          " '2026-01-01', '2026-01-02', NULL)"))
        conn.execute(text("INSERT INTO article_urls VALUES ('https://news.example/a', 'a1',"
                          " '2026-01-01')"))
        # what an upgrade interrupted by an earlier release left behind
        conn.execute(text("CREATE TABLE _alembic_tmp_articles (id VARCHAR(16))"))
    old.dispose()
    store = HistoryStore(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
            SCHEMA_REVISION
        assert conn.execute(text("SELECT url, watched FROM articles")).all() == [
            ("https://news.example/a", False)]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # enforced again
        assert "_alembic_tmp_articles" not in conn.execute(
            text("SELECT name FROM sqlite_master")).scalars().all()
    store.close()


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """A snapshot whose article is gone (written with foreign keys off) makes
    the upgraded database fail its check: nothing of the upgrade may stay."""
    from sqlalchemy import create_engine, inspect, text

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = _first_release(url)
    with old.begin() as conn:
        conn.execute(text("INSERT INTO snapshots (article_id, requested_url, final_url,"
                          " fetched_at, http_status, settled, warc_key, warc_size, warc_sha256,"
                          " records, outcome) VALUES ('gone', 'u', 'u', '2026-01-01', 200, 1,"
                          " 'k', 1, 's', '{}', 'new')"))
    tables = set(inspect(old).get_table_names())
    old.dispose()
    with pytest.raises(HistoryError, match="breaks foreign keys"):
        HistoryStore(url)
    after = create_engine(url)
    assert set(inspect(after).get_table_names()) == tables  # no _alembic_tmp_, no feeds
    with after.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    after.dispose()


def _first_release(url: str) -> Any:
    """An engine on a new database with the schema of the first release (0001)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from palimpsest.database import MIGRATIONS

    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    return engine


def test_a_page_that_says_the_story_is_gone_is_an_event_listed_with_it(db: HistoryStore) -> None:
    from palimpsest import queries

    aid = db.record(capture(0), ARTICLE, warc(1)).article_id
    db.record(capture(3), replace(ARTICLE, headline="Bridge reopens late"), warc(2))
    notice = "Sorry, we couldn't find that page"
    soft_404 = replace(ARTICLE, headline=notice, body=("Try the search.",), gone=notice)
    assert db.record(capture(5), soft_404, warc(3)).outcome == "unpublished"
    (event,) = queries.recent_events(db.engine)
    assert (event["kind"], event["article_id"], event["headline"]) == \
        ("unpublished", aid, "Bridge reopens late")
    assert event["detail"] == {"http_status": 200, "notice": notice}
    assert queries.recent_events(db.engine, kind="wall") == []
    assert queries.recent_events(db.engine, article_id="another") == []
    assert [e["to_version"] for e in queries.recent_edits(db.engine, article_id=aid)] == [2]
    assert db.history(URL)["status"] == "gone"


def test_jobs_are_kept_in_the_database(db: HistoryStore, settings: Settings) -> None:
    """Any server on the database answers for a job; one left running by a
    stopped process failed."""
    from palimpsest.jobs import Jobs
    from palimpsest.schema import jobs

    with db.engine.begin() as conn:
        conn.execute(jobs.insert().values(
            id="j1", url="http://news.test/a", runner="local", status="running",
            # (no process has a pid above 2**22, Linux's highest)
            worker=f"{socket.gethostname()}:{2 ** 22 + 1}:1", created_at=T0))
    found = Jobs(settings, db).get("j1")
    assert found is not None and found["status"] == "failed"
    assert "interrupted" in found["error"] and found["created_at"] == T0.isoformat()
    assert Jobs(settings, db).get("j2") is None


def test_failed_captures_back_off_and_show_until_one_succeeds(db: HistoryStore) -> None:
    from palimpsest.timeline import render_timeline
    from palimpsest.watchlist import Watchlist

    watchlist = Watchlist(db)
    watchlist.add(URL, now=T0)
    watchlist.failed(URL, "NetworkError: connection refused", now=T0)
    watchlist.failed(URL, "CaptureTimeout: no answer in 30 s", now=T0 + timedelta(minutes=10))
    (entry,) = watchlist.entries(failing=True)
    assert entry["failing"] == {"failures": 2, "since": T0.isoformat(),
                                "error": "CaptureTimeout: no answer in 30 s"}
    # twice as long after the second failure: 20 minutes, from the time it failed
    assert entry["next_check_at"] == (T0 + timedelta(minutes=30)).isoformat()
    assert watchlist.due(now=T0 + timedelta(minutes=29)) == []
    assert db.history(URL)["failing"]["failures"] == 2
    assert "captures failing since 2026-11-28 09:00:00Z (2 in a row): CaptureTimeout" in \
        render_timeline(db.history(URL))
    watchlist.failed("http://news.test/never-seen", "refused")  # no article: nothing noted
    db.record(capture(40), ARTICLE, warc(1))
    assert watchlist.entries(failing=True) == []
    assert watchlist.entries()[0]["failing"] is None and db.history(URL)["failing"] is None


def test_retries_wait_twice_as_long_each_time_up_to_a_day() -> None:
    from palimpsest.schedule import retry_interval

    assert [retry_interval(n) for n in (1, 2, 3)] == [
        timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]
    assert retry_interval(9) == retry_interval(10_000) == timedelta(days=1)


def test_a_retry_after_is_read_as_seconds_or_a_date_and_kept_to_a_day() -> None:
    from palimpsest.schedule import retry_after, retry_interval

    assert retry_after("120", T0) == timedelta(minutes=2)
    assert retry_after("Sat, 28 Nov 2026 10:30:00 GMT", T0) == timedelta(minutes=90)
    assert retry_after("Sat, 28 Nov 2026 08:00:00 GMT", T0) == timedelta(0)  # (past)
    assert retry_after("99999999", T0) == timedelta(days=1)
    for nothing in (None, "", "soon", "-5", "28 Nov 2026 10:30"):
        assert retry_after(nothing, T0) == timedelta(0), nothing
    assert retry_interval(1, asked=timedelta(hours=3)) == timedelta(hours=3)
    assert retry_interval(3, asked=timedelta(minutes=1)) == timedelta(minutes=40)


def test_a_site_that_asks_for_time_gets_it_for_all_its_articles(db: HistoryStore) -> None:
    """429 with Retry-After: this article, and every other watched one on its
    site, waits that long; other sites' do not."""
    from palimpsest.urls import normalize_url
    from palimpsest.watchlist import Watchlist

    watchlist = Watchlist(db)
    others = ["http://news.test/b", "http://www.news.test/c", "http://elsewhere.test/d"]
    for url in [URL, *others]:
        watchlist.add(url, now=T0)
    db.record(capture(0), ARTICLE, warc(0))  # (the article is known, then)
    db.record(rate_limited(URL, T0 + timedelta(minutes=5), retry_after="7200"), None, warc(1))
    due = {e["url"]: e["next_check_at"] for e in watchlist.entries()}
    later = (T0 + timedelta(minutes=5, hours=2)).isoformat()
    assert [due[normalize_url(u)] for u in (URL, *others)] == [
        later, later, later, T0.isoformat()]
    assert watchlist.entries(failing=True)[0]["failing"]["failures"] == 1


def test_a_site_asking_for_time_of_many_articles_at_once_loses_no_snapshot(
    db: HistoryStore,
) -> None:
    """Workers recording 429s of one site's articles at once: each pushes back
    its neighbours' checks, after its own snapshot is recorded (holding its
    article's lock while waiting for theirs, two would deadlock)."""
    from concurrent.futures import ThreadPoolExecutor

    from palimpsest.watchlist import Watchlist

    watchlist = Watchlist(db)
    urls = [f"http://news.test/story-{n}" for n in range(12)]
    for url in urls:
        watchlist.add(url, now=T0)

    def limited(n: int) -> None:
        taken = rate_limited(urls[n % len(urls)], T0 + timedelta(seconds=n), retry_after="3600")
        db.record(taken, None, warc(100 + n))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(limited, range(48)))
    assert db.snapshot_count() == 48
    assert all(e["next_check_at"] >= (T0 + timedelta(hours=1)).isoformat()
               for e in watchlist.entries())


def test_a_server_that_cannot_answer_is_a_failed_check_until_it_can(
    db: HistoryStore, settings: Settings,
) -> None:
    from palimpsest.notify import notify
    from palimpsest.watchlist import Watchlist

    from .test_notify import hook

    Watchlist(db).add(URL, now=T0)
    db.record(capture(0), ARTICLE, warc(1))
    with hook() as (webhook, received):
        for n in (1, 2, 3, 4):
            result = db.record(capture(10 * n, status=503), None, warc(1 + n))
            assert result.outcome == "unavailable"
            notify(result, db, webhook=webhook)
        (entry,) = Watchlist(db).entries(failing=True)
    assert entry["failing"] == {"failures": 4, "since": (T0 + timedelta(minutes=10)).isoformat(),
                                "error": "the server answered HTTP 503"}
    # backed off as a failed capture is: 10 minutes, twice as long each time
    assert entry["next_check_at"] == (T0 + timedelta(minutes=40 + 80)).isoformat()
    assert [m["kind"] for m in received] == ["capture_failing"]  # (once, at the third)
    db.record(capture(50), ARTICLE, warc(9))
    assert Watchlist(db).entries(failing=True) == []


def test_failures_noted_at_once_are_all_counted(db: HistoryStore) -> None:
    """Two sweeps (or a sweep and a snapshot of a server that could not
    answer) noting a failure of one article at the same moment: each is
    counted, none is lost to the other's write."""
    from concurrent.futures import ThreadPoolExecutor

    from palimpsest.watchlist import Watchlist

    watchlist = Watchlist(db)
    watchlist.add(URL, now=T0)

    def fail(n: int) -> None:
        if n % 2:
            watchlist.failed(URL, f"NetworkError: try {n}", now=T0)
        else:
            db.record(capture(n, status=503), None, warc(n))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fail, range(40)))
    (entry,) = watchlist.entries(failing=True)
    assert entry["failing"]["failures"] == 40


def test_a_story_gone_is_said_once_when_two_snapshots_find_it_gone(db: HistoryStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from palimpsest.schema import events

    db.record(capture(0), ARTICLE, warc(0))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: db.record(capture(n, status=404), None, warc(n)), range(1, 17)))
    assert count(db, events) == 1
    assert [e["kind"] for e in db.history(URL)["events"]] == ["unpublished"]


@pytest.mark.parametrize(("kind", "detail", "said"), [
    ("unpublished", {"http_status": 410}, "unpublished: HTTP 410"),
    ("unpublished", {"http_status": 200, "notice": "Page not found"},
     "unpublished: the page says “Page not found” (HTTP 200)"),
    ("republished", {"http_status": 200}, "back online: HTTP 200"),
    ("moved", {"from": "https://a.example/x", "to": "https://a.example/y"},
     "moved: from https://a.example/x to https://a.example/y"),
    ("redirected", {"to": "https://a.example/"}, "now redirects elsewhere: to https://a.example/"),
    ("wall", {"headline": "Subscribe to read"},
     "behind a wall: the page shows “Subscribe to read”"),
    ("wall", {"http_status": 403}, "behind a wall: HTTP 403"),
    ("ab_test", {"versions": [2, 3], "headlines": ["A", "B"]},
     "headline A/B test: v2 and v3 alternate: “A” / “B”"),
    ("wall", {"http_status": 451, "reason": "legal"}, "behind a wall: HTTP 451; reason: legal"),
])
def test_each_event_is_said_in_words(kind: str, detail: dict[str, Any], said: str) -> None:
    assert describe(kind, detail) == said
