"""Extraction rules of one's own, for the sites the generic extractor gets wrong.

A JSON file (``PALIMPSEST_SITE_RULES``) maps a host, and the hosts under it,
to CSS selectors::

    {"news.example.com": {
        "drop": [".related-stories", ".newsletter-signup"],
        "headline": "h1.story-title",
        "body": ".story-body > p",
        "authors": ".byline a",
        "gone": "body.error-page"}}

``drop`` removes what would otherwise be taken for the story (a box of
teasers inside the body, a sign-up form) before anything is read; ``headline``
is the first match's text; ``body`` is one paragraph per match, in page order;
``authors`` one name (or byline) per match; ``gone`` matches only the site's
own "not found" page, whatever it says (it is then the story unpublished, as
a soft 404 found by its words is). What a rule leaves out is extracted as for
any site. A page no selector of its rule matches is
extracted as for any site too: a redesign does not empty the archive.
Re-extraction (``palimpsest reextract``) applies changed rules to what is
already stored; so does the next snapshot of an article, to that article's
(each version names the rule it was read under: ``SiteRule.digest``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

FIELDS = ("headline", "body", "authors", "gone")


@dataclass(frozen=True)
class SiteRule:
    """The selectors of one site (CSS); None: as for any site."""

    drop: tuple[str, ...] = ()
    headline: str | None = None
    body: str | None = None
    authors: str | None = None
    gone: str | None = None

    @property
    def digest(self) -> str:
        """A short name for the rule as it is (a changed rule, another name)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:6]


@dataclass(frozen=True)
class SiteRules:
    """Rules by host; a host's rule holds for the hosts under it too."""

    by_host: Mapping[str, SiteRule]

    @classmethod
    def load(cls, path: str | Path) -> SiteRules:
        """The rules in the JSON file at ``path`` (every selector checked)."""
        where = f"PALIMPSEST_SITE_RULES ({path})"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where} cannot be read as JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must map hosts to rules")
        return cls({host.lower().removeprefix("www."): _rule(f"{where}, {host}", rule)
                    for host, rule in data.items()})

    def for_url(self, url: str | None) -> SiteRule | None:
        """The rule for ``url``'s host: its own, else its nearest parent's."""
        host = (urlsplit(url or "").hostname or "").removeprefix("www.")
        while host:
            if host in self.by_host:
                return self.by_host[host]
            host = host.partition(".")[2]
        return None


def _rule(where: str, rule: Any) -> SiteRule:
    if not isinstance(rule, dict) or set(rule) - {"drop", *FIELDS}:
        raise ConfigError(f"{where}: a rule is an object of drop, {', '.join(FIELDS)}")
    drop = rule.get("drop", [])
    if isinstance(drop, str) or not all(isinstance(s, str) for s in drop):
        raise ConfigError(f"{where}: drop must be a list of selectors")
    values = {name: rule.get(name) for name in FIELDS}
    for selector in [*drop, *(v for v in values.values() if v is not None)]:
        try:
            xpath(selector)
        except Exception as exc:  # noqa: BLE001 - cssselect's errors and a non-string alike
            raise ConfigError(f"{where}: {selector!r} is not a CSS selector ({exc})") from exc
    return SiteRule(drop=tuple(drop), **values)


@lru_cache(maxsize=256)
def xpath(selector: str) -> str:
    """The XPath of a CSS selector (lxml evaluates XPath)."""
    from cssselect import HTMLTranslator

    return str(HTMLTranslator().css_to_xpath(selector))
