"""sweep_watchlist: re-capture every watched article that is due."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from palimpsest.capture import BrowserPool
from palimpsest.config import Settings
from tasks.sweep import (
    check_storage,
    deliver_webhooks,
    due_articles,
    ensure_domain_limits,
    failure,
    note_failures,
    snapshot_due_article,
)


@flow(name="sweep-watchlist", task_runner=ThreadPoolTaskRunner(max_workers=32))
def sweep_watchlist(limit: int = 200, per_domain: int = 2,
                    browsers: int = 1) -> dict[str, Any] | State:
    """Capture the watched articles that are due, politely, and record what changed.
    Returns how many were due, their outcomes, and the error of each that failed
    (noted on its article, whose next check is pushed back further each time).
    A capture lost to our own fault (the WARC store, the database) is not held
    against its article, which stays due; the run fails, saying so. Nothing is
    captured while the WARC store cannot take a WARC.

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
        return {"due": 0, "outcomes": {}, "failed": {}, "lost": {}}
    check_storage()
    ensure_domain_limits(urls, per_domain)
    with BrowserPool(Settings.from_env(), size=browsers) as pool:
        futures = {url: snapshot_due_article.submit(url, pool) for url in urls}
        for future in futures.values():
            future.wait()  # the pool's browsers close when the block ends
        states = {url: future.state for url, future in futures.items()}
    outcomes: Counter[str] = Counter()
    failed, lost = {}, {}
    for url, state in states.items():
        if state.is_completed():
            outcomes[state.result()["outcome"]] += 1
            continue
        error, ours = failure(state)
        (lost if ours else failed)[url] = error
    if failed:
        note_failures(failed)
    logger.info("swept %d articles: %s; %d failed, %d lost", len(urls), dict(outcomes),
                len(failed), len(lost))
    swept = {"due": len(urls), "outcomes": dict(outcomes), "failed": failed, "lost": lost}
    if lost:
        return Failed(message=f"{len(lost)} captures could not be kept (storage or database), "
                              f"e.g. {next(iter(lost.values()))}", data=swept)
    return swept
