"""render_page: capture a URL in Chromium."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from palimpsest.capture import capture
from palimpsest.config import Settings
from palimpsest.models import Capture

from . import transient_only


@task(retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_only,
      cache_policy=NO_CACHE, tags=["capture"])
def render_page(url: str) -> Capture:
    """Render ``url`` and record every exchange it made."""
    return capture(url, Settings.from_env())
