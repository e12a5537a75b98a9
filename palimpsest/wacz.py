"""Export an article's snapshots as a WACZ (Web Archive Collection Zipped) 1.1.1.

The package holds the snapshots' WARCs as stored, a WARC of the records
their revisits refer to when those live in other articles' WARCs (copied
with one ranged read each: every record is its own gzip member), a sorted
CDXJ index, ``pages.jsonl`` (one page per snapshot) and ``datapackage.json``
with the SHA-256 of every file. ReplayWeb.page and pywb open it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from . import __version__, dedup, queries
from .cdxj import cdxj_lines
from .errors import ArchiveError, HistoryError
from .storage import BlobStore

WACZ_VERSION = "1.1.1"
DEPENDENCIES = "dependencies.warc.gz"


def export_wacz(engine: Engine, store: BlobStore, urls: str | Sequence[str],
                out: Path) -> dict[str, Any]:
    """Write every snapshot of the article at ``urls`` (or of each article at
    one of them) to ``out``, through a ``.partial`` file renamed when whole;
    return a summary. One WARC is held in memory at a time: an article
    checked hourly for months has thousands."""
    articles = _articles(engine, [urls] if isinstance(urls, str) else urls)
    snapshots = [s for _, taken in articles for s in taken]
    pages = [{"format": "json-pages-1.0", "id": "pages", "title": "All snapshots"}]
    for article_id, taken in articles:
        fields = queries.version_fields(engine, article_id)
        pages += [_page(s, fields.get(s["version"])) for s in taken if s["records"].get("dom")]
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as wacz:
        package = _Package(wacz)
        index: list[str] = []
        for snapshot in snapshots:
            name = _name(snapshot["warc_key"])
            data = store.get(snapshot["warc_key"])
            index += cdxj_lines(name, data)
            package.add(f"archive/{name}", data)
        if extra := _dependencies(engine, store, index, {s["warc_key"] for s in snapshots}):
            index += cdxj_lines(DEPENDENCIES, extra)
            package.add(f"archive/{DEPENDENCIES}", extra)
        package.add("indexes/index.cdx", "".join(sorted(index)).encode())
        package.add("pages/pages.jsonl", "".join(json.dumps(p) + "\n" for p in pages).encode())
        main = articles[0][1][-1]
        title = main["final_url"] if len(articles) == 1 else f"{len(articles)} articles"
        package.close(title=f"Palimpsest: {title}", main=main)
    partial.replace(out)
    return {"url": main["final_url"], "articles": len(articles), "snapshots": len(snapshots),
            "warcs": len(snapshots) + bool(extra), "index_lines": len(index),
            "bytes": out.stat().st_size, "path": str(out)}


def _articles(engine: Engine, urls: Sequence[str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each article named (once, however many of its URLs are given) and its
    snapshots, oldest first; HistoryError for a URL that is not tracked."""
    found: dict[str, list[dict[str, Any]]] = {}
    for url in urls:
        article_id = queries.article_for_url(engine, url)
        if article_id not in found:
            found[article_id] = queries.article_snapshots(engine, article_id)
        if not found[article_id]:
            raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
    if not found:
        raise HistoryError("no article to export")
    return list(found.items())


class _Package:
    """The files of a WACZ as they are written, and its datapackage."""

    def __init__(self, wacz: zipfile.ZipFile) -> None:
        self.wacz = wacz
        self.resources: list[dict[str, Any]] = []

    def add(self, path: str, data: bytes) -> None:
        # WARCs are gzipped already: stored, so replay tools can seek inside them
        kind = zipfile.ZIP_STORED if path.startswith("archive/") else zipfile.ZIP_DEFLATED
        self.wacz.writestr(path, data, compress_type=kind)
        # (a Data Package names a resource in lower case: [-a-z0-9._/]+)
        self.resources.append({"name": Path(path).name.lower(), "path": path,
                               "bytes": len(data),
                               "hash": "sha256:" + hashlib.sha256(data).hexdigest()})

    def close(self, *, title: str, main: dict[str, Any]) -> None:
        """Write datapackage.json, and its digest."""
        package = json.dumps({
            "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
            "software": f"palimpsest/{__version__}",
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mainPageURL": main["final_url"], "mainPageDate": main["fetched_at"],
            "resources": self.resources,
        }, indent=1).encode()
        digest = json.dumps({"path": "datapackage.json",
                             "hash": "sha256:" + hashlib.sha256(package).hexdigest()}).encode()
        for path, data in (("datapackage.json", package), ("datapackage-digest.json", digest)):
            self.wacz.writestr(path, data, compress_type=zipfile.ZIP_DEFLATED)


def _page(snapshot: dict[str, Any], fields: dict[str, Any] | None) -> dict[str, Any]:
    """A snapshot's line in pages.jsonl: ReplayWeb.page lists it by its title,
    and finds it by its text (the article as extracted: headline, dek, body)."""
    when, outcome = snapshot["fetched_at"], snapshot["outcome"]
    page = {"id": str(snapshot["id"]), "url": snapshot["final_url"], "ts": when,
            "title": f"{snapshot['final_url']} ({outcome}, {when})"}
    if fields:
        page["title"] = f"{fields['headline']} (v{snapshot['version']}, {outcome}, {when})"
        page["text"] = "\n".join([fields["headline"], fields["dek"], *fields["body"]]).strip()
    return page


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _dependencies(engine: Engine, store: BlobStore, index: list[str],
                  included: set[str]) -> bytes:
    """The original records of revisits (found by their ``index`` lines)
    whose payload lives in a WARC not ``included``."""
    digests = {fields.get("digest") for fields in
               (json.loads(line.split(" ", 2)[2]) for line in index)
               if fields["mime"] == "warc/revisit"}
    with engine.connect() as conn:
        found = dedup.originals(conn, {d for d in digests if d})
    outside = sorted({(o.warc_key, o.offset, o.length) for o in found.values()
                      if o.warc_key not in included})
    return b"".join(store.get(key, start=offset, length=length)
                    for key, offset, length in outside)


def read_wacz(stream: BinaryIO) -> dict[str, Any]:
    """The datapackage of a WACZ, after checking every file's hash against it."""
    with zipfile.ZipFile(stream) as wacz:
        package: dict[str, Any] = json.loads(wacz.read("datapackage.json"))
        for resource in package["resources"]:
            data = wacz.read(resource["path"])
            if "sha256:" + hashlib.sha256(data).hexdigest() != resource["hash"]:
                raise ArchiveError(f"{resource['path']} does not match its hash")
    return package
