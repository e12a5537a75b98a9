"""The body of an article: a list of paragraphs, subheadings marked "## ".

A site profile (declarative: where the body is on sites whose markup is
known) takes precedence; otherwise trafilatura's fast pass (its backup
extractors only when it finds little), cleaned of what it lets through: the
title, the standfirst, promotions, credits, and the runs of teasers at
either end of the body.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from .text import clean, is_link_line, without_relative_times

NOISE_TAGS = ("script", "style", "noscript", "template", "nav", "footer", "aside", "form",
              "iframe", "svg", "button", "select", "figcaption")
NOISE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:related|most-?read|most-?popular|trending|ticker|breaking|newsletter|"
    r"share|sharing|social|advert|ad-slot|ads?|promo|sponsor|comments?|read-?next|"
    r"recommend\w*|outbrain|taboola|subscribe|cookie|consent|sidebar|widget|tags?|"
    r"byline|author|dateline|caption|credit)(?:$|[\s_-])",
    re.IGNORECASE,
)
#: Site profiles: where the body is on sites whose markup is known. A profile that
#: matches takes precedence over the generic extractor (trafilatura).
SITE_PROFILES = (
    # Drupal-style international news sites: body in a "field--name-body" block with
    # inline "Related News" boxes and "Read more:" lines (see the demo site).
    ("drupal-news",
     '//*[contains(concat(" ", normalize-space(@class), " "), " field--name-body ")]'),
)
#: A fast generic pass finding fewer words than this is retried with backup extractors
BACKUP_BELOW_WORDS = 60
#: Teasers of other stories at the end of a body: short lines with no sentence end
TEASER_MAX_WORDS = 14
SENTENCE_ENDS = (".", "!", "?", "\u201d", '"', "\u00bb", "\u3002", ")", ":", "\u2026")
#: Lines generic extraction lets through that are never the article: page furniture,
#: newsletter promos, reprint notices.
BOILERPLATE_LINE = re.compile(
    r"^(?:[-•*]\s*)?(?:order reprints|print article|share(?: this)?(?: article)?|tags|"
    r"advertisement|thanks for signing up!?|keep an eye on your inbox.*|sign up.{0,40}newsletter.*|"
    r"subscribe(?: now)?|related(?: articles| stories| content)?|read more|"
    r"updated (?:at|on) .{0,40}|published .{0,40}|"
    r"this copy is for your personal, non-commercial use only.*|write to .{0,80}@.{0,60}|"
    r"copyright.{0,80}|all rights reserved.{0,40}|\(?photo:.{0,80}|image:.{0,80}"
    # promotions of other stories and of the site's newsletters, apps and feeds
    r"|see more:.*|don[’']?t miss.*|also on \S+ .*|like this story\?.*|you may also like.*"
    r"|\(?leggi anche.*|follow us on .*|follow @\S+ .*|email .{0,60} at \S+@\S+.*"
    r"|subscribe to .*|get the latest .{0,40} in your inbox.*|have a tip\?.*"
    r"|tell us what you think.*|comments?|get .{0,60} delivered .*"
    r"|we want to hear what you think.*|never miss the latest.*|get the .{0,40} daily edition.*"
    # "read also" in the languages we track, and photo credits
    r"|(?:à )?lire aussi.*|lesen sie auch.*|mehr zum thema.*|(?:le|te) puede interesar.*"
    r"|lee también.*|leia também.*|read also.*|see also.*|temas|themen|tags?:?"
    r"|pour (?:lire la suite|accéder en illimité).*|puede escribirnos.*"
    r"|(?:titelbild|credit|fotos?|bild)\s*:.{0,80}|.{0,60} may be reached at \S+@.*"
    r"|get access to .*|follow us .*"
    # a bare URL, a CMS shortcode left in the text, a short credit line with ©
    r"|https?://\S+|\[\w+[ \]].*\[/\w+\]|.{0,120}\u00a9.{0,60})$",
    re.IGNORECASE)

BLOCKS = ("p", "h2", "h3", "h4", "blockquote", "li")
#: What trafilatura discards unread, but only after scanning it on every pass:
#: dropped first, a page's megabyte of inline scripts costs nothing (JSON-LD stays,
#: for its metadata fallback)
INERT_XPATH = '//script[not(@type="application/ld+json")] | //style | //svg'


def extract_body(tree: Any, pristine: Any, *, author: bool) -> tuple[list[str], str | None]:
    """The body by the matching site profile; by the generic extractor when no
    profile matches or the profile's container holds no text (a false match).

    The generic extractor reads ``pristine``, the page as parsed (``tree`` may
    have lost notices already; the scripts, styles and SVG it would not read
    are dropped from it), and when ``author`` is asked for, the author it finds
    too (its metadata pass costs as much as the body's).
    """
    container = _container(tree)
    if container is not None:
        paragraphs = _profile_body(copy.deepcopy(container))  # the page stays whole
        if paragraphs:
            return paragraphs, None
    deks = tree.xpath('//meta[@name="description" or @property="og:description"]/@content')
    return _generic_body(pristine, _titles(tree), {clean(d).casefold() for d in deks}, author)


def _profile_body(container: Any) -> list[str]:
    _strip_noise(container)
    paragraphs: list[str] = []
    for node in container.iter(*BLOCKS):
        if any(a.tag in BLOCKS for a in node.iterancestors()):
            continue  # a <p> inside a <blockquote> or <li> is part of it
        text = without_relative_times(node.text_content())
        if text and not is_link_line(text):
            paragraphs.append(f"## {text}" if node.tag in ("h2", "h3", "h4") else text)
    return paragraphs


def _container(tree: Any) -> Any | None:
    """The body element of the first site profile that matches."""
    for _name, xpath in SITE_PROFILES:
        candidates = tree.xpath(xpath)
        if candidates:
            return max(candidates, key=lambda n: len(n.xpath(".//p")))
    return None


def _titles(tree: Any) -> set[str]:
    """The page's own title, in the forms generic extraction may repeat it in the body."""
    # the first <h1>: pages that use <h1> for their sections too keep those
    found = [n.text_content() for n in tree.xpath("(//h1)[1] | //title")]
    found += tree.xpath('//meta[@property="og:title" or @name="twitter:title"]/@content')
    titles = set()
    for title in map(clean, found):
        if title:
            titles.add(title.casefold())
            titles.add(re.split(r"\s[|\-–—]\s", title)[0].casefold())
    return titles


def _strip_noise(root: Any) -> None:
    for node in list(root.iter(*NOISE_TAGS)):
        if node is not root:
            node.drop_tree()
    for node in list(root.iter()):
        if node is root or not isinstance(node.tag, str):
            continue
        marks = f"{node.get('class', '')} {node.get('id', '')} {node.get('role', '')}"
        if NOISE_WORDS.search(marks) or node.get("aria-hidden") == "true":
            node.drop_tree()


def _blocks(node: Any) -> Iterator[tuple[str, str]]:
    """(tag, text) of the blocks in trafilatura's output, in order.

    Text may sit loose between blocks (after a ``<head>``, in a ``<list>``'s
    tail), so tails are blocks of their own; list items, quotes and table
    rows are one block each, nested content included.
    """
    if node.text and node.text.strip():
        yield "p", node.text
    for child in node:
        if child.tag in ("list", "table", "div"):
            yield from _blocks(child)
        elif child.tag == "row":
            yield "row", " ".join(t.strip() for t in child.itertext() if t.strip())
        else:
            yield child.tag, "".join(child.itertext())
        if child.tail and child.tail.strip():
            yield "p", child.tail


def _generic_body(page: Any, titles: set[str], deks: set[str], author: bool
                  ) -> tuple[list[str], str | None]:
    """The body by trafilatura, without the title and page furniture it lets through.

    ``deks`` (the page's descriptions) are dropped when shown as a subheading
    atop the body: that is the standfirst, a field of its own; as a paragraph
    it is often the lead, which stays.
    """
    import trafilatura

    for node in page.xpath(INERT_XPATH):
        node.drop_tree()

    def run(fast: bool) -> Any:
        # trafilatura changes the tree it is given: each pass reads a copy
        doc = trafilatura.bare_extraction(copy.deepcopy(page), with_metadata=author,
                                          include_comments=False, include_tables=True, fast=fast)
        return None if doc is None or isinstance(doc, dict) or doc.body is None else doc

    # The fast pass (no readability/justext comparison) is the more precise; the
    # backup extractors only help where it finds little.
    doc = run(fast=True)
    if doc is None or len(" ".join(doc.body.itertext()).split()) < BACKUP_BELOW_WORDS:
        doc = run(fast=False) or doc
    if doc is None:
        return [], None
    for line_break in doc.body.iter("lb"):
        line_break.tail = "\n" + (line_break.tail or "")
    body = []
    for tag, raw in _blocks(doc.body):
        text = without_relative_times(raw)
        if (not text or text.casefold() in titles or BOILERPLATE_LINE.match(text)
                or is_link_line(text) or (tag == "head" and text.casefold() in deks)):
            continue
        body.append(f"## {text}" if tag == "head" else text)
    return _without_teasers(body), doc.author


def _without_teasers(body: list[str]) -> list[str]:
    """The body without the runs of teasers generic extraction keeps at its ends.

    Links to other stories ("Photos: Europa, Mysterious Icy Moon of Jupiter")
    are short lines with no sentence end; a heading with nothing after it
    heads no section, nor do several headings in a row atop the body. A
    single short line may be a sign-off, so it stays.
    """
    start = 0
    while start < len(body) and body[start].startswith("## "):
        start += 1
    if start < 2:
        start = 0  # one heading atop the body may be its first section's
    end = len(body)
    while end > start and _teaser(body[end - 1]):
        end -= 1
    run = body[end:]
    if not (len(run) >= 2 or (run and run[0].startswith("## "))):
        end = len(body)
    return body[start:end]


def _teaser(line: str) -> bool:
    return line.startswith("## ") or (len(line.split()) <= TEASER_MAX_WORDS
                                      and not line.rstrip().endswith(SENTENCE_ENDS))
