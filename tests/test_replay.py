"""A snapshot's page shown with what it archived: the addresses rewritten."""

from __future__ import annotations

from palimpsest.replay import Archived, Resource, page, served, stylesheet


def archived(url: str) -> str:
    return "/r/" + url


class Held:
    """An archive holding every resource but those ``missing``, the
    documents of ``frames`` and the SVG documents of ``svgs``; its links
    lead to ``/m/``."""

    def __init__(self, missing: tuple[str, ...] = (), frames: dict[str, str] | None = None,
                 svgs: dict[str, str] | None = None) -> None:
        self.missing, self.frames, self.svgs = missing, frames or {}, svgs or {}

    def address(self, url: str) -> str:
        return archived(url)

    def holds(self, url: str) -> bool:
        return url not in self.missing

    def frame(self, url: str) -> str | None:
        return self.frames.get(url)

    def link(self, url: str) -> str:
        return "/m/" + url

    def svg(self, url: str) -> str | None:
        return self.svgs.get(url)


def test_the_page_s_resources_are_asked_of_the_archive() -> None:
    shown = page(
        '<html><head><base href="https://cdn.example/a/"><link rel="stylesheet" href="s.css">'
        '<link rel="alternate" href="feed.xml"><style>p{background:url(p.png)}</style></head>'
        '<body><img src="i.png" srcset="https://img.example/w_400,h_300/i.jpg 2x, i3.png 3x"'
        ' style="background-image:url(\'q.png\')"><img src="data:image/gif;base64,R0lG">'
        '<video poster="/v.jpg"><source src="v.mp4"></video><script src="x.js"></script>'
        '</body></html>', "https://news.example/story", Held())
    assert 'href="/r/https://cdn.example/a/s.css"' in shown
    assert 'href="feed.xml"' in shown and 'src="x.js"' in shown
    assert "url(\"/r/https://cdn.example/a/p.png\")" in shown
    assert ('srcset="/r/https://img.example/w_400,h_300/i.jpg 2x, '
            '/r/https://cdn.example/a/i3.png 3x"') in shown
    assert "style='background-image:url(\"/r/https://cdn.example/a/q.png\")'" in shown
    assert 'src="data:image/gif;base64,R0lG"' in shown
    assert 'poster="/r/https://cdn.example/v.jpg"' in shown
    assert 'src="/r/https://cdn.example/a/v.mp4"' in shown
    assert "<base" not in shown  # (resolved here: it would send the page's links elsewhere)


def test_an_svg_s_images_are_asked_of_the_archive() -> None:
    shown = page('<svg viewBox="0 0 9 9"><image xlink:href="map.png"/><image href="/pin.svg"/>'
                 '<filter><feImage href="t.png"/></filter><use href="#pin"/></svg>',
                 "https://news.example/graphics/", Held())
    assert 'xlink:href="/r/https://news.example/graphics/map.png"' in shown
    assert 'href="/r/https://news.example/pin.svg"' in shown
    assert 'href="/r/https://news.example/graphics/t.png"' in shown
    assert 'href="#pin"' in shown  # (a reference within the page stays one)


def test_icons_of_a_sprite_are_drawn_from_a_copy_of_it_in_the_page() -> None:
    sprite = ('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<svg xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g"/></defs>'
              '<symbol id="menu" viewBox="0 0 9 9">'
              '<path fill="url(#g)" d="M0 0h9v9z"/><use href="#dot"/></symbol>'
              '<symbol id="dot"><image href="dot.png"/></symbol><base href="https://x.example/">'
              '<meta http-equiv="refresh" content="0; url=https://x.example/"></svg>')
    shown = page('<body><div id="menu"></div><svg><use xlink:href="/i/icons.svg#menu"/></svg>'
                 '<svg><use href="/i/icons.svg#dot"/><use href="/gone.svg#x"/></svg></body>',
                 "https://news.example/story",
                 Held(svgs={"https://news.example/i/icons.svg": sprite}))
    assert shown.count("<symbol") == 2  # (the sprite, once)
    assert '<use xlink:href="#sprite0-menu">' in shown and '<use href="#sprite0-dot">' in shown
    assert '<div id="menu">' in shown  # (the page's own ids are not the sprite's)
    assert '<symbol id="sprite0-menu" viewbox="0 0 9 9">' in shown
    assert 'fill="url(#sprite0-g)"' in shown and '<use href="#sprite0-dot">' in shown
    assert 'href="/r/https://news.example/i/dot.png"' in shown  # (from where the sprite was)
    assert "gone.svg" not in shown  # (not archived: not asked for anywhere)
    assert "x.example" not in shown  # (a sprite is hostile as the page is)


