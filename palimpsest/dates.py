"""The publication date of a news page, as its readers were shown it.

Declared dates come first (JSON-LD, ``article:*`` meta, microdata, Dublin
Core), but they are not taken blindly: pages declare conflicting dates (the
JSON-LD says the 3rd, ``article:published_time`` the 6th), or date
themselves visibly by their last update. When the page shows a date that is
one of its declared dates, that one is the page's date; the article's own
date line wins when it is a day off (time zones, evening stories dated by
the next morning's edition). A UTC time is read
as the day it was where the site is (its country's time zone, or the day the
page shows near midnight). Pages that declare nothing are dated by what they
show, then by htmldate.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

#: 0001-01-01 and the like are a CMS's "no date", not a date
MIN_YEAR = 1900
#: Time zone abbreviations that news sites print after a time, with their
#: offsets in hours; those that mean more than one zone (CST: the US's
#: Central or China's; IST: India's, Ireland's or Israel's) are left out: a
#: time given with one of them is kept without an offset, as it was shown.
ZONE_NAMES = {
    "GMT": 0, "UTC": 0, "BST": 1, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "EST": -5, "EDT": -4, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8,
    "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8,
    "PHT": 8, "WIB": 7, "AWST": 8, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13,
}
_ZONE_SECONDS = {name: round(hours * 3600) for name, hours in ZONE_NAMES.items()}
MICRODATA_PUBLISHED = ('//*[@itemprop="datePublished"]/@content'
                       ' | //*[@itemprop="datePublished"]/@datetime')
#: 2023-11-07[ 15:03[:30]] or 31.03.2020[, 18:50] or 13. 1. 2020 or 10.12.19
WRITTEN_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b"
    r"|\b(?P<d>\d{1,2})\. ?(?P<m>\d{1,2})\. ?(?P<y>\d{4}|\d{2}\b)(?:,?\s*(?P<t>\d{1,2}:\d{2}))?")
#: The class of the element a page marks as its article's date line
DATE_LINE_CLASS = re.compile(r"date-article|article-date|article_date|post-date")
#: The class of an element that shows a date (as a ``<time>`` does)
DATE_CLASS = re.compile(r"date|Date")


def published(tree: Any, data: dict[str, Any], meta: dict[str, str], url: str | None
              ) -> str | None:
    """ISO 8601 publication date of the page (with its offset when known), or None."""
    declared = _dated(data.get("datePublished"), meta.get("article:published_time"),
                      _first_attr(tree, MICRODATA_PUBLISHED), meta.get("datepublished"),
                      meta.get("dc.date.issued"), meta.get("dcterms.created"),
                      data.get("dateCreated"))
    if declared:
        shown = parse(_shown(_classed(tree, DATE_CLASS, times=True)))
        updated = _dated(data.get("dateModified"), meta.get("article:modified_time"))
        for candidate in declared + updated:
            if shown and candidate[:10] == shown[:10]:
                return candidate
        # The article's own date line, a day off the declared time (a time
        # zone, an evening story in the next morning's edition), is the day
        # its readers saw.
        marked = parse(_shown(_classed(tree, DATE_LINE_CLASS)))
        if marked and abs(_day(marked) - _day(declared[0])) <= timedelta(days=1):
            return marked
        return _local(declared[0], tree, url)
    # A <time> the page shows, then a bare <meta name=date>, then a "date" element.
    shown = (parse(_shown(tree.iter("time"))) or parse(meta.get("date"))
             or parse(_shown(_classed(tree, DATE_CLASS, times=True))))
    if shown:
        return shown
    # Last, htmldate, searching the text too (as trafilatura's metadata pass did for us)
    from htmldate import find_date

    try:
        return parse(find_date(tree, original_date=True, extensive_search=True, url=url))
    except (ValueError, TypeError):
        return None


def modified(data: dict[str, Any], meta: dict[str, str]) -> str | None:
    found = _dated(data.get("dateModified"), meta.get("article:modified_time"))
    return found[0] if found else None


def parse(value: str | None) -> str | None:
    """ISO 8601 (with the offset when the value has one; a day alone when it
    gives no time, rather than a made-up midnight), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        timed = len(value) > 10
    except ValueError:
        from dateutil import parser

        try:
            with warnings.catch_warnings():  # (another zone's name: no offset, said above)
                warnings.simplefilter("ignore", parser.UnknownTimezoneWarning)
                moment = parser.parse(value, tzinfos=_ZONE_SECONDS)
                # a time the text does not give is filled from the default
                timed = parser.parse(value, default=datetime(2000, 1, 1, 1, 1),
                                     tzinfos=_ZONE_SECONDS) == moment
        except (ValueError, OverflowError):
            return None
    if moment.year < MIN_YEAR:
        return None
    return moment.isoformat() if timed else moment.date().isoformat()


