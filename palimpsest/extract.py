"""Extract an :class:`Article` from the HTML of a news page (pure functions).

Structured data is trusted first (JSON-LD with its ``@graph``, microdata,
OpenGraph and ``article:*`` meta, Dublin Core), then what the page shows: the
headline ``<h1>`` without its kicker, the byline (names by ``byline.py``),
the written date, tag lists. The body comes from ``body.py``; corrections
and editor's notes are taken out of it into a field of their own.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from . import byline, dates
from .body import extract_body
from .errors import ExtractError
from .models import Article
from .site_rules import SiteRule, SiteRules, xpath
from .text import clean

#: Bumped whenever a change can alter extracted fields; stored with versions.
EXTRACTOR_VERSION = "9"

ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "blogposting", "liveblogposting",
    "reviewnewsarticle", "socialmediaposting", "report", "webpage",
}
AGENCY_CREDIT = re.compile(rf"\(([^()]{{0,30}}\b(?:{byline.AGENCIES})\b[^()]{{0,20}})\)",
                           re.IGNORECASE)
#: Bylines of readers' comments are not the article's
COMMENTS = re.compile(r"comment|kommentar|respond|reply|disqus", re.IGNORECASE)
#: A short text that labels its author: "Auteur : X", "Autor: X", "责任编辑：X"
AUTHOR_LABEL_XPATH = (
    '//body//*[self::p or self::span or self::div or self::li]'
    '[string-length(normalize-space(.)) < 80][not(*[self::p or self::div])]'
    '[starts-with(normalize-space(.), "Auteur") or starts-with(normalize-space(.), "Autor")'
    ' or starts-with(normalize-space(.), "Author:") or starts-with(normalize-space(.), "Text:")'
    ' or contains(., "责任编辑")]'
)
#: A site named by its host ("www.elcolombiano.com")
HOST_NAME = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,}", re.IGNORECASE)
AUTHOR_LABEL = re.compile(r"(?:Auteur|Autor|Author|Text|责任编辑)\s*[:：]\s*(\S.*)")
TAG_LINKS_XPATH = (
    '//*[contains(concat(" ", normalize-space(@class), " "), " tags ")'
    ' or contains(@class, "field-tags") or contains(@class, "article-tags")'
    ' or contains(@class, "tags-list") or contains(@class, "tag-list")'
    ' or @rel="tag"]//a | //a[@rel="tag"]'
    # (links to topic pages in the article's own sentences are not its tag list)
    ' | //article//a[(contains(@href, "/tag/") or contains(@href, "/tags/")'
    ' or contains(@href, "/topic/") or contains(@href, "/schlagwort")) and not(ancestor::p)]'
)
TAG_PATHS = ("/tag/", "/tags/", "/motcle/", "/mot/", "/topic/", "/topics/", "/thema/",
             "/schlagwort", "/keyword/", "/etiqueta/", "/tema/", "/genre/")
TAG_HREF_XPATH = "//body//a[" + " or ".join(
    f'contains(@href, "{p}") or starts-with(@href, "{p[1:]}")' for p in TAG_PATHS) + "]"
#: "Joe Biden (233)", "2020 Election (611 posts)": a tag cloud's counts
TAG_COUNT = re.compile(r"\s*\(\d[\d,.]*(?: \w+)?\)$")
CORRECTION_LINE = re.compile(
    r"^(?:correction|clarification|editor[\u2019']?s note|corrige|berichtigung|korrektur"
    r"|fe de errores|rectificaci[oó]n)\b\s*[:.\u2014\u2013-]", re.IGNORECASE)
#: The words CORRECTION_XPATH looks for in classes and ids
CORRECTION_MARKS = ("correction", "editors-note", "editor-note")
CORRECTION_XPATH = (
    '//*[contains(@class, "correction") or contains(@id, "correction")'
    ' or contains(@class, "editors-note") or contains(@class, "editor-note")]'
)
WALL_PHRASES = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|to continue reading,? (?:please )?"
    r"(?:subscribe|log ?in|sign ?in)|this (?:article|content|story) is (?:only )?(?:available )?"
    r"(?:for|to) (?:subscribers|members)|already a subscriber|verify you are (?:a )?human"
    r"|checking (?:if the site connection is secure|your browser)|enable javascript and cookies"
    r" to continue|we value your privacy|before you continue to|access denied",
    re.IGNORECASE)

#: What a page says when the article is not there: "page not found" served
#: with status 200 (a soft 404, as many sites answer for a story taken down),
#: or a notice that the story was removed. Looked for in a short page only
#: (see WALL_MAX_WORDS): an article may quote these words. In the headline or
#: the <title>:
GONE_TITLE = re.compile(
    r"^\W*404\b|\berror 404\b|\b404 (?:error|page|not found)\b"
    r"|\b(?:page|article|story|content) (?:was )?not found\b"
    r"|seite (?:wurde )?nicht gefunden|page (?:non )?introuvable|p[áa]gina no encontrada"
    r"|pagina non trovata|pagina niet gevonden", re.IGNORECASE)
#: ... or in the headline, or a paragraph of at most NOTICE_WORDS words of a
#: body of at most NOTICE_PARAGRAPHS:
NOTICE_WORDS, NOTICE_PARAGRAPHS = 25, 3
GONE_TEXT = re.compile(
    r"\b(?:can(?:no|['’])t|could(?:n['’]t| not)|unable to) (?:seem to )?find "
    r"(?:that|the|this|your) (?:page|article|story)"
    r"|\b(?:page|article|story) (?:can(?:no|['’])t|could(?:n['’]t| not)) be found"
    r"|\b(?:page|article|story|content) (?:that )?you(?:['’]re| are| were| have been) looking for"
    r"|\b(?:page|article|story|content) you (?:have )?requested"
    r"|\bthis (?:article|story|page|content|post) (?:is no longer available|(?:has been|was) "
    r"(?:removed|taken down|deleted|unpublished|withdrawn))", re.IGNORECASE)


def _parser(**options: Any) -> lxml.html.HTMLParser:
    """A parser as trafilatura's (no comments, no processing instructions) whose
    elements are all plain ``HtmlElement``: lxml.html's own class lookup runs
    Python for every element touched, to find form classes nothing here uses."""
    parser = lxml.html.HTMLParser(collect_ids=False, remove_comments=True, remove_pis=True,
                                  **options)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
    return parser


PARSER = _parser()
UTF8_PARSER = _parser(encoding="utf-8")
VISIBLE_TEXT = "//body//text()[not(ancestor::script) and not(ancestor::style)]"
#: A page this short that speaks of subscribing or proving you are human is a wall.
WALL_MAX_WORDS = 150
TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " · ", " » ", " :: ", "|", "-", "_")
#: An <h1> marked as the article's headline (not the site's logo)
HEADLINE_MARK = re.compile(r"\bheadline\b|(?:^|\s)(?:post|entry|article|story)[-_]?title\b",
                           re.IGNORECASE)
#: Parts of an <h1> that are not the headline: kickers, overlines, hidden separators
KICKER_CLASS = re.compile(r"kicker|overline|dachzeile|topline|roofline|eyebrow|entry-section|rubric"
                          r"|visually-hidden"
                          r"|sr-only|screen-reader", re.IGNORECASE)
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                        "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
#: The class of a byline element (besides rel or itemprop "author", "byline" in an id)
BYLINE_CLASS = re.compile(r"byline|Byline|author|Author|autor|full-name")
UNSHOWN_TAGS = frozenset(("script", "style", "meta", "link"))
#: Links to an author's page: the byline of pages that mark it no other way
AUTHOR_LINK_XPATH = (
    '//body//a[contains(@href, "/author/") or contains(@href, "/autor/")'
    ' or contains(@href, "/auteur/") or contains(@href, "/staff/")'
    ' or contains(@href, "/reporters/") or contains(@href, "/journalist/")]'
)


def extract(html: str | bytes, *, url: str | None = None,
            rules: SiteRules | None = None) -> Article:
    """The article in ``html``; ``url`` resolves relative links and picks the
    site's own rule among ``rules``, if it has one."""
    if not html or not html.strip():
        raise ExtractError("the page is empty")
    try:
        tree = _parse(html, url)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"the page could not be parsed as HTML: {exc}") from exc
    rule = rules.for_url(url) if rules is not None else None
    for selector in rule.drop if rule is not None else ():
        for element in tree.xpath(xpath(selector)):
            element.drop_tree()
    data = _json_ld(tree)
    meta = _meta(tree)
    sites = _site_names(tree, meta)
    fields = dict(
        headline=_headline(tree, data, meta, url),
        dek=clean(_first(data.get("description"), meta.get("og:description"),
                         meta.get("description")) or ""),
        authors=_authors(tree, data, meta, sites),
        published=dates.published(tree, data, meta, url),
        modified=dates.modified(data, meta),
        section=clean(_first(_text_of(data.get("articleSection")),
                             meta.get("article:section")) or ""),
        tags=_tags(tree, data, meta),
        lead_image=_first(_image(data.get("image")), meta.get("og:image")),
        canonical_url=_first(_attr(tree, '//link[@rel="canonical"]/@href'), meta.get("og:url")),
        language=_first(_text_of(data.get("inLanguage")), _attr(tree, "/html/@lang")),
    )
    fields["lead_image_caption"] = _caption(tree, data)
    # The page as parsed, for the generic extractor and the wall check: a copy
    # only for a page whose notices are about to be cut out of the tree.
    text = html if isinstance(html, str) else html.decode("latin-1")  # (ASCII marks)
    noted = any(mark in text for mark in CORRECTION_MARKS)
    pristine = copy.deepcopy(tree) if noted else tree
    corrections = _correction_notices(tree) if noted else []
    ruled = _by_rule(tree, rule, fields, sites) if rule is not None else []
    # The author the generic extractor reads fills in for a page that names none.
    body, author = (ruled, None) if ruled else extract_body(tree, pristine,
                                                            author=not fields["authors"])
    if not fields["authors"] and author:
        fields["authors"] = tuple(byline.names([author], sites=sites))
    if not fields["authors"]:
        fields["authors"] = _agency_credit(body)
    corrections += [p for p in body if CORRECTION_LINE.match(p)]
    body = [p for p in body if not CORRECTION_LINE.match(p)]
    gone = _gone(tree, fields["headline"], body)
    if rule is not None and rule.gone and tree.xpath(xpath(rule.gone)):
        gone = gone or fields["headline"] or "the site's own page for a story not there"
    extractor = EXTRACTOR_VERSION + (f"+rule.{rule.digest}" if rule is not None else "")
    return Article(body=tuple(body), corrections=tuple(_dedupe(corrections)),
                   wall=_is_wall(pristine, body), gone=gone, extractor=extractor, **fields)


def _parse(html: str | bytes, url: str | None) -> Any:
    """The page's tree, parsed as trafilatura parses (no comments, no processing
    instructions), so that a copy of it can be handed to trafilatura."""
    try:
        tree = lxml.html.fromstring(html, base_url=url, parser=PARSER)
    except ValueError:
        if not isinstance(html, str):
            raise
        # lxml refuses text that starts with an XML declaration naming an encoding.
        tree = lxml.html.fromstring(html.encode("utf-8"), base_url=url, parser=UTF8_PARSER)
    # A web component's shadow root, as a DOM record keeps it, is what a reader
    # sees in its place, not an inert template (which extraction drops).
    for shadow in tree.xpath("//template[@shadowrootmode]"):
        shadow.drop_tag()
    return tree


def _first(*values: Any) -> Any:
    return next((v for v in values if v), None)


def _attr(tree: Any, xpath: str) -> str | None:
    found = tree.xpath(xpath)
    return clean(str(found[0])) if found else None


def _text_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return clean(str(value)) if value else None


def _json_ld(tree: Any) -> dict[str, Any]:
    """The first article-like object in the page's JSON-LD (``@graph`` too)."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for item in _walk(data):
            types = item.get("@type", [])
            types = [types] if isinstance(types, str) else types
            if any(str(t).lower() in ARTICLE_TYPES - {"webpage"} for t in types):
                return _resolved(item, data)
    return {}


def _resolved(item: dict[str, Any], document: Any) -> dict[str, Any]:
    """``item`` with its author references (``{"@id": ...}``) replaced by the
    nodes of the same document they name (Yoast-style ``@graph``)."""
    named = {n["@id"]: n for n in _walk(document)
             if isinstance(n.get("@id"), str) and n.get("name")}
    authors = item.get("author")
    if not named or not authors:
        return item
    authors = [named.get(a.get("@id"), a) if isinstance(a, dict) else a
               for a in (authors if isinstance(authors, list) else [authors])]
    return {**item, "author": authors}


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _walk(data["@graph"])


def _meta(tree: Any) -> dict[str, str]:
    """``<meta>`` values by property or name; repeated ``article:tag`` joined by "\\n"."""
    meta: dict[str, str] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").lower()
        value = clean(node.get("content"))
        if key and value:
            meta[key] = f"{meta[key]}\n{value}" if key in meta and key.endswith(":tag") else \
                meta.get(key, value)
    return meta


def _headline(tree: Any, data: dict[str, Any], meta: dict[str, str], url: str | None) -> str:
    """The visible headline, checked against the page's declared titles.

    Pages put their site name, a section or a kicker in ``<h1>`` too, so an
    ``<h1>`` counts when it is marked as the headline, or when the JSON-LD
    headline, og:title or ``<title>`` agrees with it (of two that contain one
    another, the shorter: without kicker or site name).
    """
    publisher = data.get("publisher")
    sites = {n.casefold() for n in (meta.get("og:site_name"), meta.get("application-name"),
                                    _text_of(publisher) if publisher else None) if n}
    label = _host_label(url)
    declared = [_without_site(clean(t), sites, label)
                for t in (_text_of(data.get("headline")), meta.get("og:title"),
                          meta.get("twitter:title")) if t]
    title = _attr(tree, "//title/text()")
    titled = [_without_site(title, sites, label)] if title else []
    visible = [(h, text) for h in tree.xpath("//h1") if (text := _h1_text(h))]
    for h1, shown in visible:
        if HEADLINE_MARK.search(f'{h1.get("itemprop", "")} {h1.get("class", "")}') \
                and len(shown.split()) >= 4 and shown.casefold() not in sites:
            return shown
    for _, shown in visible:
        for other in declared + titled:
            if _same_title(shown, other):
                return min(shown, other, key=len)
    return next(iter(declared + [text for _, text in visible] + titled), "")


def _h1_text(h1: Any) -> str:
    """An ``<h1>``'s text without its kicker, overline or screen-reader-only parts."""
    h1, cut = copy.deepcopy(h1), False
    for part in h1.xpath(".//*[@class]"):
        if KICKER_CLASS.search(part.get("class", "")) and part.getparent() is not None:
            part.drop_tree()
            cut = True
    text = clean(h1.text_content())
    # (the separator that followed the kicker: "Kicker<span>: </span>Headline")
    return text.lstrip(":|·–— ") if cut else text


def _without_site(title: str, sites: set[str], label: str) -> str:
    """``title`` without a trailing "| Site name" (or "- site.com", "-新华网")."""
    for separator in TITLE_SEPARATORS:
        head, _, tail = title.rpartition(separator)
        if not head or not tail:
            continue
        letters = _letters(tail)
        if (tail.casefold().strip() in sites or any(letters == _letters(s) for s in sites)
                or (len(label) >= 3 and label in letters and len(tail.split()) <= 6)
                or (separator == "-" and " " not in title and len(tail) <= 4)):
            return _without_site(head.strip(), sites, label)
    return title


def _letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _host_label(url: str | None) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    return _letters(host.removeprefix("www.").split(".")[0])


def _same_title(a: str, b: str) -> bool:
    a, b = a.casefold().translate(QUOTES), b.casefold().translate(QUOTES)
    if not a or not b:
        return False
    return a == b or (min(len(a), len(b)) >= 20 and (a in b or b in a))


def _authors(tree: Any, data: dict[str, Any], meta: dict[str, str], sites: set[str]
             ) -> tuple[str, ...]:
    """Authors from JSON-LD, else the page's byline, else ``<meta name=author>``;
    none of them the site's own name (``sites``)."""
    author = data.get("author")
    declared = [_text_of(item) for item in (author if isinstance(author, list) else [author])]
    found = byline.names([d for d in declared if d], sites=sites)
    if not found:
        found = byline.names(_byline_texts(tree), sites=sites)
    if not found:  # "Auteur : Kossivi Tiassou", "责任编辑：焦鹏" in the text
        labelled = (AUTHOR_LABEL.search(" ".join(n.itertext()))
                    for n in tree.xpath(AUTHOR_LABEL_XPATH))
        found = byline.names([m.group(1) for m in labelled if m], sites=sites)
    named = byline.names([meta["author"]], sites=sites) if meta.get("author") else []
    # (the meta's list may name all the byline's authors where the rest name
    # the first: "April Roach, Daniel O'Mahony" against JSON-LD's "April Roach")
    if not found or _folded(found) < _folded(named):
        found = named
    return tuple(found)


def _folded(names: list[str]) -> set[str]:
    return {name.casefold() for name in names}


def _byline_texts(tree: Any) -> list[str]:
    """The article's byline: the first byline element naming someone, with the
    byline elements beside it (several authors), not those of teasers further on
    nor of readers' comments; links to author pages when nothing is marked."""
    return _first_byline(_bylines(tree)) or _first_byline(tree.xpath(AUTHOR_LINK_XPATH))


def _bylines(tree: Any) -> Iterator[Any]:
    """Elements marked as bylines, in document order: a scan in Python, 2-3x
    faster than libxml2's XPath with its many ``contains()``."""
    for body in tree.iter("body"):
        for node in body.iterdescendants(etree.Element):
            get = node.get
            if node.tag not in UNSHOWN_TAGS and (
                    get("rel") == "author" or get("itemprop") == "author"
                    or "byline" in get("id", "") or "byline" in get("data-testid", "")
                    or BYLINE_CLASS.search(get("class", ""))):
                yield node


def _first_byline(found: Iterable[Any]) -> list[str]:
    nodes = [(n, text) for n in found if len(text := " ".join(n.itertext())) < 300]
    for node, text in nodes:
        if byline.names([text]) and not _in_comments(node):
            parent = node.getparent()
            return [t for n, t in nodes if n is node or (
                n.getparent() is parent and n.tag == node.tag and not _in_comments(n))]
    return []


