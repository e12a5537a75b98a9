"""A small news site on 127.0.0.1 whose articles can be edited while it runs.

It serves what real news pages serve around an article: navigation, a
BREAKING ticker and a "Most Read" box that change on every request, inline
"Related News" blocks and "Read more:" lines inside the body, ad slots with
fresh ids, a CSRF token, a view counter, a stylesheet with a cache-busting
query string and a script that loads the ticker over XHR. Only edits made
through :meth:`NewsSite.edit` change the article. ``palimpsest demo`` and the
tests use it; a few extra paths give tests a JSON file, a slow page, a 410
and a redirect.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, replace
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SITE_NAME = "The Meridian Post"
TICKER = [
    "Port authority: container traffic resumes after overnight strike",
    "Central bank holds rates, signals two cuts before year end",
    "Storm warning extended to the northern coast until Friday",
    "Health ministry: vaccination campaign reaches rural districts",
    "Parliament committee summons energy minister over price cap",
    "Rail operator cancels 40 services after signal failure",
    "Football: national side names squad for qualifiers",
    "Observatory records strongest solar flare of the decade",
]
MOST_READ = [
    "How the river delta is sinking faster than the sea is rising",
    "Inside the night market that feeds a city of nine million",
    "Teachers vote to strike as talks over pay collapse",
    "The quiet return of the tram to mid-sized European cities",
    "Ten years on, the bridge that was never finished",
]


@dataclass(frozen=True)
class DemoArticle:
    slug: str
    headline: str
    dek: str
    authors: tuple[str, ...]
    published: str
    modified: str
    section: str
    tags: tuple[str, ...]
    #: paragraphs; an item starting with "## " is a subheading
    body: tuple[str, ...]
    corrections: tuple[str, ...] = ()
    json_ld: bool = False
    #: HTTP status of the article's URL: 200, or 404/410 once unpublished
    status: int = 200
    #: the slug this URL now redirects to (301)
    moved_to: str | None = None
    #: serve a paywall in place of the article
    wall: bool = False
    #: serve, with status 200, a "page not found" page in the site's own frame
    #: (a soft 404: how many sites answer for a story taken down)
    not_found: bool = False
    #: name of the lead image file; the slug unless the article moved
    image: str = ""
    #: raw HTML put into the body as is (hostile pages in tests)
    extra_html: str = ""


ARTICLES = (
    DemoArticle(
        slug="harbour-bridge-reopens",
        headline="Harbour bridge reopens after two-year repair",
        dek="The crossing carried 80,000 vehicles a day before cracks closed it in 2024.",
        authors=("Amira Haddad",),
        published="2026-11-27T08:15:00+00:00",
        modified="2026-11-27T08:15:00+00:00",
        section="Politics",
        tags=("Infrastructure", "Transport"),
        body=(
            "The harbour bridge reopened to traffic on Friday morning, two years after "
            "engineers found cracks in its main steel girders.",
            "City officials said the repair cost 310 million euros, 40 million more than "
            "the original estimate, after corrosion was found in the southern anchorage.",
            "## Traffic returns",
            "Buses will use the crossing from Monday, and cyclists get a protected lane "
            "for the first time since the bridge opened in 1968.",
            "Shopkeepers on both banks welcomed the news. \"We lost a third of our "
            "customers,\" said Rita Moreau, who runs a bakery near the northern ramp.",
            "The transport authority said it would publish inspection reports every six "
            "months until 2030.",
        ),
    ),
    DemoArticle(
        slug="drought-wheat-harvest",
        headline="Drought cuts wheat harvest by a fifth",
        dek="Farmers in the south report the lowest yields since records began.",
        authors=("Jonas Lindqvist", "Mei Tanaka"),
        published="2026-11-26T16:40:00+01:00",
        modified="2026-11-26T16:40:00+01:00",
        section="Economy",
        tags=("Agriculture", "Climate", "Food prices"),
        body=(
            "This year's wheat harvest fell by 21 percent after the driest summer in six "
            "decades, the agriculture ministry said on Thursday.",
            "The shortfall is expected to push up bread prices by early spring, according "
            "to the national bakers' federation.",
            "## Water restrictions",
            "Irrigation was restricted in four provinces from June, and several reservoirs "
            "are still below a third of their capacity.",
            "The ministry said emergency payments to farmers would begin next month.",
        ),
        json_ld=True,
    ),
    DemoArticle(
        slug="museum-returns-bronzes",
        headline="Museum agrees to return looted bronzes",
        dek="The collection of 32 bronzes was taken during a colonial expedition in 1897.",
        authors=("Grace Okafor",),
        published="2026-11-25T11:05:00+00:00",
        modified="2026-11-25T11:05:00+00:00",
        section="Arts&Culture",
        tags=("Museums", "Restitution"),
        body=(
            "The national museum will return 32 bronzes taken during a colonial expedition "
            "in 1897, its board announced on Wednesday.",
            "The decision follows three years of talks with the government and royal court "
            "of the city from which the works were taken.",
            "A museum spokesperson said the first pieces would travel in the spring, with "
            "the rest following by the end of next year.",
            "Campaigners called the move overdue but welcome.",
        ),
    ),
)


def generated_articles(count: int, *, prefix: str = "story") -> tuple[DemoArticle, ...]:
    """``count`` distinct articles, for sweeps and benchmarks."""
    base = ARTICLES[0]
    return tuple(replace(
        base, slug=f"{prefix}-{n}", headline=f"{base.headline} ({n})",
        body=(f"Story number {n} begins here.", *base.body)) for n in range(count))


def tiny_png(rgb: tuple[int, int, int] = (40, 90, 160), size: int = 8) -> bytes:
    """A valid PNG of one colour, for lead images."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


