"""A snapshot's page shown as it looked: its rendered DOM, with the
stylesheets, images, fonts and media it used served from the archive, and
its frames showing the documents they showed.

The DOM's and the stylesheets' addresses of those are rewritten to the
archive's (an :class:`Archive` says where it serves each, and what it holds:
of an image's sizes, only those archived are kept); links lead where the
archive says; nothing else is rewritten. Scripts never
run (the page is served in a sandbox), and nothing is fetched from the live
web: an address the snapshot did not archive is simply not there. Only
resources of the kinds above are served back: an archived script or HTML
document never is (a frame's document is shown inline, in the sandbox, as
a sprite of icons is: a sandbox has an origin of its own, and may use no
other file's SVG).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree, html
from warcio.archiveiterator import ArchiveIterator

from .warc import FRAME_PREFIX, charset, checked, media_type

#: What the archived page may load: its own archive's resources, nothing else
PAGE_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' "
            "'unsafe-inline'; font-src 'self' data:; media-src 'self'")
#: The resources served back (by the archived response's Content-Type)
SERVED = ("text/css", "image/", "font/", "application/font", "application/x-font",
          "application/vnd.ms-fontobject", "video/", "audio/")
#: Attributes that name a resource the page shows (srcset: several); SVG's
#: images too (tag and attribute names as lxml gives them, lower-cased: the
#: browser showing the page puts SVG's cases back)
LINKED = {"img": ("src", "srcset"), "source": ("src", "srcset"), "video": ("src", "poster"),
          "audio": ("src",), "input": ("src",), "track": ("src",),
          "image": ("href", "xlink:href"), "feimage": ("href", "xlink:href")}
#: Links that would have the viewer's browser reach the live web unasked
#: (a policy does not stop a name being resolved, or a connection opened,
#: ahead of time), and a refresh, which would send the frame there
REACHING = {"dns-prefetch", "preconnect", "prerender", "prefetch", "preload", "modulepreload"}
MIME = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")
CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)|@import\s+(["'])([^"']+)\3""",
                     re.IGNORECASE)
#: A reference, within an SVG, to one of its own elements
SVG_REF = re.compile(r"""url\(\s*(["']?)#([^"')\s]+)\1\s*\)""")
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
#: Characters of an SVG sprite inlined in the page at most
MAX_SPRITE = 2 * 1024 * 1024

Rewrite = Callable[[str], str]  # an absolute URL -> its address in the archive


@dataclass(frozen=True)
class Resource:
    """Where an archived response lies in its WARC (a revisit's payload is
    elsewhere: the record that first archived ``digest``)."""

    offset: int
    length: int
    media_type: str
    charset: str  # (a stylesheet's, to read it by)
    revisit: bool
    digest: str


def served(content_type: str) -> str | None:
    """The media type an archived response is served back as, if it is one
    of those served: its type alone, parameters left out (the archived header
    is the site's word, which might name others after a comma)."""
    media = media_type(content_type)
    return media if MIME.fullmatch(media) and media.startswith(SERVED) else None


#: Redirects followed from a frame's address to the document it showed, at most
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Archived:
    """What of a snapshot's WARC its page may show, by URL: the resources
    that may be served back, the documents its frames showed, and where
    archived redirects led."""

    resources: dict[str, Resource]
    frames: dict[str, Resource]
    redirects: dict[str, str]

    def frame(self, url: str) -> Resource | None:
        """The document a frame at ``url`` showed, through the redirects it
        was sent on by (an ad's or embed's address often redirects)."""
        for _ in range(MAX_REDIRECTS + 1):
            url = urldefrag(url).url
            if url in self.frames or url not in self.redirects:
                return self.frames.get(url)
            url = self.redirects[url]
        return None


