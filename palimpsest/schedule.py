"""When to check an article again: often while it is young or changing,
less and less while it stays the same (pure functions).

NewsDiffs checked articles by age tiers; Heritrix adapts each URL's interval
to its observed rate of change. Both ideas combine here: the interval is a
quarter of the time the article has been quiet, capped by an age tier so that
a young article is never left alone long, and bounded both ways.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MIN_INTERVAL = timedelta(minutes=10)
MAX_INTERVAL = timedelta(days=30)
#: (age below which, longest interval) — a young article is checked at least this often.
AGE_TIERS = (
    (timedelta(days=1), timedelta(hours=1)),
    (timedelta(days=7), timedelta(hours=12)),
    (timedelta(days=30), timedelta(days=3)),
)
QUIET_SHARE = 0.25
#: The longest wait after captures that failed in a row (a site down for
#: days, a URL that no longer serves a page) before trying again.
MAX_RETRY_INTERVAL = timedelta(days=1)


def check_interval(*, age: timedelta, quiet: timedelta, priority: int = 0) -> timedelta:
    """How long to wait before the next check.

    ``age``: since the article was first seen; ``quiet``: since it last
    changed; ``priority``: each step up halves the interval (negative doubles it).
    """
    cap = next((longest for below, longest in AGE_TIERS if age < below), MAX_INTERVAL)
    interval = min(quiet * QUIET_SHARE, cap) / (2.0 ** priority)
    return max(MIN_INTERVAL, min(interval, MAX_INTERVAL))


def next_check(*, now: datetime, first_seen: datetime, last_changed: datetime | None,
               priority: int = 0) -> datetime:
    """The time of the next check of an article."""
    quiet = now - (last_changed or first_seen)
    return now + check_interval(age=now - first_seen, quiet=quiet, priority=priority)


def retry_interval(failures: int, *, asked: timedelta = timedelta(0)) -> timedelta:
    """How long to wait after ``failures`` captures failed in a row: twice as
    long after each, from ``MIN_INTERVAL`` up to ``MAX_RETRY_INTERVAL``; at
    least what the server ``asked`` for (its ``Retry-After``)."""
    return max(backoff(failures, MIN_INTERVAL, MAX_RETRY_INTERVAL), asked)


def retry_after(value: str | None, now: datetime) -> timedelta:
    """The wait a ``Retry-After`` header asks for (seconds, or an HTTP date),
    at most ``MAX_RETRY_INTERVAL``; nothing if it says nothing usable."""
    value = (value or "").strip()
    try:
        wait = timedelta(seconds=int(value)) if value.isdigit() else \
            parsedate_to_datetime(value) - now
    except (ValueError, TypeError, OverflowError):  # (no date; one without a zone)
        return timedelta(0)
    return max(timedelta(0), min(wait, MAX_RETRY_INTERVAL))


def backoff(tries: int, first: timedelta, longest: timedelta) -> timedelta:
    """The wait after ``tries`` failed tries in a row: ``first``, doubled
    after each further one, never more than ``longest``."""
    doublings = min(max(0, tries - 1), 32)  # (2**32 waits: far past any cap)
    return min(first * (1 << doublings), longest)