CSS = b"""body{font-family:Georgia,serif;margin:0;color:#222}
.site-header{background:#8b0000;color:#fff;padding:8px 24px}.site-header a{color:#fff;margin-right:12px}
.breaking-ticker{background:#111;color:#fc0;padding:6px 24px;font:13px sans-serif}
main{display:flex;gap:32px;padding:24px}article{max-width:720px}
.related-news{border-left:4px solid #8b0000;padding-left:12px;font:14px sans-serif}
.most-read{width:260px;font:14px sans-serif}.ad-slot{background:#eee;height:90px}
"""
NOT_FOUND_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Page not found | {SITE_NAME}</title><link rel="stylesheet" href="/static/site.css"></head>
<body><header class="site-header"><a href="/">{SITE_NAME}</a><nav><a href="/news">News</a>
<a href="/politics">Politics</a></nav></header>
<main><section class="error-404"><h1>Sorry, we couldn't find that page</h1>
<p>The page you are looking for may have been moved or deleted. Try the search, or start again
from the home page.</p></section>
<aside class="most-read"><h2>Most Read</h2><ol><li><a href="/news/1">{MOST_READ[0]}</a></li>
<li><a href="/news/2">{MOST_READ[1]}</a></li></ol></aside></main>
<footer><p>{SITE_NAME} is an independent newsroom.</p></footer></body></html>""".encode()
JS = b"""(function(){
  var x = new XMLHttpRequest();
  x.open('GET', '/api/ticker');
  x.onload = function(){
    var items = JSON.parse(x.responseText), ul = document.getElementById('ticker');
    ul.innerHTML = '';
    items.forEach(function(t){ var li = document.createElement('li'); li.textContent = t; ul.appendChild(li); });
  };
  x.send();
  var u = document.querySelector('.updated');
  if (u) { u.textContent = 'Updated ' + (1 + Math.floor(Math.random() * 50)) + ' minutes ago'; }
  var px = new Image(); px.src = '/px.gif?r=' + Math.random();
})();
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser resets the connections it kept alive when its context
        # closes: no error of the site's, and no traceback in the demo's log.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class NewsSite:
    """The demo news site; start it, edit its articles, stop it."""

    def __init__(self, articles: tuple[DemoArticle, ...] = ARTICLES, *,
                 page_delay: float = 0.0, noise: bool = True) -> None:
        self.articles = {a.slug: a for a in articles}
        #: False serves every page identically, byte for byte (for benchmarks):
        #: same ticker, ad ids, tokens and view count, no random numbers in the JS
        self.noise = noise
        self.lock = threading.Lock()
        self.requests: list[tuple[float, str]] = []
        self.views = 1000
        #: seconds each article page takes to be served (to make overlaps visible)
        self.page_delay = page_delay
        #: article page requests being served now, and the most ever at once
        self.pages_in_flight = 0
        self.max_pages_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the site is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, slug: str) -> str:
        return f"{self.base_url}/news/{slug}"

    def start(self, port: int = 0) -> NewsSite:
        site = self

        class Handler(SiteHandler):
            pass

        Handler.site = site
        self._server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> NewsSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def edit(self, slug: str, **changes: Any) -> DemoArticle:
        """Change an article as a newsroom would; the next request serves it."""
        with self.lock:
            self.articles[slug] = replace(self.articles[slug], **changes)
            return self.articles[slug]

    def move(self, slug: str, new_slug: str) -> None:
        """Give an article a new slug; the old URL answers 301 to the new one."""
        with self.lock:
            article = self.articles[slug]
            self.articles[new_slug] = replace(article, slug=new_slug,
                                              image=article.image or article.slug)
            self.articles[slug] = replace(article, moved_to=new_slug)

    def feed(self) -> bytes:
        """An RSS 2.0 feed listing every article."""
        items = "".join(
            f"<item><title>{escape(a.headline)}</title><link>{self.url(a.slug)}</link>"
            f"<guid>{self.url(a.slug)}</guid></item>"
            for a in self.articles.values() if not a.moved_to)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>{SITE_NAME}</title><link>{self.base_url}/</link>{items}"
                "</channel></rss>").encode()

    def sitemap(self) -> bytes:
        """A Google News sitemap listing every article."""
        urls = "".join(
            f"<url><loc>{self.url(a.slug)}</loc><news:news><news:publication_date>"
            f"{a.published}</news:publication_date><news:title>{escape(a.headline)}"
            "</news:title></news:news></url>"
            for a in self.articles.values() if not a.moved_to)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>").encode()

    def render(self, slug: str) -> str:
        with self.lock:
            article = self.articles[slug]
            if self.noise:
                self.views += random.randint(1, 40)
            views = self.views
        return render_article(article, self.base_url, views=views,
                              rng=random.Random() if self.noise else random.Random(0))