def archived(warc: bytes) -> Archived:
    """The responses (and revisits) of a snapshot's WARC that may be served
    back (the first of each URL; redirects and errors left out), the
    rendered documents of its frames, and where redirects led."""
    found: dict[str, Resource] = {}
    frames: dict[str, Resource] = {}
    redirects: dict[str, str] = {}
    records = ArchiveIterator(io.BytesIO(warc))
    for record in checked(records):
        uri, http = record.rec_headers.get_header("WARC-Target-URI") or "", record.http_headers
        where = (records.get_record_offset(), records.get_record_length())
        revisit = (record.rec_type == "revisit",
                   record.rec_headers.get_header("WARC-Payload-Digest") or "")
        if uri.startswith(FRAME_PREFIX) and record.rec_type in ("resource", "revisit"):
            frames.setdefault(uri.removeprefix(FRAME_PREFIX),
                              Resource(*where, "text/html", "utf-8", *revisit))
        elif record.rec_type in ("response", "revisit") and http is not None \
                and http.get_statuscode().startswith("3") and http.get_header("Location"):
            redirects.setdefault(urldefrag(uri).url, urljoin(uri, http.get_header("Location")))
        elif record.rec_type in ("response", "revisit") and http is not None \
                and http.get_statuscode().startswith("2"):
            content_type = http.get_header("Content-Type") or ""
            if (media := served(content_type)) is not None:
                found.setdefault(urldefrag(uri).url,
                                 Resource(*where, media, charset(content_type), *revisit))
    return Archived(found, frames, redirects)


class Archive(Protocol):
    """What a snapshot's page is shown from: its archive."""

    def address(self, url: str) -> str:
        """Where the resource at ``url`` is served, as it was archived."""

    def holds(self, url: str) -> bool:
        """Whether the resource at ``url`` was archived."""

    def frame(self, url: str) -> str | None:
        """The document a frame at ``url`` showed, shown as :func:`page`
        shows one, if it was archived."""

    def link(self, url: str) -> str:
        """Where a link to ``url`` leads."""

    def svg(self, url: str) -> str | None:
        """The SVG document archived at ``url``, as text, if it was archived."""


def page(dom: str, base: str, archive: Archive) -> str:
    """The DOM, the addresses of what it shows (in attributes, ``<style>``
    elements and style attributes) rewritten to the ``archive``'s, each
    frame showing the document it showed, inline and sandboxed, its icons
    drawn from sprite files drawn from copies of those inlined, and its
    links sent where the archive says."""
    try:
        tree = html.document_fromstring(dom)
    except (etree.ParserError, ValueError):  # (nothing to parse: an empty document)
        return dom
    for found in list(tree.iter("base")):  # (its address is resolved here, then it goes)
        base = urljoin(base, found.get("href") or "")
        found.drop_tree()
    uses = list(tree.iter("use"))  # (of the page: not those of the sprites inlined)
    _rewrite_all(tree, base, archive)
    body = tree.find(".//body")
    _inline_sprites(uses, tree if body is None else body, base, archive)
    return "<!DOCTYPE html>\n" + str(html.tostring(tree, encoding="unicode"))


def _rewrite_all(tree: Any, base: str, archive: Archive) -> None:
    """The addresses of what ``tree`` shows asked of the archive, its links
    sent where the archive says, and what would reach the live web unasked
    (or move the page's base) dropped."""
    for found in list(tree.iter("base", "link", "meta")):
        if found.tag == "base" or REACHING & set((found.get("rel") or "").lower().split()) \
                or (found.get("http-equiv") or "").lower() == "refresh":
            found.drop_tree()
    for element in tree.iter(etree.Element):
        _rewrite(element, base, archive)
        if element.tag in ("a", "area") and (href := element.get("href")) \
                and not href.startswith("#"):
            element.set("href", _archived(href, base, archive.link))


def _rewrite(element: Any, base: str, archive: Archive) -> None:
    """The addresses of what ``element`` shows, rewritten to the archive's."""
    tag = element.tag if isinstance(element.tag, str) else ""
    names = LINKED.get(tag, ())
    if tag == "link" and {"stylesheet", "icon"} & set((element.get("rel") or "").split()):
        names = ("href",)
    for name in names:
        if (value := element.get(name)) and name != "srcset":
            element.set(name, _archived(value, base, archive.address))
        elif value and (kept := _srcset(value, base, archive)):
            element.set(name, kept)
        elif value:  # (none of its sizes archived: the src, or the picture's next source)
            del element.attrib[name]
    if tag in ("iframe", "frame") and (src := element.get("src")) and \
            (document := archive.frame(urljoin(base, src.strip()))) is not None:
        del element.attrib["src"]
        element.set("srcdoc", document)
        element.set("sandbox", "")
    if style := element.get("style"):
        element.set("style", stylesheet(style, base, archive.address))
    if tag == "style" and element.text:
        element.text = stylesheet(element.text, base, archive.address)


