"""One snapshot end to end: capture, archive, extract, record.

Each step is a function of its own so that Prefect tasks can wrap them one by
one; :func:`snapshot` chains them for the CLI and for notebooks. The WARC is
stored before anything is recorded, and removed again if recording fails, so
the database never points at a missing WARC and no orphan is left behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .capture import Capturer
from .capture import capture as capture_page
from .config import Settings
from .errors import PalimpsestError
from .extract import extract
from .models import Article, Capture, SnapshotResult, StoredWarc
from .site_rules import SiteRules
from .storage import BlobStore, open_store
from .urls import check_url, url_id
from .warc import Original, payload_digests, write_warc

if TYPE_CHECKING:
    from .history import HistoryStore

log = logging.getLogger(__name__)


def warc_key(capture: Capture, *, make_suffix: Callable[[], str] | None = None) -> str:
    """``host/article-id/YYYYmmddTHHMMSSZ-xxxxxxxx.warc.gz``: sorted by time per article."""
    host = (urlsplit(capture.url).hostname or "unknown").lower()
    suffix = make_suffix() if make_suffix else uuid.uuid4().hex[:8]
    stamp = capture.fetched_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{host}/{url_id(capture.url)}/{stamp}-{suffix}.warc.gz"


def archive(capture: Capture, store: BlobStore,
            originals: Callable[[Iterable[str]], Mapping[str, Original]] | None = None,
            ) -> StoredWarc:
    """Write the capture as a WARC and store it; return where it went.

    ``originals`` (digests -> first archived copies, e.g.
    :meth:`HistoryStore.originals`) turns payloads archived before into
    revisit records.
    """
    key = warc_key(capture)
    known = originals(payload_digests(capture)) if originals else {}
    buffer = io.BytesIO()
    layout = write_warc(capture, buffer, key=key, originals=known)
    data = buffer.getvalue()
    store.put(key, data)
    return StoredWarc(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                      records=dict(layout.records), payloads=layout.payloads,
                      revisits=frozenset(layout.revisits))


def extract_capture(capture: Capture, rules: SiteRules | None = None) -> Article | None:
    """The article in the rendered page; None for error pages (4xx, 5xx)."""
    if capture.status >= 400:
        return None
    return extract(capture.dom, url=capture.final_url, rules=rules)


def record(
    capture: Capture, article: Article | None, stored: StoredWarc, *,
    store: BlobStore, history: HistoryStore, settings: Settings | None = None,
) -> SnapshotResult:
    """Record a stored snapshot; on failure remove its WARC and re-raise.
    What it recorded goes to the webhook of ``settings``, if one is set."""
    try:
        _read_again(capture, article, store, history, settings)
        result = history.record(capture, article, stored)
    except BaseException:
        store.delete(stored.key)
        raise
    if settings is not None and settings.webhook_url:
        from .notify import notify

        notify(result, history, webhook=settings.webhook_url, public_url=settings.public_url,
               only=settings.webhook_only, secret=settings.webhook_secret)
    return result


def _read_again(capture: Capture, article: Article | None, store: BlobStore,
                history: HistoryStore, settings: Settings | None) -> None:
    """If the article's versions were read otherwise than ``article`` was (by
    an older extractor, or under another rule of the site's), its snapshots
    are read again as it was (its history rebuilt, as ``palimpsest
    reextract`` does) before ``capture`` is compared with them: what the
    extractor learned since (a byline it missed) is no edit of the
    newsroom's. A history that cannot be read again is compared as it stands."""
    aid = history.read_otherwise(capture, article)
    if aid is None:
        return
    from .reextract import rebuild  # (SQLAlchemy's, imported by the history already)

    try:
        rebuild(history, store, aid, rules=settings.site_rules if settings else None)
    except PalimpsestError as exc:
        log.warning("the versions of %s stay as they were read before: %s", capture.url, exc)


def snapshot(
    url: str, *, settings: Settings, browser: Capturer | None = None,
    store: BlobStore | None = None, history: HistoryStore | None = None,
) -> SnapshotResult:
    """Capture ``url`` and record what changed.

    ``browser`` is a :class:`Browser` or :class:`BrowserPool`; without one a
    browser is started for this capture alone.
    """
    check_url(url, allow_private=settings.allow_private)
    store = store or open_store(settings.storage_url, s3_options=settings.s3_options)
    if history is not None:
        return process(_capture(url, browser, settings), store=store, history=history,
                       settings=settings)
    # Opening the database (importing SQLAlchemy, Alembic and deepdiff, checking the
    # schema) overlaps with the browser's start-up and the page load, which mostly
    # wait on Chromium: a cold `palimpsest snapshot` is about 0.5 s faster for it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        opening = pool.submit(_open_history, settings.db_url)
        try:
            capture = _capture(url, browser, settings)
        except BaseException:
            if opening.exception() is None:
                opening.result().close()
            raise
        history = opening.result()
    try:
        return process(capture, store=store, history=history, settings=settings)
    finally:
        history.close()


def _open_history(db_url: str) -> HistoryStore:
    from .history import HistoryStore

    return HistoryStore(db_url)


def _capture(url: str, browser: Capturer | None, settings: Settings) -> Capture:
    return browser.capture(url) if browser is not None else capture_page(url, settings)


def process(capture: Capture, *, store: BlobStore, history: HistoryStore,
            settings: Settings | None = None) -> SnapshotResult:
    """Everything after the capture: extract (with the sites' own rules of
    ``settings``), archive, record (and tell its webhook)."""
    article = extract_capture(capture, settings.site_rules if settings else None)
    stored = archive(capture, store, history.originals)
    return record(capture, article, stored, store=store, history=history, settings=settings)
