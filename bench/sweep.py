"""Sweep throughput: articles per minute for a 200-article sweep of the local
demo site, with one capture worker (one Chromium) and with two.

Runs the real `sweep-watchlist` flow under Prefect's test harness (WARCs,
extraction, SQLite and all), on a fresh home for each run, with the
per-domain limit raised so that it does not cap the workers.

    uv run python bench/sweep.py [--articles 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def sweep_once(count: int, browsers: int) -> float:
    from flows.sweep_watchlist import sweep_watchlist
    from palimpsest.config import Settings
    from palimpsest.demo_site import NewsSite, generated_articles
    from palimpsest.history import HistoryStore
    from palimpsest.watchlist import Watchlist

    with tempfile.TemporaryDirectory() as home, NewsSite(generated_articles(count)) as site:
        os.environ.update(PALIMPSEST_HOME=home, PALIMPSEST_ALLOW_PRIVATE="1")
        history = HistoryStore(Settings.from_env().db_url)
        watchlist = Watchlist(history)
        for slug in site.articles:
            watchlist.add(site.url(slug))
        history.close()
        started = time.perf_counter()
        result = sweep_watchlist(limit=count, per_domain=browsers * 2, browsers=browsers)
        elapsed = time.perf_counter() - started
        if result["outcomes"].get("new") != count:
            raise SystemExit(f"sweep incomplete: {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        for browsers in (1, 2):
            elapsed = sweep_once(args.articles, browsers)
            print(f"sweep of {args.articles} articles, {browsers} capture worker(s): "
                  f"{elapsed:.1f} s, {args.articles / elapsed * 60:.0f} articles/min")


if __name__ == "__main__":
    main()
