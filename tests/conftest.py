"""Shared fixtures: the demo news site, Chromium, SeaweedFS S3, a history DB,
and the Prefect test harness. All of them real, all on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect runs offline in tests; set before anything imports it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from palimpsest.capture import Browser  # noqa: E402
from palimpsest.config import Settings  # noqa: E402
from palimpsest.demo_site import NewsSite  # noqa: E402
from palimpsest.history import HistoryStore  # noqa: E402
from palimpsest.storage import BlobStore, S3Store, open_store  # noqa: E402

from .pgserver import PostgresServer, pg_bindir  # noqa: E402
from .s3server import SeaweedS3  # noqa: E402


@pytest.fixture
def site() -> Iterator[NewsSite]:
    """The demo news site with its original articles, on a free port."""
    with NewsSite() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh home folder with loopback URLs allowed, set in ``os.environ``
    too, so that Prefect tasks and CLI subprocesses see the same settings."""
    values = {"PALIMPSEST_HOME": str(tmp_path / "home"), "PALIMPSEST_ALLOW_PRIVATE": "1",
              "PALIMPSEST_PAGE_TIMEOUT": "15"}
    for key in ("PALIMPSEST_DB_URL", "PALIMPSEST_STORAGE_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run; each capture gets a fresh context."""
    settings = Settings.from_env({"PALIMPSEST_ALLOW_PRIVATE": "1",
                                  "PALIMPSEST_PAGE_TIMEOUT": "15"})
    with Browser(settings) as running:
        yield running


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_settings(
    s3_server: SeaweedS3, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings storing WARCs in a fresh prefix of a SeaweedFS bucket."""
    values = {
        **env,
        "PALIMPSEST_STORAGE_URL": f"s3://warcs/{tmp_path.name}",
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env(values)
    S3Store(settings.storage_url, **settings.s3_options).ensure_bucket()
    return settings


@pytest.fixture(params=["local", "s3"])
def store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings storing WARCs in a local folder, then in SeaweedFS S3."""
    if request.param == "s3":
        return request.getfixturevalue("s3_settings")  # type: ignore[no-any-return]
    return settings


@pytest.fixture
def store(store_settings: Settings) -> BlobStore:
    return open_store(store_settings.storage_url, s3_options=store_settings.s3_options)


@pytest.fixture
def history(settings: Settings) -> Iterator[HistoryStore]:
    store = HistoryStore(settings.db_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (./dev test installs it when run as root)")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path,
) -> Iterator[HistoryStore]:
    """A fresh history database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        url = settings.db_url
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("t_" + tmp_path.name.lower().replace("-", "_")[-50:])
    store = HistoryStore(url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield
