"""Tasks of the watchlist sweep: what is due, per-domain politeness, one article."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.states import State

from palimpsest.capture import BrowserPool
from palimpsest.config import Settings
from palimpsest.errors import ConfigError, Forgotten, HistoryError, StorageError
from palimpsest.history import HistoryStore
from palimpsest.notify import FAILING_ALERT, Outbox, failing_message, tell
from palimpsest.pipeline import process
from palimpsest.storage import check_writable
from palimpsest.urls import check_url
from palimpsest.watchlist import Watchlist

from . import blob_store, transient_only

#: The outcome of an article captured meanwhile by an overlapping sweep, or unwatched
NOT_DUE = "not due"


def domain_limit(url: str) -> str:
    """The name of the Prefect concurrency limit for the URL's host."""
    return f"palimpsest-domain-{(urlsplit(url).netloc or 'unknown').lower()}"


@task(cache_policy=NO_CACHE)
def deliver_webhooks() -> int:
    """Deliver the webhook's messages whose next try is due (those the hook
    could not take when they were recorded); how many it took."""
    settings = Settings.from_env()
    if not settings.webhook_url:
        return 0
    with HistoryStore(settings.db_url) as history:
        return Outbox(history).deliver(settings.webhook_url, secret=settings.webhook_secret)


@task(cache_policy=NO_CACHE)
def check_storage() -> None:
    """Fail now if the WARC store cannot take a WARC: every capture would be
    lost, and retried in vain."""
    check_writable(blob_store(Settings.from_env()))


@task(cache_policy=NO_CACHE)
def due_articles(limit: int) -> list[str]:
    """URLs of watched articles whose next check is due."""
    with HistoryStore(Settings.from_env().db_url) as history:
        return Watchlist(history).due(limit=limit)


@task(cache_policy=NO_CACHE)
def ensure_domain_limits(urls: list[str], per_domain: int) -> list[str]:
    """Create or update one concurrency limit per host: page loads in flight on it."""
    names = sorted({domain_limit(url) for url in urls})
    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, per_domain)
    return names


@task(retries=2, retry_delay_seconds=[20, 90], retry_condition_fn=transient_only,
      cache_policy=NO_CACHE)
def snapshot_due_article(url: str, pool: BrowserPool) -> dict[str, Any]:
    """Capture one watched article (holding its host's slot meanwhile) and
    record it; unless, by the time the slot is free, it is due no longer."""
    settings = Settings.from_env()
    check_url(url, allow_private=settings.allow_private)
    with concurrency(domain_limit(url), occupy=1, timeout_seconds=3600):
        # (the database is opened only while used: dozens of tasks wait here)
        with HistoryStore(settings.db_url) as history:
            due = Watchlist(history).is_due(url)
        if not due:
            return {"url": url, "outcome": NOT_DUE}
        capture = pool.capture(url)
    with HistoryStore(settings.db_url) as history:
        return process(capture, store=blob_store(settings), history=history,
                       settings=settings).as_dict()


@task(cache_policy=NO_CACHE)
def note_failures(errors: dict[str, str]) -> None:
    """Note each failed capture (URL: error) on its article, and back off its
    next check, so that a site that is down is not asked again at once; tell
    the webhook of an article whose captures have now failed ``FAILING_ALERT``
    times in a row."""
    settings = Settings.from_env()
    with HistoryStore(settings.db_url) as history:
        watchlist, alerts = Watchlist(history), []
        for url, error in errors.items():
            noted = watchlist.failed(url, error)
            if noted and noted[1] == FAILING_ALERT:
                alerts.append(failing_message(url, *noted, error, settings.public_url))
        if alerts and settings.webhook_url:
            tell(history, alerts, webhook=settings.webhook_url, only=settings.webhook_only,
                 secret=settings.webhook_secret)


def failure(state: State[Any]) -> tuple[str, bool]:
    """What a failed task run's state says went wrong, and whether the fault
    is ours (the WARC store, the database, a setting), not the article's:
    that says nothing of the site, and is not held against the article."""
    raised = state.result(raise_on_failure=False)
    if not isinstance(raised, BaseException):
        return state.message or state.name or "failed", False
    ours = isinstance(raised, (StorageError, HistoryError, ConfigError)) and \
        not isinstance(raised, Forgotten)
    return str(raised) or type(raised).__name__, ours
