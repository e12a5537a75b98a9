"""Prefect tasks: thin wrappers around ``palimpsest`` core functions.

Retries live here and only on I/O (rendering, storage), and only for errors
that say they are transient; parsing and comparing never retry.
"""

from __future__ import annotations

from typing import Any

from palimpsest.errors import PalimpsestError


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: retry only errors that may pass (timeouts, network, storage)."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - any failure is inspected
            exc = raised
    return isinstance(exc, PalimpsestError) and exc.transient
