from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from palimpsest.config import Settings
from palimpsest.demo_site import ARTICLES, render_article
from palimpsest.errors import ConfigError, ExtractError
from palimpsest.extract import extract
from palimpsest.site_rules import SiteRules

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


def test_text_in_a_web_component_s_shadow_root_is_part_of_the_article() -> None:
    # As the DOM record keeps a shadow root: a declarative template, which
    # the browser shows in place of the element's light children.
    lead = "The council voted on Tuesday to keep the night trains running."
    shadowed = ("The decision came after a petition signed by twelve thousand riders.",
                "Operators said the timetable would not change before spring.")
    shadow = "".join(f"<p>{p}</p>" for p in shadowed)
    html = (f"<!doctype html><html><head><title>Night trains stay</title></head><body>"
            f"<h1>Night trains stay</h1><div class=\"field--name-body\"><p>{lead}</p>"
            f"<news-story><template shadowrootmode=\"closed\">{shadow}</template></news-story>"
            f"</div></body></html>")
    assert extract(html).body == (lead, *shadowed)


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


SITE = ('<header><a href="/">Riverside Gazette</a><nav><a href="/news">News</a></nav></header>'
        '<aside><h2>Most Read</h2><ol><li><a href="/a">Council approves new budget</a></li>'
        '<li><a href="/b">High school team wins the state final</a></li></ol></aside>')


@pytest.mark.parametrize(("head", "main", "notice"), [
    # WordPress's own theme: a soft 404, its apostrophe curly
    ("<title>Page not found &#8211; Riverside Gazette</title>",
     '<h1 class="page-title">Oops! That page can&rsquo;t be found.</h1><p>It looks like '
     "nothing was found at this location. Maybe try a search?</p>",
     "Oops! That page can’t be found."),
    ("<title>Riverside Gazette</title>",
     "<h1>Sorry, we're unable to bring you the page you're looking for.</h1>"
     "<p>Try checking the web address for errors.</p>",
     "Sorry, we're unable to bring you the page you're looking for."),
    ("<title>Error 404 | Riverside Gazette</title>", "<h1>Nothing here</h1><p>Go home.</p>",
     "Error 404 | Riverside Gazette"),
    ("<title>Seite nicht gefunden | Tagesblatt</title>",
     "<h1>Diese Seite existiert leider nicht mehr</h1><p>Zur Startseite.</p>",
     "Seite nicht gefunden | Tagesblatt"),
    # A takedown notice in the article's own frame, its headline kept
    ('<title>Council leader resigns | Riverside Gazette</title>'
     '<meta property="og:type" content="article">',
     '<article><h1>Council leader resigns</h1><div class="article-body"><p>This article has '
     "been removed for legal reasons.</p></div></article>",
     "This article has been removed for legal reasons."),
])
def test_a_page_that_says_the_story_is_not_there_is_gone(
    head: str, main: str, notice: str,
) -> None:
    """A "page not found" served with 200 (a soft 404), or a takedown notice:
    the page's own words are kept as the notice."""
    assert notice in extract(_page(head, f"{SITE}<main>{main}</main>")).gone


def test_a_story_that_speaks_of_things_not_found_is_not_gone() -> None:
    brief = _page("<title>Missing hiker not found after three-day search | Riverside Gazette"
                  "</title>", f"{SITE}<main><article><h1>Missing hiker not found after "
                  "three-day search</h1><p>Rescuers said the page of the logbook they were "
                  "looking for was found, but the hiker was not.</p></article></main>")
    assert extract(brief).gone == ""
    quoting = _page("<title>Platform pulls minister's video | Riverside Gazette</title>",
                    f"{SITE}<main><article><h1>Platform pulls minister's video</h1><p>Viewers "
                    "who followed the link on Tuesday found a short message instead: this "
                    "post has been removed for violating the platform's rules on medical "
                    "claims, a spokesperson confirmed later that evening.</p></article></main>")
    assert extract(quoting).gone == ""
    assert extract(render_article(ARTICLES[0], "http://news.test", views=1)).gone == ""


def _page(head: str, body: str, *, lang: str = "en") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
            f"<body>{body}</body></html>")


