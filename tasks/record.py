"""extract_article and record_snapshot: fields out, history in."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from palimpsest.config import Settings
from palimpsest.history import HistoryStore
from palimpsest.models import Article, Capture, SnapshotResult, StoredWarc
from palimpsest.pipeline import extract_capture, record

from . import blob_store


@task(cache_policy=NO_CACHE)
def extract_article(capture: Capture) -> Article | None:
    """The article fields of the rendered page (None for error pages)."""
    return extract_capture(capture, Settings.from_env().site_rules)


@task(cache_policy=NO_CACHE)
def record_snapshot(
    capture: Capture, article: Article | None, stored: StoredWarc
) -> SnapshotResult:
    """Record the stored snapshot and, if the article changed, a new version."""
    settings = Settings.from_env()
    with HistoryStore(settings.db_url) as history:
        return record(capture, article, stored, store=blob_store(settings), history=history,
                      settings=settings)