def test_an_image_is_shown_in_the_sizes_the_archive_holds() -> None:
    # (shown narrower than it was captured, a browser would choose a size never fetched)
    shown = page('<picture><source media="(min-width: 800px)" srcset="wide.webp 1600w">'
                 '<img src="m.jpg" srcset="s.jpg 400w, m.jpg 800w, l.jpg 1600w" sizes="50vw">'
                 '</picture><img src="x.jpg" srcset="x2.jpg 2x">', "https://news.example/",
                 Held(missing=("https://news.example/wide.webp", "https://news.example/s.jpg",
                               "https://news.example/l.jpg", "https://news.example/x2.jpg")))
    assert 'srcset="/r/https://news.example/m.jpg 800w"' in shown
    assert "wide.webp" not in shown and "x2.jpg" not in shown  # (the src, then, or the next)
    assert '<img src="/r/https://news.example/x.jpg">' in shown


def test_a_frame_shows_the_document_it_showed_and_links_lead_where_the_archive_says() -> None:
    shown = page('<body><iframe src="/embed/1"></iframe><iframe src="/ad"></iframe>'
                 '<a href="/news/other">Other</a><a href="#top">Top</a>'
                 '<a href="mailto:desk@news.example">Write</a><map><area href="b.html"></map>',
                 "https://news.example/a/story",
                 Held(frames={"https://news.example/embed/1": "<p>Drawn</p>"}))
    assert '<iframe srcdoc="&lt;p&gt;Drawn&lt;/p&gt;" sandbox="">' in shown
    assert '<iframe src="/ad">' in shown  # (not archived: blocked by the page's policy)
    assert 'href="/m/https://news.example/news/other"' in shown
    assert 'href="/m/https://news.example/a/b.html"' in shown
    assert 'href="#top"' in shown and 'href="mailto:desk@news.example"' in shown


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
    assert page("", "https://news.example/story", Held()) == ""


def test_nothing_in_the_page_reaches_the_live_web_unasked() -> None:
    shown = page('<html><head><meta http-equiv="Refresh" content="0; url=https://news.example/">'
                 '<link rel="dns-prefetch" href="//ads.example"><link rel="preconnect" '
                 'href="https://cdn.example"><link rel="canonical" href="https://news.example/a">'
                 '</head><body><p>Text</p></body></html>', "https://news.example/a", Held())
    assert "Refresh" not in shown and "ads.example" not in shown and "cdn.example" not in shown
    assert 'rel="canonical"' in shown and "<p>Text</p>" in shown


def test_a_frame_s_document_is_found_through_the_redirects_its_address_led_by() -> None:
    document = Resource(0, 10, "text/html", "utf-8", False, "")
    held = Archived(resources={}, frames={"https://ads.example/shown": document}, redirects={
        "https://ads.example/click": "https://ads.example/hop",
        "https://ads.example/hop": "https://ads.example/shown",
        "https://ads.example/loop": "https://ads.example/loop"})
    assert held.frame("https://ads.example/click#x") is document
    assert held.frame("https://ads.example/shown") is document
    assert held.frame("https://ads.example/loop") is None
    assert held.frame("https://ads.example/elsewhere") is None