PARAGRAPHS = "".join(
    f"<p>Paragraph {n} of the report describes, in plain words and at some length, what the "
    f"council decided on Tuesday and why the harbour district will feel it first.</p>"
    for n in range(1, 7))


def test_headline_without_kicker_or_site_name() -> None:
    html = _page(
        '<title>Interne Unterlagen im Netz: Daten von Rheinmetall gehackt | tagesschau.de</title>'
        '<meta property="og:title" content="Daten von Rheinmetall gehackt - Interne Unterlagen">'
        '<meta property="og:site_name" content="tagesschau.de">',
        '<h1><span class="dachzeile">Interne Unterlagen im Netz</span>'
        '<span class="headline">Daten von Rheinmetall gehackt</span></h1>'
        f"<article>{PARAGRAPHS}</article>", lang="de")
    assert extract(html, url="https://www.tagesschau.de/x.html").headline == \
        "Daten von Rheinmetall gehackt"


def test_headline_without_the_separator_after_its_kicker() -> None:
    html = _page('<meta property="og:title" content="Wie Firmen ihre Leute schützen">',
                 '<h1 itemprop="headline"><span class="ts-overline">Fieberkontrollen </span>'
                 '<span class="ts-colon">: </span><span>Wie Firmen ihre Leute schützen</span></h1>'
                 f"<article>{PARAGRAPHS}</article>", lang="de")
    assert extract(html).headline == "Wie Firmen ihre Leute schützen"


def test_marked_headline_wins_over_an_seo_title() -> None:
    html = _page(
        '<meta property="og:title" content="Brexit: Nervenkrieg geht in nächste Runde">'
        '<meta property="og:site_name" content="Neue Zürcher Zeitung">',
        '<h1 class="title" itemprop="headline">Der Nervenkrieg um den Brexit geht in die '
        f"nächste Runde</h1><article>{PARAGRAPHS}</article>", lang="de")
    assert extract(html).headline == "Der Nervenkrieg um den Brexit geht in die nächste Runde"


def test_site_suffix_is_cut_when_there_is_no_h1() -> None:
    html = _page('<meta property="og:title" content="A Paris-8, beaucoup d\'actions - Bondy Blog">'
                 '<meta property="og:site_name" content="Bondy Blog">',
                 f"<article>{PARAGRAPHS}</article>", lang="fr")
    assert extract(html).headline == "A Paris-8, beaucoup d'actions"


def test_byline_of_several_authors_without_structured_data() -> None:
    html = _page(
        "<title>Council votes</title>",
        '<h1>Council votes to close the harbour road</h1>'
        '<div class="byline">By <a rel="author" href="/a/1">Maria Lopez</a> and '
        '<a rel="author" href="/a/2">Tom Becker</a> | 12 March 2024, 10:14</div>'
        f"<article>{PARAGRAPHS}</article>"
        '<aside><div class="byline">By Someone Else</div></aside>')
    assert extract(html).authors == ("Maria Lopez", "Tom Becker")


def test_utc_time_near_midnight_is_the_day_the_page_shows() -> None:
    html = _page(
        '<meta property="article:published_time" content="2020-02-25T02:25:54+00:00">',
        '<h1>Late night story in New York</h1><p class="date">February 24, 2020 9:25pm</p>'
        f"<article>{PARAGRAPHS}</article>")
    url = "https://pagesix.example/2020/02/24/late-night-story/"  # the site's own day
    assert extract(html, url=url).published == "2020-02-24"
    # at midday UTC there is no doubt about the day: the declared time stands
    noon = html.replace("T02:25:54", "T12:25:54")
    assert extract(noon, url=url).published == "2020-02-25T12:25:54+00:00"


