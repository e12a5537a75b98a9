"""Words searched across every version of every article, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from palimpsest.history import HistoryStore
from palimpsest.models import Article, Capture, StoredWarc
from palimpsest.search import phrase_pattern, search_versions

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
BRONZES = Article(headline="Museum to return looted bronzes", body=(
    "The museum will return 32 bronzes to Benin City, its director said.",
    "“We don’t expect objections,” a spokesperson in Zürich added.",
))


def record(db: HistoryStore, url: str, article: Article, minutes: int) -> None:
    capture = Capture(url=url, final_url=url, status=200, exchanges=(), dom="",
                      fetched_at=T0 + timedelta(minutes=minutes))
    db.record(capture, article, StoredWarc(key=f"{url}/{minutes}.warc.gz", size=1,
                                           sha256="0" * 64, records={}))


@pytest.fixture(name="archive")
def archive_fixture(db: HistoryStore) -> HistoryStore:
    return archive(db)


def archive(db: HistoryStore) -> HistoryStore:
    """Two sites' stories; one corrects "32 bronzes" to "36", then rewrites its headline."""
    story, other = "https://news.example/bronzes", "https://other.example/bronzes"
    record(db, story, BRONZES, 0)
    corrected = replace(BRONZES, body=(BRONZES.body[0].replace("32", "36"), BRONZES.body[1]))
    record(db, story, corrected, 10)
    record(db, story, replace(corrected, headline="Museum agrees to return 36 bronzes"), 20)
    record(db, other, replace(BRONZES, headline="Bronzes go home"), 5)
    return db


def test_text_a_later_version_took_out_is_found_with_when_it_went(archive: HistoryStore) -> None:
    # newest first by when each was last seen saying it: the other site still does
    (also, hit) = search_versions(archive.engine, "return   32 BRONZES")
    assert (hit["url"], hit["versions"], hit["removed_in"], hit["latest_version"]) == (
        "https://news.example/bronzes", [1], 2, 3)
    assert hit["first_seen"] == T0.isoformat()
    assert hit["removed_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert hit["headline"] == "Museum agrees to return 36 bronzes" and hit["fields"] == ["body"]
    assert hit["excerpt"] == BRONZES.body[0]
    assert also["url"] == "https://other.example/bronzes" and also["removed_in"] is None
    assert [h["url"] for h in search_versions(archive.engine, "32 bronzes", removed=True)] == [
        "https://news.example/bronzes"]
    assert search_versions(archive.engine, "32 bronzes", site="other.example")[0] == also
    # seen saying it from then on: the other site until 09:05, this story until 09:00
    assert search_versions(archive.engine, "32 bronzes", since=T0 + timedelta(minutes=3)) == [
        also]
    assert search_versions(archive.engine, "32 bronzes", since=T0 + timedelta(minutes=6)) == []


def test_text_still_there_is_found_in_every_version_that_has_it(archive: HistoryStore) -> None:
    (hit,) = search_versions(archive.engine, "36 bronzes")
    assert hit["versions"] == [2, 3] and hit["removed_in"] is None
    assert hit["fields"] == ["headline", "body"]
    assert search_versions(archive.engine, "36 bronzes", removed=True) == []
    # in the headline alone: from version 3 on
    (headline,) = search_versions(archive.engine, "36 bronzes", within=("headline",))
    assert headline["versions"] == [3] and headline["fields"] == ["headline"]
    assert headline["excerpt"] == "Museum agrees to return 36 bronzes"


def test_quotation_marks_and_letters_beyond_ascii_match_as_read(archive: HistoryStore) -> None:
    typed = '"We don\'t expect objections," a spokesperson in zürich'
    found = search_versions(archive.engine, typed)
    assert len(found) == 2 and found[0]["excerpt"].startswith("“We don’t")
    assert search_versions(archive.engine, "Zürich")[0]["fields"] == ["body"]
    # the stored JSON's own names and punctuation are not text of the story
    assert search_versions(archive.engine, "headline") == []
    assert search_versions(archive.engine, '", "') == []


def test_the_search_command_lists_what_was_said_and_taken_out(history: HistoryStore) -> None:
    import csv
    import io

    from click.testing import CliRunner

    from palimpsest.cli import main

    archive(history)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["search", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert run("32 bronzes", "--removed").splitlines() == [
        "https://news.example/bronzes",
        f"  in v1; taken out in v2 (2026-11-28 09:10): {BRONZES.body[0]}"]
    assert run("32 bronzes", "--field", "headline") == ""
    rows = list(csv.DictReader(io.StringIO(run("32 bronzes", "--format", "csv"))))
    assert [(r["url"], r["versions"], r["removed_in"]) for r in rows] == [
        ("https://other.example/bronzes", "1", ""), ("https://news.example/bronzes", "1", "2")]
    assert run("nowhere said") == ""
    refused = CliRunner().invoke(main, ["search", " "])
    assert refused.exit_code == 2 and "nothing to search for" in refused.output


def test_an_excerpt_is_cut_around_the_match() -> None:
    from palimpsest.search import CONTEXT, excerpt

    text = "a " * 200 + "the needle" + " b" * 200
    cut = excerpt({"body": ["no match here", text]}, phrase_pattern("NEEDLE"))
    assert cut.startswith("…") and cut.endswith("…") and "the needle" in cut
    assert len(cut) <= 2 * CONTEXT + len("needle") + 2
    with pytest.raises(ValueError):
        phrase_pattern("   ")
