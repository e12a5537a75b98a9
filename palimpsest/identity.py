"""Article identity: one history across all the URLs an article goes by.

An article is known by every normalised URL it was requested at, redirected
to or declared canonical (tracking parameters stripped, so ``?utm_source=``
variants, AMP pages naming their canonical and slug changes join the same
history). A redirect to a page telling a different story is not an alias.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .errors import HistoryError
from .models import Article, Capture
from .schema import article_urls
from .urls import normalize_url

#: Share of word 3-grams two bodies must share to be the same story.
SAME_STORY = 0.5


def known_urls(capture: Capture, article: Article | None) -> list[str]:
    """The normalised URLs this capture may be known by, most specific first."""
    urls = [normalize_url(capture.url), normalize_url(capture.final_url)]
    canonical = article.canonical_url if article else None
    if canonical and _plausible_canonical(canonical, capture.final_url):
        urls.append(normalize_url(canonical))
    return list(dict.fromkeys(urls))


def _plausible_canonical(canonical: str, final_url: str) -> bool:
    """Sites point every page's canonical at their home page, or elsewhere; skip those."""
    parts, page = urlsplit(canonical), urlsplit(final_url)
    if parts.scheme not in ("http", "https") or parts.path in ("", "/"):
        return False
    return _site(parts.hostname) == _site(page.hostname)


def _site(host: str | None) -> str:
    host = (host or "").lower()
    for prefix in ("www.", "amp.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    return host


def find_article(conn: Connection, urls: Iterable[str]) -> str | None:
    """The article known by the first of ``urls`` that is known at all."""
    urls = list(urls)
    rows = dict(conn.execute(
        select(article_urls.c.url, article_urls.c.article_id)
        .where(article_urls.c.url.in_(urls))).all())
    return next((rows[u] for u in urls if u in rows), None)


def known_article(conn: Connection, url: str) -> str | None:
    """The article known by ``url`` (normalised), if any."""
    return find_article(conn, [normalize_url(url)])


def tracked_article(conn: Connection, url: str) -> str:
    """The article known by ``url``; HistoryError if no snapshot names it."""
    found = known_article(conn, url)
    if found is None:
        raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
    return found


def add_aliases(conn: Connection, article_id: str, urls: Iterable[str], when: datetime) -> None:
    """Record ``urls`` as names of the article; URLs another article owns stay its own."""
    urls = list(dict.fromkeys(urls))
    taken = set(conn.execute(select(article_urls.c.url).where(article_urls.c.url.in_(urls)))
                .scalars())
    new = [{"url": u, "article_id": article_id, "first_seen": when} for u in urls if u not in taken]
    if new:
        conn.execute(article_urls.insert(), new)


def aliases(conn: Connection, article_id: str) -> list[str]:
    return list(conn.execute(
        select(article_urls.c.url).where(article_urls.c.article_id == article_id)
        .order_by(article_urls.c.first_seen, article_urls.c.url)).scalars())


def same_story(article: Article, fields: dict[str, Any]) -> bool:
    """Whether ``article`` tells the story of an earlier version's ``fields``."""
    if article.headline and article.headline == fields.get("headline"):
        return True
    ours, theirs = _trigrams(article.body), _trigrams(fields.get("body") or [])
    if not ours or not theirs:
        return False
    shared = sum((ours & theirs).values())
    return shared / min(sum(ours.values()), sum(theirs.values())) >= SAME_STORY


def _trigrams(paragraphs: Iterable[str]) -> Counter[tuple[str, ...]]:
    words = " ".join(paragraphs).lower().split()
    return Counter(zip(words, words[1:], words[2:], strict=False))
