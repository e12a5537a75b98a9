"""discover_articles: new article URLs from feeds and sitemaps join the watchlist."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from tasks.discover import poll_feed, registered_feeds


@flow(name="discover-articles")
def discover_articles(feeds: list[str] | None = None) -> dict[str, Any]:
    """Read RSS/Atom feeds and news sitemaps; watch the articles not known yet.

    Args:
        feeds: Feed or sitemap URLs to read; empty reads every feed registered
            with `palimpsest feeds add`.
    """
    logger = get_run_logger()
    urls = feeds or registered_feeds()
    futures = {url: poll_feed.submit(url) for url in urls}
    added: dict[str, list[str]] = {}
    failed = []
    for url, future in futures.items():
        future.wait()
        if future.state.is_completed():
            added[url] = future.result()
        else:
            failed.append(url)
    logger.info("%d new articles from %d feeds; %d feeds failed",
                sum(map(len, added.values())), len(urls), len(failed))
    return {"added": added, "failed": failed}
