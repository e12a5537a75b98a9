"""Every error Palimpsest raises, under one base class.

    PalimpsestError
    ├── ConfigError         a setting in the environment is not a valid value
    ├── InvalidURL          the URL is malformed or not http(s)
    │   └── BlockedURL      it resolves to a private, loopback or link-local address
    ├── CaptureError        the page could not be captured
    │   ├── CaptureTimeout  it did not load within the time budget (transient)
    │   ├── NetworkError    DNS failure, refused or reset connection (transient)
    │   ├── BrowserGone     Chromium crashed or was killed (transient)
    │   └── NotHTML         the response is not an HTML page
    ├── StorageError        the WARC could not be written to or read from storage
    │   └── NotStored       the storage holds nothing under that key
    ├── ArchiveError        a WARC is malformed or lacks the records we need
    ├── ExtractError        no article could be extracted from the page
    ├── HistoryError        the history database failed or holds no such article
    │   └── Forgotten       the article was forgotten: it is not archived again
    └── PrefectError        the Prefect API could not be asked (a re-snapshot job)

Errors from Playwright, botocore and SQLAlchemy are translated at the module
boundary with ``raise X(...) from exc``, so callers only ever catch these.
"""

from __future__ import annotations


class PalimpsestError(Exception):
    """Base class of every error Palimpsest raises."""

    #: Whether retrying the same operation later may succeed.
    transient: bool = False


class ConfigError(PalimpsestError):
    """A setting (an environment variable) has a value that cannot be used."""


class InvalidURL(PalimpsestError):
    """The URL is malformed or uses a scheme other than http(s)."""


class BlockedURL(InvalidURL):
    """The URL points at a private, loopback or link-local address."""


class CaptureError(PalimpsestError):
    """The page could not be captured."""


class CaptureTimeout(CaptureError):
    """The page did not load within the time budget."""

    transient = True


class NetworkError(CaptureError):
    """The host could not be reached (DNS, refused or reset connection)."""

    transient = True


class BrowserGone(CaptureError):
    """Chromium ended during the capture, or as it started (it crashed, or was
    killed: out of memory)."""

    transient = True


class NotHTML(CaptureError):
    """The URL answered with something other than an HTML page."""


class StorageError(PalimpsestError):
    """Object storage failed to store or return a WARC."""

    transient = True


class NotStored(StorageError):
    """The storage holds no object under that key (it was never stored, or lost)."""

    transient = False


class ArchiveError(PalimpsestError):
    """A WARC is malformed or lacks the records Palimpsest needs."""


class ExtractError(PalimpsestError):
    """No article could be extracted from the page."""


class HistoryError(PalimpsestError):
    """The history database failed, or has no such article."""


class Forgotten(HistoryError):
    """The article was forgotten (``palimpsest forget``): it is not archived again."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{url} was forgotten (palimpsest forget): it is not archived again")
        self.url = url

    def __reduce__(self) -> tuple[type[Forgotten], tuple[str]]:
        return Forgotten, (self.url,)  # (Prefect pickles a failed task's error)


class PrefectError(PalimpsestError):
    """The Prefect API did not answer, or refused (a re-snapshot job's flow run)."""

    transient = True
