from __future__ import annotations

from pathlib import Path

import pytest

from palimpsest.demo_site import ARTICLES, render_article
from palimpsest.errors import ExtractError
from palimpsest.extract import extract

DATA = Path(__file__).parent / "data"


def test_drupal_news_page_without_structured_data() -> None:
    article = extract((DATA / "intl-news-drupal-no-structured-data.html").read_bytes())
    assert article.headline == "Coastal states sign fisheries pact after decade of talks"
    assert article.authors == ()  # the byline names only the site
    assert article.published == "2025-04-14T09:12:00"
    assert article.tags == ("Fisheries", "Environment")
    assert article.body == (
        "Five coastal states signed a fisheries agreement on Monday that sets joint quotas "
        "for sardine and tuna, ending a decade of negotiations.",
        "\"This pact protects the livelihoods of forty thousand fishing families,\" the chief "
        "negotiator told reporters at the signing ceremony.",
        "## Quotas and inspections",
        "Under the deal, catches will be cut by 12 percent over three years, and inspectors "
        "from each signatory will be allowed to board vessels in shared waters.",
        "Environmental groups welcomed the agreement but said enforcement would decide "
        "whether it works.",
    )


def test_german_page_with_json_ld_graph_and_two_authors() -> None:
    article = extract((DATA / "german-jsonld-graph-two-authors.html").read_text())
    assert article.headline == "Bahn kündigt Ausbau der Nachtzüge an"
    assert article.authors == ("Katrin Müller", "Özlem Yıldız")
    assert article.published == "2026-03-02T07:30:00+01:00"
    assert article.modified == "2026-03-02T10:05:00+01:00"
    assert article.section == "Wirtschaft"
    assert article.tags == ("Verkehr", "Bahn", "Klima")
    assert article.language == "de-DE"
    assert article.lead_image == "https://www.tagesblatt.example/img/zug.jpg"
    assert article.body[0].startswith("Die Bahn will bis 2028")
    assert "## Kritik an Preisen" in article.body
    assert not any("Teilen" in p or "Mehr zum Thema" in p or "Von Katrin" in p
                   for p in article.body)


@pytest.mark.parametrize("demo", ARTICLES, ids=lambda a: a.slug)
def test_demo_pages_give_exactly_the_article(demo: object) -> None:
    article = extract(render_article(demo, "http://news.test", views=5))  # type: ignore[arg-type]
    assert article.headline == demo.headline  # type: ignore[attr-defined]
    assert article.authors == demo.authors  # type: ignore[attr-defined]
    assert article.tags == demo.tags  # type: ignore[attr-defined]
    assert article.body == demo.body  # type: ignore[attr-defined]
    assert article.published == demo.published  # type: ignore[attr-defined]


def test_noise_changes_nothing() -> None:
    demo = ARTICLES[0]
    first = extract(render_article(demo, "http://news.test", views=5))
    second = extract(render_article(demo, "http://news.test", views=9000))
    assert first == second


@pytest.mark.parametrize("html", ["", "   ", b""])
def test_empty_page_is_an_error(html: str | bytes) -> None:
    with pytest.raises(ExtractError):
        extract(html)


def test_text_with_an_xml_declaration_is_parsed() -> None:
    html = ('<?xml version="1.0" encoding="utf-8"?><html><head><title>T</title></head><body>'
            '<h1>Zürich votes</h1><div class="field--name-body"><p>Voters in Zürich said yes.</p>'
            "</div></body></html>")
    article = extract(html)
    assert article.headline == "Zürich votes" and article.body == ("Voters in Zürich said yes.",)


def test_paywall_page_is_recognised_as_a_wall() -> None:
    demo = ARTICLES[0]
    from dataclasses import replace

    walled = extract(render_article(replace(demo, wall=True), "http://news.test", views=1))
    assert walled.wall
    assert not extract(render_article(demo, "http://news.test", views=1)).wall
