"""Prefect tasks: thin wrappers around ``palimpsest`` core functions.

Retries live here and only on I/O (rendering, storage, feeds), and only for
errors that say they are transient; parsing and comparing never retry.
"""

from __future__ import annotations

from typing import Any

from palimpsest.config import Settings
from palimpsest.errors import PalimpsestError
from palimpsest.storage import BlobStore, open_store


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: retry only errors that may pass (timeouts, network, storage)."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - any failure is inspected
            exc = raised
    return isinstance(exc, PalimpsestError) and exc.transient


def blob_store(settings: Settings) -> BlobStore:
    return open_store(settings.storage_url, s3_options=settings.s3_options)
