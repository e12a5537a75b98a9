"""A snapshot's page shown with what it archived: the addresses rewritten."""

from __future__ import annotations

from palimpsest.replay import page, served, stylesheet


def archived(url: str) -> str:
    return "/r/" + url


def test_the_page_s_resources_are_asked_of_the_archive() -> None:
    shown = page(
        '<html><head><base href="https://cdn.example/a/"><link rel="stylesheet" href="s.css">'
        '<link rel="alternate" href="feed.xml"><style>p{background:url(p.png)}</style></head>'
        '<body><img src="i.png" srcset="https://img.example/w_400,h_300/i.jpg 2x, i3.png 3x"'
        ' style="background-image:url(\'q.png\')"><img src="data:image/gif;base64,R0lG">'
        '<video poster="/v.jpg"><source src="v.mp4"></video>'
        '<a href="next.html">next</a><script src="x.js"></script></body></html>',
        "https://news.example/story", archived)
    assert 'href="/r/https://cdn.example/a/s.css"' in shown
    assert 'href="feed.xml"' in shown and 'src="x.js"' in shown and 'href="next.html"' in shown
    assert "url(\"/r/https://cdn.example/a/p.png\")" in shown
    assert ('srcset="/r/https://img.example/w_400,h_300/i.jpg 2x, '
            '/r/https://cdn.example/a/i3.png 3x"') in shown
    assert "style='background-image:url(\"/r/https://cdn.example/a/q.png\")'" in shown
    assert 'src="data:image/gif;base64,R0lG"' in shown
    assert 'poster="/r/https://cdn.example/v.jpg"' in shown
    assert 'src="/r/https://cdn.example/a/v.mp4"' in shown
    assert "<base" not in shown  # (resolved here: it would send the page's links elsewhere)


def test_a_stylesheet_s_imports_and_urls_are_asked_of_the_archive() -> None:
    css = ('@import "print.css"; @import url(fonts.css);'
           '@font-face{src:url("/f.woff2") format("woff2"), url(data:font/woff;base64,AA)}')
    assert stylesheet(css, "https://news.example/css/site.css", archived) == (
        '@import "/r/https://news.example/css/print.css"; '
        '@import url("/r/https://news.example/css/fonts.css");'
        '@font-face{src:url("/r/https://news.example/f.woff2") format("woff2"), '
        'url("data:font/woff;base64,AA")}')


def test_only_resources_of_the_kinds_a_page_shows_are_served_back_as_what_they_are() -> None:
    assert served("text/css; charset=iso-8859-1") == "text/css"
    assert served("IMAGE/SVG+XML") == "image/svg+xml"
    assert served("image/png, text/html") is None  # (a browser would take the last)
    for scripted in ("text/html", "application/javascript", "text/javascript", ""):
        assert served(scripted) is None


def test_an_empty_document_is_shown_as_it_is() -> None:
    assert page("", "https://news.example/story", archived) == ""


def test_nothing_in_the_page_reaches_the_live_web_unasked() -> None:
    shown = page('<html><head><meta http-equiv="Refresh" content="0; url=https://news.example/">'
                 '<link rel="dns-prefetch" href="//ads.example"><link rel="preconnect" '
                 'href="https://cdn.example"><link rel="canonical" href="https://news.example/a">'
                 '</head><body><p>Text</p></body></html>', "https://news.example/a", archived)
    assert "Refresh" not in shown and "ads.example" not in shown and "cdn.example" not in shown
    assert 'rel="canonical"' in shown and "<p>Text</p>" in shown


def test_links_lead_where_they_are_sent() -> None:
    shown = page('<body><a href="/news/other">Other</a><a href="#top">Top</a>'
                 '<a href="mailto:desk@news.example">Write</a><map><area href="b.html"></map>',
                 "https://news.example/a/story", archived, visit="/timegate/".__add__)
    assert 'href="/timegate/https://news.example/news/other"' in shown
    assert 'href="/timegate/https://news.example/a/b.html"' in shown
    assert 'href="#top"' in shown and 'href="mailto:desk@news.example"' in shown
    assert 'href="/news/other"' in page('<a href="/news/other">x</a>', "https://n.example/",
                                        archived)  # (as they were, unless sent elsewhere)