def test_declared_date_the_page_shows_wins() -> None:
    # JSON-LD says the 3rd, article:published_time and the page the 6th
    html = _page(
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H",'
        ' "datePublished": "2023-11-03T10:25:56+00:00"}</script>'
        '<meta property="article:published_time" content="2023-11-06T14:25:00+00:00">',
        '<h1>Shown date</h1><time datetime="2023-11-06T15:25:00+01:00">6. November 2023</time>'
        f"<article>{PARAGRAPHS}</article>"
        '<section class="comments"><time datetime="2023-11-09T08:00:00+01:00">9.11.</time>'
        "</section>")
    assert extract(html).published == "2023-11-06T14:25:00+00:00"
    # a page dated by its update shows that one
    updated = html.replace("2023-11-06T14:25:00", "2023-11-03T10:25:56").replace(
        "</script>", '</script><meta property="article:modified_time"'
        ' content="2023-11-06T09:22:36+00:00">')
    assert extract(updated).published == "2023-11-06T09:22:36+00:00"
    # a shown date that is none of the declared ones changes nothing
    other = html.replace('datetime="2023-11-06T15:25:00+01:00"', 'datetime="2023-11-08"')
    assert extract(other).published == "2023-11-03T10:25:56+00:00"


def test_the_article_date_line_a_day_off_the_declared_time_wins() -> None:
    html = _page('<meta property="article:published_time" content="2019-12-09T19:00:49+01:00">',
                 '<h1>Evening essay</h1><div class="date-article">mardi 10.12.19</div>'
                 f"<article>{PARAGRAPHS}</article>", lang="fr")
    assert extract(html).published == "2019-12-10"
    # a date line far from the declared time is another date (a series, an event)
    far = html.replace("10.12.19", "24.12.19")
    assert extract(far).published == "2019-12-09T19:00:49+01:00"


def test_utc_time_is_the_local_time_of_a_one_zone_country() -> None:
    html = _page('<meta property="article:published_time" content="2022-05-04T02:41:00Z">',
                 f"<h1>Late in La Paz</h1><article>{PARAGRAPHS}</article>")
    assert extract(html, url="https://eldiario.example.bo/a/1").published == \
        "2022-05-03T22:41:00-04:00"
    assert extract(html, url="https://news.example.com/a/1").published == \
        "2022-05-04T02:41:00+00:00"


def test_shown_time_wins_over_a_bare_meta_date() -> None:
    html = _page('<meta name="date" content="2020-04-30">',
                 '<h1>Rent strike</h1><time>29.04.2020, 12:01 Uhr</time>'
                 f'<article>{PARAGRAPHS}</article><span class="date">01. Mai 2020</span>',
                 lang="de")
    assert extract(html).published == "2020-04-29T12:01:00"


def test_a_shown_time_keeps_the_offset_its_zone_s_name_gives() -> None:
    def published(shown: str) -> str | None:
        return extract(_page("<title>T</title>", f"<h1>Storm season</h1><time>{shown}</time>"
                             f"<article>{PARAGRAPHS}</article>")).published

    assert published("October 27, 2023 8:00 AM EDT") == "2023-10-27T08:00:00-04:00"
    assert published("9 June 2020 14:32 BST") == "2020-06-09T14:32:00+01:00"
    with warnings.catch_warnings():  # (a name of several zones: no offset, and no warning)
        warnings.simplefilter("error")
        assert published("October 27, 2023 8:00 AM CST") == "2023-10-27T08:00:00"


def test_tags_from_a_tag_cloud_lose_their_counts() -> None:
    html = _page("<title>T</title>", "<h1>Primary season opens</h1>"
                 f"<article>{PARAGRAPHS}"
                 '<ul class="tags"><li><a href="/tag/2020-election">2020 Election (611 posts)'
                 '</a></li><li><a href="/tag/iowa">Iowa (92)</a></li></ul></article>')
    assert extract(html).tags == ("2020 Election", "Iowa")


def test_tags_listed_one_link_an_item_outside_the_article() -> None:
    # No "tags" class, no <article>: the list of tag links under the story is
    # told from the menu (in <nav>) and from single topic links in teasers.
    html = _page("<title>T</title>",
                 '<nav><ul><li><a href="/topic/politics">Politics</a></li>'
                 '<li><a href="/topic/sport">Sport</a></li></ul></nav>'
                 f'<h1>Salon bans men</h1><div class="story">{PARAGRAPHS}</div>'
                 '<div><ul><li><a href="/tag/lewdness/">#LEWDNESS</a></li>'
                 '<li><a href="/tag/caught-on-tape/"># CAUGHT ON TAPE</a></li></ul></div>'
                 '<aside><a href="/topic/weather">Weather</a></aside>')
    assert extract(html).tags == ("LEWDNESS", "CAUGHT ON TAPE")


