"""Find words in every version of every article: which stories said them,
in which versions, and whether a later version took them out.

What a story says now is on the site; what it said before, and when that
went, is what only an archive of its versions can answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, func, select

from .database import from_db_time, to_db_time
from .queries import fetch_all, latest_headlines, site_filter
from .schema import articles, versions

#: The fields searched, in the order a match is reported
SEARCHED = ("headline", "dek", "body", "corrections", "lead_image_caption")
#: Characters of context either side of a match in its excerpt
CONTEXT = 90
#: Articles asked about in one query (SQLite takes some thousands of parameters)
CHUNK = 500
#: Quotation marks typed straight match their typographic forms, and back
_QUOTES = {"'": "['‘’]", "‘": "['‘’]", "’": "['‘’]", '"': '["“”]', "“": '["“”]', "”": '["“”]'}


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase as a pattern: any case, any run of spaces between its
    words, either form of quotation mark."""
    words = phrase.split()
    if not words:
        raise ValueError("nothing to search for")
    return re.compile(r"\s+".join("".join(_QUOTES.get(c) or re.escape(c) for c in word)
                                  for word in words), re.IGNORECASE)


def search_versions(engine: Engine, phrase: str, *, site: str | None = None,
                    since: datetime | None = None, removed: bool = False, limit: int = 50,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Articles any version of which contains ``phrase`` (whole text, any
    case), the one last seen saying it first: the versions that contain it,
    the fields, an excerpt, and ``removed_in``, the version that took it out
    (None while the latest version still has it). ``since``: only versions
    seen from then on; ``removed``: only the articles that took it out."""
    pattern = phrase_pattern(phrase)
    found: dict[str, list[Any]] = defaultdict(list)
    for row in fetch_all(engine, _candidates(phrase, site, since)):
        if _fields_with(row.fields, pattern):
            found[row.article_id].append(row)
    if not found:
        return []
    numbers: dict[str, dict[int, Any]] = defaultdict(dict)
    for r in _each(engine, list(found), _version_times):
        numbers[r.article_id][r.version] = r.captured_at
    heads = {r.article_id: r for r in _each(engine, list(found), _articles)}
    results = []
    for aid, rows in found.items():
        rows.sort(key=lambda r: r.version)
        times = numbers[aid]
        last = rows[-1].version
        removed_in = min((n for n in times if n > last), default=None)
        if removed and removed_in is None:
            continue
        head = heads[aid]
        results.append({
            "article_id": aid, "url": head.url, "status": head.status,
            "headline": (head.fields or {}).get("headline", ""),
            "versions": [r.version for r in rows], "latest_version": max(times),
            "first_seen": from_db_time(times[rows[0].version]),
            "last_seen": from_db_time(rows[-1].last_seen),
            "removed_in": removed_in,
            "removed_at": from_db_time(times[removed_in]) if removed_in else None,
            "fields": sorted({name for r in rows for name in _fields_with(r.fields, pattern)},
                             key=SEARCHED.index),
            "excerpt": excerpt(rows[-1].fields, pattern),
        })
    results.sort(key=lambda r: (r["last_seen"] or "", r["article_id"]), reverse=True)
    return results[offset:offset + limit]


def _candidates(phrase: str, site: str | None, since: datetime | None) -> Any:
    """The versions that may hold the phrase: a coarse filter in SQL on the
    stored JSON (its runs of ASCII letters and digits, which JSON keeps as they
    are), the exact match in Python."""
    query = (select(versions.c.article_id, versions.c.version, versions.c.fields,
                    versions.c.last_seen)
             .join(articles, articles.c.id == versions.c.article_id))
    if (condition := site_filter(articles.c.url, site)) is not None:
        query = query.where(condition)
    if since is not None:
        query = query.where(versions.c.last_seen >= to_db_time(since))
    stored = func.lower(cast(versions.c.fields, Text))
    for run in set(re.findall(r"[a-z0-9]+", phrase.lower())):
        query = query.where(stored.contains(run, autoescape=True))
    return query


def _fields_with(fields: dict[str, Any], pattern: re.Pattern[str]) -> list[str]:
    return [name for name in SEARCHED if any(pattern.search(text) for text in _texts(fields, name))]


def _texts(fields: dict[str, Any], name: str) -> list[str]:
    value = fields.get(name)
    if isinstance(value, str):
        return [value]
    return [text for text in value or () if isinstance(text, str)]


def excerpt(fields: dict[str, Any], pattern: re.Pattern[str]) -> str:
    """The first passage holding a match, cut to ``CONTEXT`` characters
    either side of it."""
    for name in SEARCHED:
        for text in _texts(fields, name):
            if match := pattern.search(text):
                start, end = max(0, match.start() - CONTEXT), match.end() + CONTEXT
                return (("…" if start else "") + text[start:end].strip()
                        + ("…" if end < len(text) else ""))
    return ""


def _each(engine: Engine, article_ids: list[str],
          query: Callable[[list[str]], Any]) -> Iterator[Any]:
    """The rows of ``query`` over the articles, asked about a chunk at a time."""
    for start in range(0, len(article_ids), CHUNK):
        yield from fetch_all(engine, query(article_ids[start:start + CHUNK]))


def _version_times(article_ids: list[str]) -> Any:
    """When each version of these articles was first captured."""
    return (select(versions.c.article_id, versions.c.version, versions.c.captured_at)
            .where(versions.c.article_id.in_(article_ids)))


def _articles(article_ids: list[str]) -> Any:
    """These articles, with their latest headline."""
    heads = latest_headlines()
    return (select(articles.c.id.label("article_id"), articles.c.url, articles.c.status,
                   heads.c.fields)
            .outerjoin(heads, heads.c.article_id == articles.c.id)
            .where(articles.c.id.in_(article_ids)))