def _century(year: int) -> str:
    """A two-digit year as the latest year it can be that is not in the future."""
    full = datetime.now().year // 100 * 100 + year
    return str(full if full <= datetime.now().year else full - 100)


def _day(iso: str) -> datetime:
    return datetime.fromisoformat(iso[:10])


def _dated(*values: Any) -> list[str]:
    return [d for d in (parse(v) if isinstance(v, str) else None for v in values) if d]


def _first_attr(tree: Any, xpath: str) -> str | None:
    found = tree.xpath(xpath)
    return str(found[0]) if found else None


def _local(declared: str, tree: Any, url: str | None) -> str:
    """A UTC time as the moment where the site is: in its country's time zone
    (when the whole country keeps one time), or, near midnight, the
    neighbouring day when the page shows it."""
    moment = datetime.fromisoformat(declared)
    if moment.utcoffset() != timedelta(0):
        return declared
    host = urlsplit(url or "").hostname or ""
    zones = _zones().get(host.rpartition(".")[2].upper(), ())
    if len({zone.utcoffset(moment) for zone in zones}) == 1:
        return moment.astimezone(zones[0]).isoformat()
    if 8 <= moment.hour < 21:
        return declared
    # Sites often declare UTC (...T02:25:54Z) and show their local day (the
    # evening before, in New York): htmldate reads the day from the page.
    from htmldate import find_date

    try:
        shown = find_date(tree, original_date=True, extensive_search=True, url=url)
    except (ValueError, TypeError):
        return declared
    expected = moment.date() + timedelta(days=-1 if moment.hour < 8 else 1)
    return shown if shown == expected.isoformat() else declared


@cache
def _zones() -> dict[str, tuple[ZoneInfo, ...]]:
    """Country code (as in domain names) -> its time zones (zone.tab)."""
    zones: dict[str, list[ZoneInfo]] = {}
    for line in _zone_table().splitlines():
        if line and not line.startswith("#"):
            country, _, name = line.split("\t")[:3]
            with suppress(ZoneInfoNotFoundError, ValueError):
                zones.setdefault(country, []).append(ZoneInfo(name))
    if "GB" in zones:
        zones["UK"] = zones["GB"]  # the domain is not the ISO code
    return {country: tuple(found) for country, found in zones.items()}


def _zone_table() -> str:
    """The time zone database's zone.tab: the system's, else the tzdata package's."""
    import importlib.resources
    import zoneinfo

    for folder in zoneinfo.TZPATH:
        with suppress(OSError):
            return (Path(folder) / "zone.tab").read_text()
    with suppress(ModuleNotFoundError, OSError):
        return (importlib.resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text()
    return ""


def _classed(tree: Any, marks: re.Pattern[str], *, times: bool = False) -> Iterator[Any]:
    """Elements whose class ``marks`` matches (and, with ``times``, ``<time>``
    elements), in document order: a scan in Python, which stops when the first
    date is found, where libxml2's XPath with ``contains()`` took 1-2 ms a page."""
    for node in tree.iter(etree.Element):
        if (times and node.tag == "time") or marks.search(node.get("class", "")):
            yield node


def _shown(nodes: Iterable[Any]) -> str | None:
    """The first date shown in the first of ``nodes``: a ``<time>``'s ``datetime``,
    or a date element's text ("Written: 2023-11-07 15:03", "31.03.2020",
    "14 Apr 2025 09:12")."""
    for node in islice(nodes, 8):
        if node.tag == "time" and node.get("datetime"):
            return str(node.get("datetime"))
        text = " ".join(node.text_content().split())[:120]
        if written := WRITTEN_DATE.search(text):
            day, month, year = written.group("d", "m", "y")
            if day:  # dd.mm.yyyy
                year = year if len(year) == 4 else _century(int(year))
                return f"{year}-{int(month):02d}-{int(day):02d}" + (
                    f"T{written.group('t')}" if written.group("t") else "")
            return written.group(0).replace(" ", "T")
        if 6 <= len(text) <= 40 and any(c.isdigit() for c in text) and parse(text):
            return text  # "14 Apr 2025 09:12"
    return None
