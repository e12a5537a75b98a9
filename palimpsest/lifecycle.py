"""What an article's lifecycle events (``models.EVENT_KINDS``) say, in words:
one wording for the terminal, the web pages, the Atom feeds and the webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: What each kind of event is called, after the article's headline
TITLES = {
    "unpublished": "unpublished", "republished": "back online", "moved": "moved",
    "redirected": "now redirects elsewhere", "wall": "behind a wall",
    "ab_test": "headline A/B test",
}


def title(kind: str) -> str:
    return TITLES.get(kind, kind.replace("_", " "))


def said(kind: str, detail: Mapping[str, Any]) -> str:
    """What the event's ``detail`` tells, as a phrase ("" if nothing)."""
    detail = dict(detail)
    status = detail.pop("http_status", None)
    answered = f"HTTP {status}" if status is not None else ""
    if kind == "unpublished" and (notice := detail.pop("notice", None)):
        phrase = f"the page says “{notice}”" + (f" ({answered})" if answered else "")
    elif kind == "moved" and {"from", "to"} <= detail.keys():
        phrase = f"from {detail.pop('from')} to {detail.pop('to')}"
    elif kind == "redirected" and "to" in detail:
        phrase = f"to {detail.pop('to')}"
    elif kind == "wall" and (headline := detail.pop("headline", None)):
        phrase = f"the page shows “{headline}”"
    elif kind == "ab_test" and {"versions", "headlines"} <= detail.keys():
        versions, headlines = detail.pop("versions"), detail.pop("headlines")
        phrase = (" and ".join(f"v{v}" for v in versions) + " alternate: "
                  + " / ".join(f"“{h}”" for h in headlines))
    else:
        phrase = answered
    rest = "; ".join(f"{key}: {_text(value)}" for key, value in detail.items())
    return "; ".join(part for part in (phrase, rest) if part)


def describe(kind: str, detail: Mapping[str, Any]) -> str:
    """The event in a line: "unpublished: the page says “Not found” (HTTP 200)"."""
    phrase = said(kind, detail)
    return f"{title(kind)}: {phrase}" if phrase else title(kind)


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
