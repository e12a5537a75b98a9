"""Palimpsest: archive news articles and track every edit made after publication.

The public API is re-exported here and loaded on first use, so that
``import palimpsest`` (and so the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Article": "models", "Capture": "models", "Exchange": "models",
    "SnapshotResult": "models", "StoredWarc": "models",
    "Settings": "config",
    "Browser": "capture", "capture": "capture",
    "write_warc": "warc", "page_from_warc": "warc", "export_wacz": "wacz",
    "BlobStore": "storage", "LocalStore": "storage", "S3Store": "storage",
    "open_store": "storage",
    "extract": "extract", "EXTRACTOR_VERSION": "extract",
    "compare": "diff", "Edit": "diff",
    "HistoryStore": "history",
    "snapshot": "pipeline",
    "normalize_url": "urls", "url_id": "urls",
    "PalimpsestError": "errors", "InvalidURL": "errors", "BlockedURL": "errors",
    "CaptureError": "errors", "CaptureTimeout": "errors", "NetworkError": "errors",
    "NotHTML": "errors", "StorageError": "errors", "ArchiveError": "errors",
    "ExtractError": "errors", "HistoryError": "errors", "Forgotten": "errors",
    "ConfigError": "errors",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'palimpsest' has no attribute {name!r}")
