"""poll_feed: read a feed or sitemap and watch the new articles it lists."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from palimpsest.config import Settings
from palimpsest.feeds import discover
from palimpsest.history import HistoryStore
from palimpsest.watchlist import Watchlist

from . import transient_only


@task(cache_policy=NO_CACHE)
def registered_feeds() -> list[str]:
    with HistoryStore(Settings.from_env().db_url) as history:
        return [feed["url"] for feed in Watchlist(history).feeds()]


@task(retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_only,
      cache_policy=NO_CACHE)
def poll_feed(url: str) -> list[str]:
    """The article URLs newly added to the watchlist from the feed at ``url``."""
    settings = Settings.from_env()
    found = discover(url, settings)
    with HistoryStore(settings.db_url) as history:
        return Watchlist(history).add_discovered(url, found)
