"""Edit scenarios served by the demo site, captured in Chromium and read back
through `palimpsest history --json`: each gives exactly the expected history."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from palimpsest.capture import Browser
from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.extract import EXTRACTOR_VERSION
from palimpsest.history import HistoryStore
from palimpsest.pipeline import snapshot
from palimpsest.site_rules import SiteRules
from palimpsest.storage import open_store
from palimpsest.web import create_app

pytestmark = pytest.mark.browser
SLUG = "harbour-bridge-reopens"
Step = Callable[[NewsSite], None]


@pytest.fixture
def track(site: NewsSite, settings: Settings, browser: Browser) -> Iterator[Callable[..., Any]]:
    history = HistoryStore(settings.db_url)
    store = open_store(settings.storage_url)

    def run(*steps: Step, url: str | None = None) -> tuple[list[str], dict[str, Any]]:
        """Snapshot, then apply each step and snapshot again; return outcomes and history."""
        target = url or site.url(SLUG)
        outcomes = [snapshot(target, settings=settings, browser=browser, store=store,
                             history=history).outcome]
        for step in steps:
            step(site)
            outcomes.append(snapshot(target, settings=settings, browser=browser, store=store,
                                     history=history).outcome)
        result = CliRunner().invoke(main, ["history", "--json", target])
        assert result.exit_code == 0, result.output
        return outcomes, json.loads(result.output)

    yield run
    history.close()


def edit(**changes: Any) -> Step:
    return lambda site: site.edit(SLUG, **changes) and None


def body(change: Callable[[list[str]], list[str]]) -> Step:
    def step(site: NewsSite) -> None:
        site.edit(SLUG, body=tuple(change(list(site.articles[SLUG].body))))
    return step


def nothing(site: NewsSite) -> None:
    """The site changes only its noise: ticker, Most Read, ads, CSRF token, counters."""


def kinds(history: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in history["events"]]


def only_edit(history: dict[str, Any]) -> dict[str, Any]:
    assert len(history["edits"]) == 1, history["edits"]
    return history["edits"][0]  # type: ignore[no-any-return]


def test_noise_only_changes_record_nothing(track: Callable[..., Any]) -> None:
    outcomes, history = track(nothing, nothing)
    assert outcomes == ["new", "unchanged", "unchanged"]
    assert len(history["versions"]) == 1 and history["edits"] == [] and history["events"] == []


def test_headline_rewrite(track: Callable[..., Any]) -> None:
    outcomes, history = track(edit(headline="Harbour bridge reopens €40m over budget"))
    assert outcomes == ["new", "changed"]
    change = only_edit(history)
    assert change["changed_fields"] == ["headline"]
    assert change["fields"]["headline"]["new"] == "Harbour bridge reopens €40m over budget"
    assert change["flags"] == ["stealth_edit"]  # no modified-date bump, no correction


def test_paragraph_inserted_deleted_and_moved(track: Callable[..., Any]) -> None:
    added = "A second ferry will run during evening peaks."
    outcomes, history = track(
        body(lambda b: [*b[:2], added, *b[2:]]),
        body(lambda b: [p for p in b if not p.startswith("Shopkeepers")]),
        body(lambda b: [b[-1], *b[:-1]]),
    )
    assert outcomes == ["new", "changed", "changed", "changed"]
    inserted, deleted, moved = ([op["op"] for op in e["body"]] for e in history["edits"])
    assert (inserted, deleted, moved) == (["insert"], ["delete"], ["move"])
    assert history["edits"][0]["body"][0] == {"op": "insert", "new_index": 2, "text": added}
    assert history["edits"][1]["body"][0]["text"].startswith("Shopkeepers")
    assert history["edits"][2]["body"][0]["old_index"] == 5
    assert history["edits"][2]["body"][0]["new_index"] == 0


def test_one_number_changed_inside_a_paragraph(track: Callable[..., Any]) -> None:
    outcomes, history = track(body(lambda b: [p.replace("310 million", "318 million")
                                              for p in b]))
    (op,) = only_edit(history)["body"]
    assert op["op"] == "modify" and op["old_index"] == op["new_index"] == 1
    assert [w for w in op["words"] if w[0] != "="] == [["-", "310"], ["+", "318"]]
    assert [s["op"] for s in op["sentences"]] == ["modify"]
    assert (only_edit(history)["words_added"], only_edit(history)["words_removed"]) == (1, 1)


def test_byline_change(track: Callable[..., Any]) -> None:
    _, history = track(edit(authors=("Amira Haddad", "Tom Becker")))
    change = only_edit(history)
    assert change["changed_fields"] == ["authors"]
    assert change["fields"]["authors"] == {"old": ["Amira Haddad"],
                                           "new": ["Amira Haddad", "Tom Becker"]}


def test_tags_added(track: Callable[..., Any]) -> None:
    _, history = track(edit(tags=("Infrastructure", "Transport", "City Council")))
    assert only_edit(history)["changed_fields"] == ["tags"]


def test_correction_appended(track: Callable[..., Any]) -> None:
    notice = "Correction: An earlier version of this article misstated the cost of the repair."
    _, history = track(edit(corrections=(notice,), modified="2026-11-27T12:00:00+00:00"))
    change = only_edit(history)
    assert change["changed_fields"] == ["modified", "corrections"]
    assert change["flags"] == ["correction_appended"]
    assert notice not in history["versions"][1]["fields"]["body"]
    assert history["versions"][1]["fields"]["corrections"] == [notice]


def test_date_only_change(track: Callable[..., Any]) -> None:
    _, history = track(edit(modified="2026-11-28T07:00:00+00:00"))
    assert only_edit(history)["flags"] == ["date_only"]


def test_moved_to_a_new_slug_keeps_one_history(
    track: Callable[..., Any], site: NewsSite,
) -> None:
    outcomes, history = track(lambda s: s.move(SLUG, SLUG + "-two-years-on"))
    assert outcomes == ["new", "unchanged"]
    assert kinds(history) == ["moved"]
    assert history["events"][0]["to"] == site.url(SLUG + "-two-years-on")
    # The new URL answers with the same history.
    result = CliRunner().invoke(main, ["history", "--json", site.url(SLUG + "-two-years-on")])
    assert json.loads(result.output)["article_id"] == history["article_id"]


def test_gone_with_410(track: Callable[..., Any]) -> None:
    outcomes, history = track(edit(status=410))
    assert outcomes == ["new", "unpublished"]
    assert history["status"] == "gone" and kinds(history) == ["unpublished"]
    assert history["events"][0]["http_status"] == 410 and history["edits"] == []


def test_a_page_not_found_served_with_200_is_unpublished_not_an_edit(
    track: Callable[..., Any],
) -> None:
    """A soft 404 (a "page not found" page with status 200, in the site's own
    frame) is the story gone, not a rewrite; the story back is republished."""
    outcomes, history = track(edit(not_found=True), edit(not_found=True),
                              edit(not_found=False))
    assert outcomes == ["new", "unpublished", "unpublished", "unchanged"]
    assert kinds(history) == ["unpublished", "republished"]
    gone = history["events"][0]
    assert gone["http_status"] == 200 and gone["notice"] == "Sorry, we couldn't find that page"
    assert len(history["versions"]) == 1 and history["edits"] == []


def test_a_page_not_found_recorded_as_an_edit_is_mended_by_reextract(
    track: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Snapshots recorded before soft 404s were told apart (the "page not
    found" taken for a rewrite of the story) become the story unpublished
    when re-extracted from their WARCs."""
    with monkeypatch.context() as older:  # (an extractor that took it for the story)
        older.setattr("palimpsest.extract._gone", lambda *_: "")
        outcomes, history = track(edit(not_found=True))
    assert outcomes == ["new", "changed"] and len(history["edits"]) == 1
    result = CliRunner().invoke(main, ["reextract", "--url", history["url"], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rebuilt"][0]["outcomes"] == ["new", "unpublished"]
    rebuilt = json.loads(CliRunner().invoke(main, ["history", "--json", history["url"]]).output)
    assert kinds(rebuilt) == ["unpublished"] and rebuilt["edits"] == []
    assert len(rebuilt["versions"]) == 1 and rebuilt["status"] == "gone"


def test_what_the_extractor_learned_since_the_last_version_is_no_edit(
    track: Callable[..., Any], site: NewsSite, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Upgraded, the extractor reads a byline it missed before: the article's
    snapshots are read again by it before the next one is compared with its
    versions, so the newsroom is not said to have added the byline."""
    with monkeypatch.context() as older:  # (an extractor that found no author)
        older.setattr("palimpsest.extract._authors", lambda *_: ())
        older.setattr("palimpsest.extract.EXTRACTOR_VERSION", "0")
        _, before = track()
    assert before["versions"][0]["fields"]["authors"] == []
    outcomes, history = track()
    assert outcomes == ["unchanged"] and history["edits"] == []
    (version,) = history["versions"]
    assert version["fields"]["authors"] == list(site.articles[SLUG].authors)
    assert version["extractor_version"] == EXTRACTOR_VERSION


def test_a_rule_written_for_the_site_since_the_last_version_is_no_edit(
    track: Callable[..., Any], site: NewsSite, settings: Settings, browser: Browser,
    tmp_path: Path,
) -> None:
    """A rule for the site (its dek taken for the headline) reads the
    article's snapshots again before the next is compared: the rule is no
    rewrite of the headline; and another rule, later, reads them again."""
    track()
    store, rules = open_store(settings.storage_url), tmp_path / "rules.json"
    with HistoryStore(settings.db_url) as history:
        for headline, shown in ((".article-summary", site.articles[SLUG].dek),
                                ("h1", site.articles[SLUG].headline)):
            rules.write_text(json.dumps({"127.0.0.1": {"headline": headline}}))
            ruled = settings.with_(site_rules=SiteRules.load(rules))
            taken = snapshot(site.url(SLUG), settings=ruled, browser=browser, store=store,
                             history=history)
            assert taken.outcome == "unchanged"
            (version,) = history.history(site.url(SLUG))["versions"]
            assert version["fields"]["headline"] == shown
            assert version["extractor_version"].startswith(f"{EXTRACTOR_VERSION}+rule.")


def test_site_rules_apply_to_stored_snapshots_on_reextract(
    track: Callable[..., Any], site: NewsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rule written for a site (here: its dek taken for the headline) reaches
    what is already archived through re-extraction, in its worker processes."""
    _, history = track(nothing)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"127.0.0.1": {"headline": ".article-summary"}}))
    monkeypatch.setenv("PALIMPSEST_SITE_RULES", str(rules))
    result = CliRunner().invoke(main, ["reextract", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rebuilt"][0]["outcomes"] == ["new", "unchanged"]
    rebuilt = json.loads(CliRunner().invoke(main, ["history", "--json", history["url"]]).output)
    assert rebuilt["versions"][0]["fields"]["headline"] == site.articles[SLUG].dek


def test_headline_ab_test_is_one_event_not_a_stream_of_edits(track: Callable[..., Any]) -> None:
    a = "Harbour bridge reopens after two-year repair"
    b = "Drivers return as harbour bridge finally reopens"
    outcomes, history = track(edit(headline=b), edit(headline=a), edit(headline=b),
                              edit(headline=a))
    assert outcomes == ["new", "changed", "ab-flip", "ab-flip", "ab-flip"]
    assert len(history["versions"]) == 2 and len(history["edits"]) == 1
    assert kinds(history) == ["ab_test"]
    assert sorted(history["events"][0]["headlines"]) == sorted([a, b])


def test_revert_to_an_earlier_text(track: Callable[..., Any], site: NewsSite) -> None:
    original = site.articles[SLUG].body
    outcomes, history = track(body(lambda b: b[:-1]), lambda s: s.edit(SLUG, body=original))
    assert outcomes == ["new", "changed", "revert"]
    assert history["versions"][2]["reverts_to"] == 1
    assert history["versions"][2]["fields"] == history["versions"][0]["fields"]
    assert "revert" in history["edits"][1]["flags"]


def test_paywall_is_an_event_never_an_edit(track: Callable[..., Any]) -> None:
    outcomes, history = track(edit(wall=True), edit(wall=True), edit(wall=False))
    assert outcomes == ["new", "wall", "wall", "unchanged"]
    assert kinds(history) == ["wall"] and history["edits"] == []


def test_amp_edition_joins_the_canonical_history(
    track: Callable[..., Any], site: NewsSite,
) -> None:
    _, first = track()
    outcomes, history = track(url=f"{site.base_url}/amp/{SLUG}")
    assert outcomes == ["unchanged"] and history["article_id"] == first["article_id"]
    assert f"{site.base_url}/amp/{SLUG}" in history["aliases"]


def test_tracking_parameters_join_the_same_history(
    track: Callable[..., Any], site: NewsSite,
) -> None:
    track()
    outcomes, history = track(url=site.url(SLUG) + "?utm_source=twitter&fbclid=abc")
    assert outcomes == ["unchanged"] and len(history["versions"]) == 1


def test_diff_and_as_of_views(track: Callable[..., Any], site: NewsSite,
                              settings: Settings) -> None:
    _, history = track(body(lambda b: [p.replace("310 million", "318 million") for p in b]),
                       edit(headline="Harbour bridge reopens after two years"))
    url = site.url(SLUG)
    shown = CliRunner().invoke(main, ["history", url, "--diff", "2"]).output
    assert "[-310-] {+318+}" in shown and shown.startswith("v1 → v2")
    assert "headline" not in shown
    since_first = CliRunner().invoke(main, ["history", url, "--diff", "1..3"]).output
    assert since_first.startswith("v1 → v3") and "[-310-] {+318+}" in since_first
    assert "[-two-year repair-] {+two years+}" in since_first
    backwards = json.loads(CliRunner().invoke(main, ["history", url, "--diff", "3..2",
                                                     "--json"]).output)
    assert (backwards["from_version"], backwards["changed_fields"]) == (3, ["headline"])
    for asked, told in (("2..2", "versions 2 and 2 are the same"),
                        ("1..7", "has versions 1 to 3, not 1 and 7"), ("1-3", "is not a")):
        refused = CliRunner().invoke(main, ["history", url, "--diff", asked])
        assert refused.exit_code != 0 and told in refused.output, refused.output
    # the article's page asks which two to compare (first and last, unless told)
    with TestClient(create_app(settings)) as client:
        aid = history["article_id"]
        page = client.get(f"/articles/{aid}").text
        start = page.index('<form class="compare"')
        form = page[start:page.index("</form>", start)]
        assert f'action="/articles/{aid}/diff"' in form
        assert '<option value="1" selected>v1</option>' in form.split("with")[0]
        assert '<option value="3" selected>v3</option>' in form.split("with")[1]
        shown = client.get(f"/articles/{aid}/diff", params={"from_version": 1, "to_version": 3})
        assert shown.status_code == 200 and "two years" in shown.text and "318" in shown.text
    first_seen = history["versions"][0]["captured_at"]
    as_of = CliRunner().invoke(main, ["history", url, "--json", "--as-of", first_seen[:26]])
    data = json.loads(as_of.output)
    assert data["version"]["version"] == 1
    assert "310 million" in " ".join(data["version"]["fields"]["body"])
    missing = CliRunner().invoke(main, ["history", url, "--diff", "9"])
    assert missing.exit_code == 1 and "has no edit" in missing.output
    early = CliRunner().invoke(main, ["history", url, "--as-of", "2001-01-01"])
    assert early.exit_code == 1 and "had not been captured" in early.output
