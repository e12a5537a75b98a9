"""Settings: the one place that reads the environment.

Everything else receives a :class:`Settings` as an argument, so a test or a
notebook can build one by hand and nothing depends on hidden globals.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError
from .site_rules import SiteRules

DEFAULT_HOME = Path("~/.palimpsest")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1
    if not number > 0:  # NaN too
        raise ConfigError(f"{name} must be a positive number, not {value!r}")
    return number


def _web_url(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value or None


def _webhook_only(env: Mapping[str, str]) -> frozenset[str] | None:
    """``PALIMPSEST_WEBHOOK_ONLY``: the fields and kinds of message the hook
    is told of (comma-separated); None: all of them."""
    from .models import ARTICLE_FIELDS, EVENT_KINDS

    names = {name.strip() for name in env.get("PALIMPSEST_WEBHOOK_ONLY", "").split(",")} - {""}
    known = {*ARTICLE_FIELDS, *EVENT_KINDS, "capture_failing"}
    if unknown := sorted(names - known):
        raise ConfigError(f"PALIMPSEST_WEBHOOK_ONLY: {', '.join(unknown)} is neither a field "
                          f"nor a kind of message ({', '.join(sorted(known))})")
    return frozenset(names) or None


@dataclass(frozen=True)
class Settings:
    """Where Palimpsest keeps its data and how it captures pages."""

    home: Path
    db_url: str
    storage_url: str
    chromium: str | None = None
    allow_private: bool = False
    #: Seconds a page may take to load before the capture fails.
    page_timeout: float = 30.0
    #: Seconds to wait for the network to go quiet after the load event.
    settle_timeout: float = 2.0
    #: Seconds with no request in flight (and no scroll) for a page to count
    #: as quiet: what a page asks for later than that is not waited for.
    settle_quiet: float = 0.25
    #: Pages larger than this (rendered DOM, bytes) are refused.
    max_page_bytes: int = 20 * 1024 * 1024
    #: Requests a page may make; later ones are refused (and listed as failed).
    max_requests: int = 1000
    #: Bodies stored per response and per snapshot; longer ones are truncated.
    max_response_bytes: int = 50 * 1024 * 1024
    max_snapshot_bytes: int = 200 * 1024 * 1024
    #: Extraction rules of one's own for some sites (``PALIMPSEST_SITE_RULES``)
    site_rules: SiteRules | None = None
    user_agent: str | None = None
    s3_options: Mapping[str, str] = field(default_factory=dict)
    #: bearer token required by the web API's write actions; None disables them
    api_token: str | None = None
    #: a Prefect API to run re-snapshots on (as flow runs of the snapshot deployment)
    prefect_api_url: str | None = None
    #: Where each edit and event is POSTed as it is recorded (``notify.py``)
    webhook_url: str | None = None
    #: The key each webhook message is signed with (``X-Palimpsest-Signature``)
    webhook_secret: str | None = None
    #: Only edits that change one of these fields, and messages of these kinds
    #: (events, capture_failing), go to the webhook; None: all
    webhook_only: frozenset[str] | None = None
    #: Where the web UI is served, for links in webhook messages
    public_url: str | None = None
    snapshot_deployment: str = "snapshot-url/snapshot-url-default"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``PALIMPSEST_*`` and ``AWS_*`` variables."""
        env = os.environ if environ is None else environ
        home = Path(env.get("PALIMPSEST_HOME") or DEFAULT_HOME).expanduser()
        settle_timeout = _number(env, "PALIMPSEST_SETTLE_TIMEOUT", 2.0)
        settle_quiet = _number(env, "PALIMPSEST_SETTLE_QUIET", 0.25)
        if settle_quiet >= settle_timeout:
            raise ConfigError("PALIMPSEST_SETTLE_QUIET must be shorter than "
                              f"PALIMPSEST_SETTLE_TIMEOUT ({settle_timeout:g} s): no page "
                              "could settle")
        return cls(
            home=home,
            db_url=env.get("PALIMPSEST_DB_URL") or f"sqlite:///{home / 'history.sqlite'}",
            storage_url=env.get("PALIMPSEST_STORAGE_URL") or str(home / "warcs"),
            chromium=env.get("PALIMPSEST_CHROMIUM") or None,
            allow_private=_flag(env.get("PALIMPSEST_ALLOW_PRIVATE")),
            page_timeout=_number(env, "PALIMPSEST_PAGE_TIMEOUT", 30.0),
            settle_timeout=settle_timeout,
            settle_quiet=settle_quiet,
            max_requests=int(_number(env, "PALIMPSEST_MAX_REQUESTS", 1000)),
            max_response_bytes=int(_number(env, "PALIMPSEST_MAX_RESPONSE_BYTES", 50 * 2**20)),
            max_snapshot_bytes=int(_number(env, "PALIMPSEST_MAX_SNAPSHOT_BYTES", 200 * 2**20)),
            site_rules=SiteRules.load(rules) if (rules := env.get("PALIMPSEST_SITE_RULES"))
            else None,
            user_agent=env.get("PALIMPSEST_USER_AGENT") or None,
            api_token=env.get("PALIMPSEST_TOKEN") or None,
            prefect_api_url=env.get("PREFECT_API_URL") or None,
            webhook_url=_web_url(env, "PALIMPSEST_WEBHOOK_URL"),
            webhook_only=_webhook_only(env),
            webhook_secret=env.get("PALIMPSEST_WEBHOOK_SECRET") or None,
            public_url=_web_url(env, "PALIMPSEST_PUBLIC_URL"),
            # boto3 reads AWS_* itself; the endpoint is passed explicitly because
            # older botocore releases ignore AWS_ENDPOINT_URL.
            s3_options={
                k: v
                for k, v in {
                    "endpoint_url": env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
                    "region_name": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
                }.items()
                if v
            },
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def chromium_path(self) -> str | None:
        """The Chromium binary to launch; None means Playwright's own build."""
        if self.chromium:
            return self.chromium
        if DEBIAN_CHROMIUM.exists():
            return str(DEBIAN_CHROMIUM)
        return shutil.which("chromium")