def _in_comments(node: Any) -> bool:
    return bool(COMMENTS.search(" ".join(a.get("class", "") + " " + a.get("id", "")
                                         for a in (node, *node.iterancestors()))))


def _agency_credit(body: list[str]) -> tuple[str, ...]:
    """A news agency credited in the text when no one signs: "Hamburg (dpa/lno) -",
    "... (FR mit dpa)". The credit stays whole: it names a desk, not people."""
    for paragraph in body[:1] + body[-3:]:
        found = AGENCY_CREDIT.search(paragraph)
        if found:
            return (found.group(1).strip(),)
    return ()


def _site_names(tree: Any, meta: dict[str, str]) -> set[str]:
    """Names the site goes by: a byline naming only these names no person."""
    names = {meta.get("og:site_name", ""), meta.get("application-name", "")}
    title = _attr(tree, "//title/text()") or ""
    for separator in (" | ", " – ", " — ", " - "):
        if separator in title:
            names.add(title.rsplit(separator, 1)[1])
    # (a host for a name, "www.elcolombiano.com", goes by its label: "El Colombiano")
    names |= {_host_label(f"//{n}") for n in names if HOST_NAME.fullmatch(n)}
    return {n.casefold() for n in names if n}


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())


def _tags(tree: Any, data: dict[str, Any], meta: dict[str, str]) -> tuple[str, ...]:
    """Declared tags first (JSON-LD, ``article:tag``, ``news_keywords``, a site's
    own ``*:tag``), then the page's tag links, then ``<meta name=keywords>``.

    JSON-LD ``keywords`` as a list is the CMS's tag list; as one string it is
    often an SEO plugin's focus keywords ("2023,Hottest"), and ``article:tag``
    (one per tag) goes before it."""
    keywords = data.get("keywords")
    site_tags = next((v for k, v in meta.items() if k.endswith(":tag")), None)
    if isinstance(keywords, list):
        found = [str(k) for k in keywords]
    elif meta.get("article:tag"):
        found = meta["article:tag"].replace(",", "\n").split("\n")
    elif isinstance(keywords, str) and keywords.strip():
        found = keywords.split(",")
    elif declared := meta.get("news_keywords") or site_tags:
        found = declared.replace(",", "\n").split("\n")
    else:
        found = [" ".join(a.itertext()) for a in tree.xpath(TAG_LINKS_XPATH)]
        found = found or _tag_link_group(tree)
        if not found and meta.get("keywords"):
            found = meta["keywords"].split(",")
    # "# FACC": a hashtag's mark is no part of the tag
    tags = (TAG_COUNT.sub("", clean(t).lstrip("#").lstrip()) for t in found)
    # ("/article": a CMS's path among its keywords is no tag either)
    return tuple(_dedupe(t for t in tags if t and t.strip(".… ") and len(t) <= 80
                         and not t.startswith("/") and "://" not in t))