def _inline_sprites(uses: list[Any], body: Any, base: str, archive: Archive) -> None:
    """Icons drawn from a sprite, an SVG file of icons (``<use
    href="/icons.svg#menu">``), drawn from a copy of the sprite inlined in
    the page: the page is shown from an opaque origin, and Chromium draws a
    ``<use>`` of another document only from the page's own origin. The
    sprite's ids are prefixed, so that none is taken for one of the page's."""
    prefixes: dict[str, str | None] = {}  # a sprite's URL: its ids' prefix (None: not shown)
    for use in uses:
        for name in ("href", "xlink:href"):
            value = (use.get(name) or "").strip()
            if not value or value.startswith("#"):
                continue
            url, fragment = urldefrag(urljoin(base, value))
            if url not in prefixes:
                prefixes[url] = _inline(url, f"sprite{len(prefixes)}-", body, archive)
            if (prefix := prefixes[url]) is None or not fragment:
                del use.attrib[name]  # (not archived: nothing to fetch from elsewhere)
            else:
                use.set(name, f"#{prefix}{fragment}")


def _inline(url: str, prefix: str, body: Any, archive: Archive) -> str | None:
    """The sprite at ``url`` added, hidden, to the page's ``body``, its ids
    prefixed with ``prefix`` (returned), and the addresses of what it shows
    asked of the archive; None if it was not archived (or is no SVG)."""
    text = archive.svg(url)
    if text is None or len(text) > MAX_SPRITE:
        return None
    text = XML_DECLARATION.sub("", text, count=1)  # (its encoding is no longer the text's)
    try:  # (read as the page was: the browser showing it reads its SVG as HTML's)
        sprite = next(html.document_fromstring(text).iter("svg"), None)
    except (etree.ParserError, ValueError):
        return None
    if sprite is None:
        return None
    _prefix_ids(sprite, prefix)
    _rewrite_all(sprite, url, archive)
    hidden = etree.SubElement(body, "svg", {
        "aria-hidden": "true", "style": "position:absolute;width:0;height:0;overflow:hidden"})
    hidden.extend(sprite)
    return prefix


def _prefix_ids(svg: Any, prefix: str) -> None:
    """The ids of the SVG's elements prefixed with ``prefix``, and its
    references to them (``href="#id"``, ``url(#id)``) with them."""
    ids = {found for element in svg.iter(etree.Element) if (found := element.get("id"))}

    def renamed(match: re.Match[str]) -> str:
        return f"url(#{prefix}{match[2]})" if match[2] in ids else match[0]

    for element in svg.iter(etree.Element):
        for name, value in element.attrib.items():
            if name == "id":
                element.set(name, prefix + value)
            elif name in ("href", "xlink:href") and value.startswith("#") and value[1:] in ids:
                element.set(name, f"#{prefix}{value[1:]}")
            elif "url(" in value:
                element.set(name, SVG_REF.sub(renamed, value))
        if element.tag == "style" and element.text:
            element.text = SVG_REF.sub(renamed, element.text)


def stylesheet(css: str, base: str, to: Rewrite) -> str:
    """The CSS, the addresses of its ``url()`` and ``@import`` rewritten."""
    def archived(match: re.Match[str]) -> str:
        if match[2] is not None:
            return f'url("{_archived(match[2], base, to)}")'
        return f'@import "{_archived(match[4], base, to)}"'
    return CSS_URL.sub(archived, css)


def _archived(value: str, base: str, to: Rewrite) -> str:
    """A resource's address (relative to ``base``) in the archive; one that
    is not on the web (``data:``) as it is."""
    url = urljoin(base, value.strip())
    return to(url) if urlsplit(url).scheme in ("http", "https") else value.strip()


def _srcset(value: str, base: str, archive: Archive) -> str:
    """A srcset, of the candidates the archive holds, their addresses
    rewritten: a browser showing the page at another width would otherwise
    choose one it never fetched. Parsed as browsers do (an address may hold
    commas; one ending in a comma ends its candidate)."""
    candidates, at = [], 0
    while at < len(value):
        while at < len(value) and (value[at].isspace() or value[at] == ","):
            at += 1
        start = at
        while at < len(value) and not value[at].isspace():
            at += 1
        url, descriptors = value[start:at], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = value.find(",", at)
            end = len(value) if end < 0 else end
            descriptors, at = value[at:end].strip(), end + 1
        if url and archive.holds(urljoin(base, url)):
            candidates.append(f"{_archived(url, base, archive.address)} {descriptors}".strip())
    return ", ".join(candidates)