def test_topic_links_in_the_story_s_sentences_are_not_its_tags() -> None:
    # (a drop cap outside the link: "T" + "urkey" once made a tag "urkey")
    html = _page("<title>T</title>", "<h1>Quarantine list grows</h1><article>"
                 '<p><span class="dropcap">T</span><a href="/topic/turkey">urkey</a> and'
                 ' <a href="/topic/poland">Poland</a> were added on Friday.</p>'
                 f'{PARAGRAPHS}<aside class="more"><a href="/topic/turkey">Turkey</a>'
                 '<a href="/topic/travel">Travel</a></aside></article>')
    assert extract(html).tags == ("Turkey", "Travel")


def test_a_cms_path_among_the_keywords_is_no_tag() -> None:
    html = _page('<script type="application/ld+json">{"@type": "NewsArticle",'
                 ' "headline": "Deal", "keywords": ["bill clinton", "/article"]}</script>',
                 f"<h1>Deal</h1><article>{PARAGRAPHS}</article>")
    assert extract(html).tags == ("bill clinton",)


def test_article_tags_over_seo_keywords() -> None:
    html = _page('<script type="application/ld+json">{"@type": "NewsArticle",'
                 ' "headline": "Hottest year", "keywords": "2023,Hottest"}</script>'
                 '<meta property="article:tag" content="Climate Change">'
                 '<meta property="article:tag" content="El Niño">',
                 f"<h1>Hottest year</h1><article>{PARAGRAPHS}</article>")
    assert extract(html).tags == ("Climate Change", "El Niño")


def test_placeholder_dates_are_no_dates() -> None:
    html = _page('<meta property="article:published_time" content="0001-01-01T00:00:00Z">',
                 f"<h1>Undated story</h1><article>{PARAGRAPHS}</article>")
    assert extract(html).published is None


def test_teasers_and_promotions_after_the_body_are_dropped() -> None:
    html = _page(
        "<title>Harbour closes | Daily Planet</title>",
        f"<main><h1>Harbour closes</h1><article>{PARAGRAPHS}"
        "<p>Sign up for our newsletter to get the latest in your inbox.</p>"
        "<p>Photos: The harbour through the years</p>"
        "<p>Five ferries that changed the city</p></article></main>")
    body = extract(html).body
    assert body[0].startswith("Paragraph 1 of the report") and len(body) == 6


def test_the_meta_author_list_naming_more_of_the_same_byline_wins() -> None:
    # JSON-LD names the first author; the meta's list names her and another
    html = _page('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Q",'
                 ' "author": {"@type": "Person", "name": "April Roach"}}</script>'
                 '<meta name="author" content="April Roach, Daniel O&#x27;Mahony">',
                 f"<h1>Q</h1><article>{PARAGRAPHS}</article>")
    assert extract(html).authors == ("April Roach", "Daniel O'Mahony")
    # a meta naming someone else (a site's default, a syndication) does not
    other = html.replace("April Roach, Daniel", "Desk Editor, Daniel")
    assert extract(other).authors == ("April Roach",)


def test_the_site_named_by_its_host_is_no_author() -> None:
    # The structured data credits the site (its name spelled out), the page's byline a person
    html = _page('<meta property="og:site_name" content="www.elcolombiano.com">'
                 '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Q",'
                 ' "author": {"@type": "Organization", "name": "El Colombiano"}}</script>',
                 '<h1>Q</h1><div class="autor"><h6>Jacobo Betancur Peláez | Publicado hace 3 '
                 f'horas</h6></div><article>{PARAGRAPHS}</article>', lang="es")
    assert extract(html).authors == ("Jacobo Betancur Peláez",)


def test_agency_credit_is_the_author_when_no_one_signs() -> None:
    html = _page("<title>Tumult at the lecture</title>",
                 "<h1>Tumult at the lecture</h1><article>"
                 "<p>Hamburg (dpa/lno) \u2013 Despite talks between the university and the "
                 "student council, the two sides remain far apart after the protests.</p>"
                 f"{PARAGRAPHS}</article>", lang="de")
    assert extract(html).authors == ("dpa/lno",)


