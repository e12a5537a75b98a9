"""snapshot_url: one URL end to end, the flow behind every "snapshot now" button."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from tasks.archive import store_warc
from tasks.capture import render_page
from tasks.record import extract_article, record_snapshot


@flow(name="snapshot-url", log_prints=True)
def snapshot_url(url: str) -> dict[str, Any]:
    """Capture a URL, archive it as a WARC and record a new version if the article changed.

    Args:
        url: The article's address (http or https).
    """
    capture = render_page(url)
    article = extract_article(capture)
    stored = store_warc(capture)
    result = record_snapshot(capture, article, stored)
    print(f"{url}: {result.outcome} (version {result.version})")
    # (shown with the run in Prefect's UI; the web's re-snapshot job reads it)
    create_table_artifact([result.as_dict()], description="What the snapshot did to "
                                                          "the article's history")
    return result.as_dict()