def _ticker(rng: random.Random | None = None) -> list[str]:
    return (rng or random.Random()).sample(TICKER, 4)


def render_article(a: DemoArticle, base: str, *, views: int,
                   rng: random.Random | None = None) -> str:
    """The full page of an article, with fresh noise on every call (from ``rng``)."""
    e = escape
    rng = rng or random.Random()
    meta_tags = "".join(f'<meta property="article:tag" content="{e(t)}">' for t in a.tags)
    json_ld = ""
    if a.json_ld:
        graph = {"@context": "https://schema.org", "@graph": [
            {"@type": "WebSite", "name": SITE_NAME, "url": base},
            {"@type": "NewsArticle", "headline": a.headline, "description": a.dek,
             "datePublished": a.published, "dateModified": a.modified,
             "articleSection": a.section, "keywords": ", ".join(a.tags),
             "author": [{"@type": "Person", "name": n} for n in a.authors],
             "image": {"@type": "ImageObject", "url": f"{base}/img/{a.image or a.slug}.png"}},
        ]}
        json_ld = f'<script type="application/ld+json">{e(json.dumps(graph), quote=False)}</script>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(a.headline)} | {SITE_NAME}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{rng.getrandbits(64):016x}">
<link rel="canonical" href="{base}/news/{a.slug}">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="og:title" content="{e(a.headline)}">
<meta property="og:description" content="{e(a.dek)}">
<meta property="og:image" content="{base}/img/{a.image or a.slug}.png">
<meta property="article:published_time" content="{a.published}">
<meta property="article:modified_time" content="{a.modified}">
<meta property="article:section" content="{e(a.section)}">
{meta_tags}{json_ld}
<link rel="stylesheet" href="/static/site.css?v={rng.randint(1, 10**6)}">
<script src="/static/site.js" defer></script>
</head><body>
<header class="site-header"><a href="/">{SITE_NAME}</a>
<nav><a href="/news">News</a><a href="/politics">Politics</a><a href="/economy">Economy</a>
<a href="/culture">Arts&amp;Culture</a><a href="/opinion">Opinion</a><a href="/videos">Videos</a></nav>
</header>
<div class="breaking-ticker"><strong>BREAKING</strong><ul id="ticker">
{"".join(f"<li>{e(t)}</li>" for t in _ticker(rng))}</ul></div>
<main><article class="node node--type-article">
<h1 class="article-title">{e(a.headline)}</h1>
<ul class="article-meta"><li class="byline">By {e(" and ".join(a.authors))}</li>
<li class="source">Source: Agencies</li>
<li><time datetime="{a.published}">{a.published[:16].replace("T", " ")}</time></li>
<li class="updated"></li></ul>
<span class="read-time">{max(1, sum(len(p.split()) for p in a.body) // 200)} Min Read</span>
<p class="article-summary">{e(a.dek)}</p>
<figure class="lead-image"><img src="/img/{a.image or a.slug}.png" alt="">
<figcaption>Photo: {SITE_NAME} archive</figcaption></figure>
<div class="article-body field--name-body">
<p class="timestamp">Updated {rng.randint(2, 59)} minutes ago</p>
{_body_html(a, rng)}
</div>
<ul class="article-tags">{"".join(f'<li><a href="/tags/{e(t)}">{e(t)}</a></li>' for t in a.tags)}</ul>
<div class="view-count">{views:,} views</div>
</article>
<aside class="most-read"><h2>Most Read</h2><ol>
{"".join(f'<li><a href="/news/{i}">{e(t)}</a></li>' for i, t in enumerate(rng.sample(MOST_READ, 4)))}
</ol></aside></main>
<section class="read-next"><h2>Read Next</h2><a href="/news/other">Markets steady ahead of budget</a></section>
<footer><p>{SITE_NAME} is an independent newsroom.</p><p>All Rights Reserved</p></footer>
</body></html>"""


def _body_html(a: DemoArticle, rng: random.Random) -> str:
    parts = []
    for i, paragraph in enumerate(a.body):
        if paragraph.startswith("## "):
            parts.append(f"<h3>{escape(paragraph[3:])}</h3>")
        else:
            parts.append(f"<p>{escape(paragraph)}</p>")
        if i == 1:
            parts.append(
                '<div class="related-news"><h4>Related News</h4><ul>'
                '<li><a href="/news/x1">Ministers clash over transport budget</a></li>'
                '<li><a href="/news/x2">City council approves new ferry line</a></li></ul></div>')
        if i == 2:
            parts.append(f'<div class="ad-slot" id="ad-{rng.getrandbits(32):08x}">'
                         "Advertisement</div>")
    if a.wall:
        del parts[2:]
        parts.append('<div class="paywall-prompt"><p>Subscribe to continue reading.</p>'
                     "<p>Already a subscriber? Log in.</p></div>")
        return "\n".join(parts)
    parts.append(a.extra_html)
    parts.append('<p>Read more: <a href="/news/x3">The long road to the harbour repair</a></p>')
    parts.extend(f'<div class="correction-notice"><p>{escape(c)}</p></div>'
                 for c in a.corrections)
    return "\n".join(parts)


class SiteHandler(BaseHTTPRequestHandler):
    site: NewsSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test and demo output clean; requests are kept in site.requests

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve_page(self, slug: str) -> None:
        site = self.site
        with site.lock:
            site.pages_in_flight += 1
            site.max_pages_in_flight = max(site.max_pages_in_flight, site.pages_in_flight)
        try:
            time.sleep(site.page_delay)
            self._send(200, site.render(slug).encode(), "text/html; charset=utf-8",
                       {"Cache-Control": "max-age=60"})
        finally:
            with site.lock:
                site.pages_in_flight -= 1

    def do_GET(self) -> None:
        site = self.site
        path = self.path.split("?")[0]
        with site.lock:
            site.requests.append((time.monotonic(), self.path))
        slug = path.split("/", 2)[2] if path.startswith(("/news/", "/amp/")) else ""
        if slug in site.articles:
            # /amp/<slug> is the AMP edition: same article, canonical link to /news/<slug>.
            article = site.articles[slug]
            status = article.status
            if article.moved_to:
                self._send(301, b"", "text/html", {"Location": f"/news/{article.moved_to}"})
            elif status >= 400:
                self._send(status, b"<html><body><h1>Gone</h1></body></html>",
                           "text/html; charset=utf-8")
            elif article.not_found:
                self._send(200, NOT_FOUND_PAGE, "text/html; charset=utf-8")
            else:
                self._serve_page(slug)
        elif path == "/feed.xml":
            self._send(200, site.feed(), "application/rss+xml")
        elif path == "/sitemap.xml":
            self._send(200, site.sitemap(), "application/xml")
        elif path.startswith("/moved/"):
            self._send(301, b"", "text/html", {"Location": f"/news/{path[7:]}"})
        elif path == "/static/site.css":
            self._send(200, CSS, "text/css")
        elif path == "/static/site.js":
            self._send(200, JS if site.noise else JS.replace(b"Math.random()", b"0.5"),
                       "application/javascript")
        elif path == "/api/ticker":
            ticker = _ticker(None if site.noise else random.Random(0))
            self._send(200, json.dumps(ticker).encode(), "application/json")
        elif path.startswith("/img/"):
            self._send(200, tiny_png(), "image/png")
        elif path == "/px.gif":
            self._send(204, b"", "image/gif")
        elif path == "/data.json":
            self._send(200, b'{"not": "a page"}', "application/json")
        elif path == "/slow":
            time.sleep(float(self.headers.get("X-Delay", "30")))
            self._send(200, b"<html><body>late</body></html>", "text/html")
        else:
            self._send(404, b"<html><body><h1>Not found</h1></body></html>",
                       "text/html; charset=utf-8")
