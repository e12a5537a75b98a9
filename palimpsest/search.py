"""Find words in every version of every article: which stories said them,
in which versions, and whether a later version took them out.

What a story says now is on the site; what it said before, and when that
went, is what only an archive of its versions can answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, func, select

from .database import from_db_time, to_db_time
from .models import TEXT_FIELDS
from .queries import fetch_all, site_filter
from .schema import articles, versions

#: The fields searched, in the order a match is reported
SEARCHED = TEXT_FIELDS
#: Characters of context either side of a match in its excerpt
CONTEXT = 90
#: Articles whose versions are read at once
CHUNK = 100
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
                    since: datetime | None = None, removed: bool = False,
                    within: tuple[str, ...] = SEARCHED, limit: int = 50,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Articles any version of which contains ``phrase`` (whole text, any
    case), the one last seen saying it first: the versions that contain it,
    the fields, an excerpt, and ``removed_in``, the version that took it out
    (None while the latest version still has it). ``since``: only articles
    seen saying it from then on; ``removed``: only those that took it out;
    ``within``: the fields searched (say, only ``headline``).

    Articles are read a chunk at a time, and no further than the page asked
    for needs: a common word costs no more than a rare one."""
    pattern = phrase_pattern(phrase)
    candidates = [r.article_id for r in fetch_all(engine, _candidates(phrase, site, since))]
    results: list[dict[str, Any]] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        rows = defaultdict(list)
        for row in fetch_all(engine, _versions_of(chunk)):
            rows[row.article_id].append(row)
        for aid in chunk:
            found = _found(rows[aid], pattern, since, within)
            if found and not (removed and found["removed_in"] is None):
                results.append(found)
        if len(results) >= offset + limit:
            break
    return results[offset:offset + limit]


def _found(rows: list[Any], pattern: re.Pattern[str], since: datetime | None,
           within: tuple[str, ...]) -> dict[str, Any] | None:
    """What the versions (oldest first) of one article say of the phrase."""
    latest = rows[-1]
    said = [(row, names) for row in rows
            if (names := _fields_with(row.fields, pattern, within))]
    if not said or (since is not None and said[-1][0].last_seen < to_db_time(since)):
        return None
    first, last = said[0][0], said[-1][0]
    removal = next((row for row in rows if row.version > last.version), None)
    return {
        "article_id": latest.article_id, "url": latest.url, "status": latest.status,
        "headline": latest.fields.get("headline", ""),
        "versions": [row.version for row, _ in said], "latest_version": latest.version,
        "first_seen": from_db_time(first.captured_at), "last_seen": from_db_time(last.last_seen),
        "removed_in": removal.version if removal else None,
        "removed_at": from_db_time(removal.captured_at) if removal else None,
        "fields": [name for name in within if any(name in names for _, names in said)],
        "excerpt": excerpt(last.fields, pattern, within),
    }


def _candidates(phrase: str, site: str | None, since: datetime | None) -> Any:
    """The articles that may have said the phrase, the one last seen saying it
    first: a coarse filter in SQL on the stored JSON (its runs of ASCII
    letters, digits and single spaces, which JSON keeps as they are, and which
    extraction's text keeps between words), the exact match in Python."""
    seen = func.max(versions.c.last_seen).label("seen")
    query = (select(versions.c.article_id, seen)
             .join(articles, articles.c.id == versions.c.article_id)
             .group_by(versions.c.article_id).order_by(seen.desc(), versions.c.article_id))
    if (condition := site_filter(articles.c.url, site)) is not None:
        query = query.where(condition)
    if since is not None:
        query = query.where(versions.c.last_seen >= to_db_time(since))
    stored = func.lower(cast(versions.c.fields, Text))
    for run in set(re.findall(r"[a-z0-9]+(?: [a-z0-9]+)*", " ".join(phrase.lower().split()))):
        query = query.where(stored.contains(run, autoescape=True))
    return query


def _fields_with(fields: dict[str, Any], pattern: re.Pattern[str],
                 within: tuple[str, ...]) -> list[str]:
    return [name for name in within if any(pattern.search(text) for text in _texts(fields, name))]


def _texts(fields: dict[str, Any], name: str) -> list[str]:
    value = fields.get(name)
    if isinstance(value, str):
        return [value]
    return [text for text in value or () if isinstance(text, str)]


def excerpt(fields: dict[str, Any], pattern: re.Pattern[str],
            within: tuple[str, ...] = SEARCHED) -> str:
    """The first passage holding a match, cut to ``CONTEXT`` characters
    either side of it."""
    for name in within:
        for text in _texts(fields, name):
            if match := pattern.search(text):
                start, end = max(0, match.start() - CONTEXT), match.end() + CONTEXT
                return (("…" if start else "") + text[start:end].strip()
                        + ("…" if end < len(text) else ""))
    return ""


def _versions_of(article_ids: list[str]) -> Any:
    """Every version of these articles, oldest first, with the article's URL and status."""
    return (select(versions.c.article_id, versions.c.version, versions.c.fields,
                   versions.c.captured_at, versions.c.last_seen, articles.c.url,
                   articles.c.status)
            .join(articles, articles.c.id == versions.c.article_id)
            .where(versions.c.article_id.in_(article_ids)).order_by(versions.c.version))
