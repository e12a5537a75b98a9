"""Discover article URLs in RSS and Atom feeds and in (news) sitemaps.

Feeds are fetched like any other user-supplied URL: http(s) only, internal
addresses refused (every redirect is checked too), a size cap and a timeout.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from .config import Settings
from .errors import CaptureError, NetworkError
from .urls import check_url

MAX_FEED_BYTES = 20 * 1024 * 1024
#: Child sitemaps followed from one sitemap index.
MAX_CHILD_SITEMAPS = 20


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        check_url(newurl, allow_private=self.allow_private)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, settings: Settings, *, timeout: float = 30.0) -> bytes:
    """The body at ``url``, refusing internal addresses and oversized answers."""
    url = check_url(url, allow_private=settings.allow_private)
    opener = urllib.request.build_opener(_CheckedRedirects(settings.allow_private))
    request = urllib.request.Request(url, headers={
        "User-Agent": settings.user_agent or "Palimpsest/0.1 (+news archive)",
        "Accept": "application/rss+xml, application/atom+xml, application/xml, text/xml, */*",
    })
    try:
        with opener.open(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_FEED_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise CaptureError(f"{url} answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise NetworkError(f"{url} could not be fetched: {exc}") from exc
    if len(data) > MAX_FEED_BYTES:
        raise CaptureError(f"{url} is larger than {MAX_FEED_BYTES} bytes")
    return data


def parse(data: bytes, base_url: str) -> tuple[list[str], list[str]]:
    """(article URLs, child sitemap URLs) in an RSS, Atom or sitemap document."""
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(
            resolve_entities=False, no_network=True, recover=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise CaptureError(f"{base_url} is not a feed or sitemap: {exc}") from exc
    if root is None:
        raise CaptureError(f"{base_url} is not a feed or sitemap")
    kind = etree.QName(root).localname.lower()
    if kind == "sitemapindex":
        return [], _locs(root, "sitemap", base_url)
    if kind == "urlset":
        return _locs(root, "url", base_url), []
    if kind in ("rss", "rdf"):
        links = [_text(item, "link") for item in root.iter("{*}item", "item")]
    elif kind == "feed":
        links = [_atom_link(entry) for entry in root.iter("{*}entry")]
    else:
        raise CaptureError(f"{base_url} is not a feed or sitemap (root element <{kind}>)")
    return _absolute((link for link in links if link), base_url), []


def discover(url: str, settings: Settings) -> list[str]:
    """Article URLs listed by the feed or sitemap at ``url`` (child sitemaps followed)."""
    articles, children = parse(fetch(url, settings), url)
    for child in children[:MAX_CHILD_SITEMAPS]:
        articles += parse(fetch(child, settings), child)[0]
    return list(dict.fromkeys(articles))


def _text(node: Any, name: str) -> str:
    found = node.find(f"{{*}}{name}")
    if found is None:
        found = node.find(name)
    return (found.text or "").strip() if found is not None else ""


def _atom_link(entry: Any) -> str:
    for link in entry.iter("{*}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link.get("href"))
    return ""


def _locs(root: Any, element: str, base_url: str) -> list[str]:
    return _absolute((_text(node, "loc") for node in root.iter(f"{{*}}{element}")), base_url)


def _absolute(links: Any, base_url: str) -> list[str]:
    found = []
    for link in links:
        absolute = urljoin(base_url, link.strip())
        if absolute.startswith(("http://", "https://")):
            found.append(absolute)
    return found