def _tag_link_group(tree: Any) -> list[str]:
    """The last group of two or more links to tag pages that share a parent:
    the tag list under the article (navigation menus come earlier)."""
    groups: dict[Any, list[str]] = {}
    for link in tree.xpath(TAG_HREF_XPATH):
        if not any(a.tag in ("nav", "header", "footer") for a in link.iterancestors()):
            parent = link.getparent()
            if parent is not None and parent.tag == "li":  # one tag an item: the list's
                parent = parent.getparent()
            groups.setdefault(parent, []).append(" ".join(link.itertext()))
    lists = [texts for texts in groups.values() if len(texts) >= 2]
    return lists[-1] if lists else []


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return str(value) if value else None


def _correction_notices(tree: Any) -> list[str]:
    """Correction and editor's notes marked as such; removed from the tree."""
    notices = []
    nodes = tree.xpath(CORRECTION_XPATH)
    for node in nodes:
        if any(a in nodes for a in node.iterancestors()):
            continue  # its text is in the outer notice
        text = clean(node.text_content())
        if text:
            notices.append(text)
        node.drop_tree()
    return notices


def _caption(tree: Any, data: dict[str, Any]) -> str:
    image = data.get("image")
    image = image[0] if isinstance(image, list) and image else image
    if isinstance(image, dict) and image.get("caption"):
        return clean(str(image["caption"]))
    found = tree.xpath("(//article//figure//figcaption | //main//figure//figcaption"
                       ' | //figure//*[contains(@class, "caption")])[1]')
    return clean(found[0].text_content()) if found else ""


def _by_rule(tree: Any, rule: SiteRule, fields: dict[str, Any], sites: set[str]) -> list[str]:
    """The headline and authors the site's rule picks out, set in ``fields``
    (where its selectors match); the body paragraphs it picks out."""
    fields["headline"] = next(iter(_selected(tree, rule.headline)), fields["headline"])
    fields["authors"] = tuple(byline.names(_selected(tree, rule.authors), sites=sites)
                              ) or fields["authors"]
    return _selected(tree, rule.body)


def _selected(tree: Any, selector: str | None) -> list[str]:
    """The text of each element ``selector`` (CSS) matches, in page order."""
    if not selector:
        return []
    return [text for text in (clean(e.text_content()) for e in tree.xpath(xpath(selector)))
            if text]


def _gone(page: Any, headline: str, body: list[str]) -> str:
    """What the page says if it says the article is not there (a soft 404, a
    takedown notice), in its own words; "" for an article."""
    if not _short(body):
        return ""
    title = clean(page.findtext(".//title") or "")
    said = [t for t in (headline, title) if GONE_TITLE.search(t)]
    # (a notice is a sentence or two, in place of the story; a longer
    # paragraph, or one of many, may be a story quoting one)
    notices = (headline, *body) if len(body) <= NOTICE_PARAGRAPHS else (headline,)
    said += [t for t in notices if len(t.split()) <= NOTICE_WORDS and GONE_TEXT.search(t)]
    return min(said, key=lambda t: t != headline, default="")[:300]


def _short(body: list[str]) -> bool:
    """Short enough to be a notice (a wall's, a "not found") rather than a story."""
    return sum(len(p.split()) for p in body) <= WALL_MAX_WORDS


def _is_wall(page: Any, body: list[str]) -> bool:
    """A paywall, consent or bot-check page rather than the article."""
    if not _short(body):
        return False
    return bool(WALL_PHRASES.search(clean(" ".join(page.xpath(VISIBLE_TEXT)))))


