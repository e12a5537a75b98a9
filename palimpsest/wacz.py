"""Export an article's snapshots as a WACZ (Web Archive Collection Zipped) 1.1.1.

The package holds the snapshots' WARCs as stored, a WARC of the records
their revisits refer to when those live in other articles' WARCs (copied
with one ranged read each: every record is its own gzip member), a sorted
CDXJ index, ``pages.jsonl`` (one page per snapshot) and ``datapackage.json``
with the SHA-256 of every file. ReplayWeb.page and pywb open it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from . import __version__, dedup, queries
from .cdxj import cdxj_lines
from .errors import ArchiveError, HistoryError
from .storage import BlobStore
from .warc import iter_records

WACZ_VERSION = "1.1.1"
DEPENDENCIES = "dependencies.warc.gz"


def export_wacz(engine: Engine, store: BlobStore, url: str, out: Path) -> dict[str, Any]:
    """Write every snapshot of the article at ``url`` to ``out``; return a summary."""
    article_id = queries.article_for_url(engine, url)
    snapshots = queries.article_snapshots(engine, article_id)
    if not snapshots:
        raise HistoryError(f"{url} is not tracked: no snapshot has been recorded")
    warcs = {_name(s["warc_key"]): store.get(s["warc_key"]) for s in snapshots}
    extra = _dependencies(engine, store, warcs, {s["warc_key"] for s in snapshots})
    if extra:
        warcs[DEPENDENCIES] = extra
    index = sorted(line for name, data in warcs.items() for line in cdxj_lines(name, data))
    fields = queries.version_fields(engine, article_id)
    pages = [{"format": "json-pages-1.0", "id": "pages", "title": "All snapshots"}]
    pages += [_page(s, fields.get(s["version"])) for s in snapshots if s["records"].get("dom")]
    files = {f"archive/{name}": data for name, data in warcs.items()}
    files["indexes/index.cdx"] = "".join(index).encode()
    files["pages/pages.jsonl"] = "".join(json.dumps(p) + "\n" for p in pages).encode()
    main = snapshots[-1]
    package = json.dumps({
        "profile": "data-package", "wacz_version": WACZ_VERSION,
        "title": f"Palimpsest: {main['final_url']}",
        "software": f"palimpsest/{__version__}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mainPageURL": main["final_url"], "mainPageDate": main["fetched_at"],
        # (a Data Package names a resource in lower case: [-a-z0-9._/]+)
        "resources": [{"name": Path(path).name.lower(), "path": path, "bytes": len(data),
                       "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
                      for path, data in files.items()],
    }, indent=1).encode()
    digest = json.dumps({"path": "datapackage.json",
                         "hash": "sha256:" + hashlib.sha256(package).hexdigest()}).encode()
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as wacz:
        # WARCs are gzipped already: stored, so replay tools can seek inside them
        for path, data in files.items():
            kind = zipfile.ZIP_STORED if path.startswith("archive/") else zipfile.ZIP_DEFLATED
            wacz.writestr(path, data, compress_type=kind)
        wacz.writestr("datapackage.json", package, compress_type=zipfile.ZIP_DEFLATED)
        wacz.writestr("datapackage-digest.json", digest, compress_type=zipfile.ZIP_DEFLATED)
    partial.replace(out)
    return {"url": main["final_url"], "snapshots": len(snapshots), "warcs": len(warcs),
            "index_lines": len(index), "bytes": out.stat().st_size, "path": str(out)}


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


def _dependencies(engine: Engine, store: BlobStore, warcs: dict[str, bytes],
                  included: set[str]) -> bytes:
    """The original records of revisits whose payload lives in another WARC."""
    digests = {record.rec_headers.get_header("WARC-Payload-Digest")
               for data in warcs.values() for record in iter_records(io.BytesIO(data))
               if record.rec_type == "revisit"}
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
