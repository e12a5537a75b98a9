"""reextract: run the current extractor over stored snapshots; rebuild what changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from palimpsest.config import Settings
from palimpsest.history import HistoryStore
from palimpsest.reextract import reextract as run_reextract
from tasks import blob_store


@flow(name="reextract")
def reextract(url: str | None = None, since: datetime | None = None) -> dict[str, Any]:
    """Re-extract stored snapshots (no fetching) and rebuild histories that change.

    Args:
        url: Only this article; empty means every article.
        since: Only articles captured at or after this time.
    """
    settings = Settings.from_env()
    with HistoryStore(settings.db_url) as history:
        report = run_reextract(history, blob_store(settings), url=url, since=since,
                               rules=settings.site_rules)
    get_run_logger().info("re-extracted %d snapshots of %d articles; %d rebuilt",
                          report.snapshots, report.articles, len(report.rebuilt))
    return report.as_dict()
