"""sweep_watchlist: re-capture every watched article that is due."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from palimpsest.capture import BrowserPool
from palimpsest.config import Settings
from tasks.sweep import (
    deliver_webhooks,
    due_articles,
    ensure_domain_limits,
    failure,
    note_failures,
    snapshot_due_article,
)


@flow(name="sweep-watchlist", task_runner=ThreadPoolTaskRunner(max_workers=32))
def sweep_watchlist(limit: int = 200, per_domain: int = 2, browsers: int = 1) -> dict[str, Any]:
    """Capture the watched articles that are due, politely, and record what changed.
    Returns how many were due, their outcomes, and the error of each that failed
    (noted on its article, whose next check is pushed back further each time).

    Args:
        limit: The most articles to capture in this run (the most overdue first).
        per_domain: Page loads in flight at once on any one host.
        browsers: Chromium instances working in parallel, each reused across pages (one
            per worker process by default; more pays off only with spare cores).
    """
    logger = get_run_logger()
    deliver_webhooks()  # (messages the hook could not take before: their turn)
    urls = due_articles(limit)
    if not urls:
        logger.info("nothing is due")
        return {"due": 0, "outcomes": {}, "failed": {}}
    ensure_domain_limits(urls, per_domain)
    with BrowserPool(Settings.from_env(), size=browsers) as pool:
        futures = {url: snapshot_due_article.submit(url, pool) for url in urls}
        for future in futures.values():
            future.wait()  # the pool's browsers close when the block ends
        states = {url: future.state for url, future in futures.items()}
    outcomes: Counter[str] = Counter()
    failed = {}
    for url, state in states.items():
        if state.is_completed():
            outcomes[state.result()["outcome"]] += 1
        else:
            failed[url] = failure(state)
    if failed:
        note_failures(failed)
    logger.info("swept %d articles: %s; %d failed", len(urls), dict(outcomes), len(failed))
    return {"due": len(urls), "outcomes": dict(outcomes), "failed": failed}
