"""verify_archive: every stored WARC still holds the bytes recorded for it (fixity)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from palimpsest.config import Settings
from palimpsest.fixity import check_fixity
from palimpsest.history import HistoryStore
from tasks import blob_store


@flow(name="verify-archive")
def verify_archive(url: str | None = None,
                   delete_unrecorded: bool = False) -> dict[str, Any] | State:
    """Read every snapshot's WARC and check its size and SHA-256 against those
    recorded when it was stored; the run fails if one is missing or altered.

    Args:
        url: Only this article's snapshots; empty means every snapshot.
        delete_unrecorded: Delete the WARCs no snapshot names (left by a
            process killed before it recorded them), found when checking all.
    """
    settings = Settings.from_env()
    with HistoryStore(settings.db_url) as history:
        report = check_fixity(history, blob_store(settings), url=url,
                              delete_unrecorded=delete_unrecorded)
    found = report.as_dict()
    get_run_logger().info("%d WARCs checked: %d intact, %d missing, %d altered, %d unreadable; "
                          "%d WARCs no snapshot names", report.checked, report.intact,
                          len(report.missing), len(report.altered), len(report.unreadable),
                          len(report.unrecorded))
    if report.failed:
        create_table_artifact(report.missing + report.altered + report.unreadable,
                              description="WARCs that failed the fixity check")
        return Failed(message=f"{report.failed} of {report.checked} WARCs failed the fixity "
                              "check (see the table artifact)", data=found)
    return found