def test_author_label_in_the_text() -> None:
    html = _page("<title>Terres fertiles</title>",
                 f"<h1>La perte des terres fertiles</h1><article>{PARAGRAPHS}</article>"
                 '<div class="longText"><p>Auteur : Kossivi Tiassou</p>'
                 "<p>Edition : M-A. Pioerron</p></div>", lang="fr")
    assert extract(html).authors == ("Kossivi Tiassou",)


RULED_PAGE = _page(
    "<title>Council approves budget | Riverside Gazette</title>",
    '<header><a href="/">Riverside Gazette</a></header><main><h1 class="kicker">City</h1>'
    '<h2 class="story-title">Council approves budget after all-night session</h2>'
    '<div class="story"><p class="credit">Words by Ana Lima and Tom Berg</p>'
    "<p>The council approved the city's budget at dawn on Friday after a twelve-hour "
    "session that ran through the night.</p>"
    '<div class="more"><p>More from the Gazette: the best bakeries in town, ranked by our '
    "readers after a month of tastings across every district of the city.</p></div>"
    "<p>Spending on parks rises by a tenth, while the road repair fund is cut by half, "
    "a change opposition members called short-sighted.</p></div></main>")


def _rules(folder: Path, rules: object) -> Path:
    (folder / "rules.json").write_text(json.dumps(rules))
    return folder / "rules.json"


def test_a_site_rule_picks_out_the_story_and_drops_what_is_not(tmp_path: Path) -> None:
    rules = SiteRules.load(_rules(tmp_path, {"gazette.example": {
        "drop": [".more"], "headline": "h2.story-title", "body": ".story > p:not(.credit)",
        "authors": ".credit"}}))
    generic = extract(RULED_PAGE, url="https://www.gazette.example/city/budget")
    assert (generic.headline, generic.authors) == ("City", ())  # (the kicker; no byline)
    assert any("bakeries" in p for p in generic.body)  # (the teaser box taken for the story)
    # The rule holds for the site's subdomains too, and only for its pages.
    for url in ("https://www.gazette.example/city/budget", "https://news.gazette.example/b"):
        ruled = extract(RULED_PAGE, url=url, rules=rules)
        assert ruled.headline == "Council approves budget after all-night session"
        assert ruled.authors == ("Ana Lima", "Tom Berg")
        assert len(ruled.body) == 2 and ruled.body[1].startswith("Spending on parks")
    assert extract(RULED_PAGE, url="https://other.example/b", rules=rules) == \
        extract(RULED_PAGE, url="https://other.example/b")
    # The site's "not found" page, long and worded as no other site's, by its rule.
    missing = RULED_PAGE.replace("<main>", '<main class="missing-story">')
    assert extract(missing, url="https://gazette.example/b").gone == ""
    assert extract(missing, url="https://gazette.example/b", rules=SiteRules.load(
        _rules(tmp_path, {"gazette.example": {"gone": "main.missing-story"}}))).gone
    # A page the selectors no longer match (a redesign) is read as any page is.
    redesigned = RULED_PAGE.replace('class="story-title"', "").replace('class="story"', "")
    assert extract(redesigned, url="https://gazette.example/b", rules=rules).body


@pytest.mark.parametrize(("content", "said"), [
    ("{not json", "cannot be read as JSON"),
    ('["gazette.example"]', "must map hosts to rules"),
    ('{"gazette.example": {"headlin": "h1"}}', "a rule is an object of drop, headline"),
    ('{"gazette.example": {"gone": 404}}', "is not a CSS selector"),
    ('{"gazette.example": {"body": "p[[["}}', "is not a CSS selector"),
    ('{"gazette.example": {"drop": ".more"}}', "drop must be a list"),
])
def test_unusable_site_rules_are_refused_by_name(tmp_path: Path, content: str, said: str) -> None:
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(content)
    with pytest.raises(ConfigError, match="PALIMPSEST_SITE_RULES") as refused:
        Settings.from_env({"PALIMPSEST_SITE_RULES": str(rules_file)})
    assert said in str(refused.value)

