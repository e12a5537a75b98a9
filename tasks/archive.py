"""store_warc: write a capture as a WARC and put it in object storage."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from palimpsest.config import Settings
from palimpsest.history import HistoryStore
from palimpsest.models import Capture, StoredWarc
from palimpsest.pipeline import archive

from . import blob_store, transient_only


@task(retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=transient_only,
      cache_policy=NO_CACHE)
def store_warc(capture: Capture) -> StoredWarc:
    """Store the capture's WARC (payloads archived before as revisits); atomic, so a
    retry never leaves half a file."""
    settings = Settings.from_env()
    with HistoryStore(settings.db_url) as history:
        return archive(capture, blob_store(settings), history.originals)
