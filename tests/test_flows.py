"""Flows under the Prefect test harness, on both stores."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from palimpsest.cli import main
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite
from palimpsest.errors import InvalidURL, NetworkError, NotHTML
from palimpsest.history import HistoryStore

pytestmark = [pytest.mark.browser, pytest.mark.prefect]
SLUG = "museum-returns-bronzes"


@pytest.mark.s3
def test_flow_records_the_same_version_as_the_cli(
    prefect_harness: None, site: NewsSite, store_settings: Settings,
) -> None:
    from flows.snapshot_url import snapshot_url

    result = snapshot_url(site.url(SLUG))
    assert (result["outcome"], result["version"]) == ("new", 1)
    cli = CliRunner().invoke(main, ["snapshot", "--json", site.url(SLUG)])
    assert cli.exit_code == 0, cli.output
    assert '"outcome": "unchanged"' in cli.output and '"version": 1' in cli.output
    site.edit(SLUG, headline="Museum agrees to return 36 looted bronzes")
    assert snapshot_url(site.url(SLUG))["changed_fields"] == ["headline"]
    history = HistoryStore(store_settings.db_url)
    data = history.history(site.url(SLUG))
    history.close()
    assert [v["version"] for v in data["versions"]] == [1, 2] and data["snapshots"] == 3


def test_only_transient_errors_are_retried() -> None:
    from prefect.states import Failed

    from tasks import transient_only

    assert transient_only(None, None, Failed(data=NetworkError("refused")))
    assert not transient_only(None, None, Failed(data=NotHTML("a PDF")))
    assert not transient_only(None, None, Failed(data=ValueError("bug")))


def test_flow_fails_on_bad_input_without_recording(
    prefect_harness: None, settings: Settings,
) -> None:
    from flows.snapshot_url import snapshot_url

    with pytest.raises(InvalidURL):
        snapshot_url("ftp://example.com/")
    history = HistoryStore(settings.db_url)
    assert history.snapshot_count() == 0
    history.close()
