"""Text normalisation shared by extraction and comparison.

Two renderings of the same article must give the same text: Unicode NFC,
one space between words, no invisible characters, no "5 minutes ago".
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
SPACES = re.compile(r"\s+")
RELATIVE_TIME = re.compile(
    r"\b(?:(?:\d+|an?|one)\s+(?:sec|second|min|minute|hr|hour|day|week|month|year)s?\s+ago"
    r"|just now|yesterday|today)\b",
    re.IGNORECASE,
)
STAMP_WORDS = {"updated", "last updated", "published", "posted", "modified"}
#: Lines inside article bodies that point elsewhere rather than say anything.
LINK_LINE = re.compile(
    r"^(?:read more|related(?: news| articles?| stories)?|see also|also read|read also"
    r"|recommended|more on this(?: story)?|watch|listen)\s*[:|»>-]",
    re.IGNORECASE,
)


def clean(text: str) -> str:
    """NFC, invisible characters removed, whitespace collapsed and trimmed."""
    # (a regular expression: str.translate with a table is ten times slower)
    text = INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return SPACES.sub(" ", text).strip()


def without_relative_times(text: str) -> str:
    """``text`` with relative times ("3 hours ago") removed; "" for a bare
    "Updated 5 minutes ago" line."""
    text = clean(RELATIVE_TIME.sub("", text))
    return "" if text.lower().rstrip(":") in STAMP_WORDS else text


def is_link_line(text: str) -> bool:
    """True for "Read more: ..." and "Related News" lines."""
    return bool(LINK_LINE.match(text)) or text.lower() in {"related news", "read more"}
