"""The web UI and JSON API (FastAPI): browse, search and diff edit histories,
view snapshots, trigger re-snapshots, Memento (RFC 7089) and Atom feeds.

Archived pages are hostile HTML. Every value from them is escaped by the
templates; the archived DOM is only ever served with a ``sandbox`` Content
Security Policy (an opaque origin where no script runs) and shown in a
sandboxed frame. Write actions need the bearer token ``PALIMPSEST_TOKEN``.
"""

from __future__ import annotations

import hmac
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urldefrag, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from . import dedup, lifecycle, queries, replay
from .config import Settings
from .database import iso_time
from .diff import edit_between, word_diff
from .errors import (
    ArchiveError,
    Forgotten,
    HistoryError,
    InvalidURL,
    PalimpsestError,
    PrefectError,
    StorageError,
)
from .feeds_atom import atom_feed
from .forget import forget
from .history import HistoryStore
from .jobs import Jobs
from .models import ARTICLE_FIELDS, EVENT_KINDS, TEXT_FIELDS
from .search import phrase_pattern, search_versions
from .storage import BlobStore, open_store
from .wacz import export_wacz
from .warc import locate, read_record
from .watchlist import Watchlist

HERE = Path(__file__).parent
#: Frames shown in frames, at most, in an archived page
MAX_FRAME_DEPTH = 3
ARCHIVE_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'")


class SnapshotRequest(BaseModel):
    url: str


class WatchRequest(BaseModel):
    url: str
    #: each step up halves the interval between checks, each down doubles it
    priority: int = Field(0, ge=-5, le=5)


class FeedRequest(BaseModel):
    url: str


def create_app(settings: Settings) -> FastAPI:
    """The application, bound to one history database and one store."""
    history = HistoryStore(settings.db_url)
    jobs = Jobs(settings, history)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        history.close()

    app = FastAPI(title="Palimpsest", version="0.1.0", lifespan=lifespan,
                  description="Edit histories of news articles: versions, edits, snapshots.")
    app.state.settings = settings
    app.state.history = history
    app.state.store = open_store(settings.storage_url, s3_options=settings.s3_options)
    # (what each of the last WARCs shown holds, read once: a page asks for its parts at once)
    app.state.replay_index = lru_cache(maxsize=32)(
        lambda key: replay.archived(app.state.store.get(key)))
    app.state.jobs = jobs
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    @app.exception_handler(HistoryError)
    async def not_found(request: Request, exc: HistoryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StorageError)
    @app.exception_handler(ArchiveError)
    @app.exception_handler(PrefectError)
    async def upstream_failed(request: Request, exc: PalimpsestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    _pages(app)
    _api(app)
    _watching(app)
    _archive(app)
    return app


def _engine(request: Request) -> Any:
    return request.app.state.history.engine


def _history(request: Request, article_id: str) -> dict[str, Any]:
    history: HistoryStore = request.app.state.history
    return history.history(queries.article_url(history.engine, article_id))


def require_token(request: Request) -> None:
    """Write actions need ``Authorization: Bearer <PALIMPSEST_TOKEN>``."""
    token = request.app.state.settings.api_token
    if not token:
        raise HTTPException(403, "write actions are disabled: set PALIMPSEST_TOKEN")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "a valid token is required (Authorization: Bearer …)")


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return iso_time(value)
    except ValueError as exc:
        raise HTTPException(400, f"since: {value!r} is not an ISO 8601 time") from exc


def _page(items: list[Any], request: Request, limit: int, offset: int) -> dict[str, Any]:
    after = _next_query(request, items, limit, offset)
    return {"items": items, "limit": limit, "offset": offset,
            "next": f"{request.url.path}?{after}" if after else None}


def _next_query(request: Request, shown: list[Any], size: int, offset: int) -> str | None:
    """The query of a page's next page, if this one was full."""
    if len(shown) < size:
        return None
    return urlencode({**request.query_params, "offset": offset + size})


# ---------------------------------------------------------------- HTML pages


def marked(text: str, phrase: str) -> Markup:
    """``text``, escaped, with each match of ``phrase`` in ``<mark>``."""
    parts, at = [], 0
    for match in phrase_pattern(phrase).finditer(text):
        parts += [escape(text[at:match.start()]), Markup("<mark>%s</mark>") % match.group()]
        at = match.end()
    return Markup("").join([*parts, escape(text[at:])])


def _pages(app: FastAPI) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["marked"] = marked
    templates.env.filters["event_title"] = lifecycle.title
    templates.env.filters["event_said"] = lifecycle.said

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, q: str | None = None, site: str | None = None,
              field: str | None = None, since: str | None = None,
              offset: int = Query(0, ge=0)) -> Response:
        engine = _engine(request)
        edits = queries.recent_edits(engine, site=site, field=field or None,
                                     since=_since(since), limit=50, offset=offset)
        articles = queries.find_articles(engine, q=q, site=site) if q else []
        said = search_versions(engine, q, site=site, limit=20) if q and q.split() else []
        happened = queries.recent_events(engine, site=site, since=_since(since), limit=10)
        return templates.TemplateResponse(request, "index.html", {
            "q": q, "site": site, "field": field, "since": since, "edits": edits,
            "events": happened, "articles": articles, "said": said, "fields": ARTICLE_FIELDS,
            "next_query": _next_query(request, edits, 50, offset)})

    @app.get("/articles", response_class=HTMLResponse, include_in_schema=False)
    def article_list(request: Request, site: str | None = None,
                     offset: int = Query(0, ge=0)) -> Response:
        found = queries.find_articles(_engine(request), site=site, limit=100, offset=offset)
        return templates.TemplateResponse(request, "articles.html", {
            "articles": found, "site": site,
            "next_query": _next_query(request, found, 100, offset)})

    @app.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article(request: Request, article_id: str) -> Response:
        history = _history(request, article_id)
        snapshots = queries.article_snapshots(_engine(request), article_id)
        return templates.TemplateResponse(request, "article.html", {
            "history": history, "snapshots": snapshots, **_timeline(history, snapshots)})

    @app.get("/articles/{article_id}/diff", response_class=HTMLResponse,
             include_in_schema=False)
    def diff_page(request: Request, article_id: str, from_version: int, to_version: int,
                  view: str = "side") -> Response:
        history = _history(request, article_id)
        edit = edit_between(history, from_version, to_version)
        fields = [{"name": name, "words": word_diff(_text(change["old"]), _text(change["new"]))}
                  for name, change in (edit or {}).get("fields", {}).items()]
        # The evidence: each version as it was captured when first seen.
        first = _first_snapshots(queries.article_snapshots(_engine(request), article_id))
        return templates.TemplateResponse(request, "diff.html", {
            "article_id": article_id, "headline": _headline(history), "edit": edit,
            "fields": fields, "body": (edit or {}).get("body", []), "view": view,
            "from_version": from_version, "to_version": to_version,
            "captured": [(n, first.get(n)) for n in (from_version, to_version)]})

    @app.get("/snapshots/{snapshot_id}", response_class=HTMLResponse, include_in_schema=False)
    def snapshot_page(request: Request, snapshot_id: int) -> Response:
        found = queries.snapshot(_engine(request), snapshot_id)
        capture, unread = None, None
        if "capture" in found["records"]:
            try:
                capture = _capture(request, found)
            except (StorageError, ArchiveError) as exc:
                unread = str(exc)  # (the page shows what the database knows all the same)
        return templates.TemplateResponse(request, "snapshot.html", {
            "s": found, "capture": capture, "unread": unread})

    @app.get("/watchlist", response_class=HTMLResponse, include_in_schema=False)
    def watchlist_page(request: Request, failing: bool = False,
                       offset: int = Query(0, ge=0)) -> Response:
        watched = _watchlist(request).entries(failing=failing, limit=200, offset=offset)
        return templates.TemplateResponse(request, "watchlist.html", {
            "watched": watched, "failing": failing,
            "next_query": _next_query(request, watched, 200, offset)})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _headline(history: dict[str, Any]) -> str:
    return str(history["versions"][-1]["fields"]["headline"]) if history["versions"] else \
        str(history["url"])


def _text(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def _timeline(history: dict[str, Any], snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Versions and events in time order, and the headline's history."""
    edits = {e["to_version"]: e for e in history["edits"]}
    first = _first_snapshots(snapshots)
    entries = [{"kind": "version", "version": v["version"], "at": v["captured_at"],
                "edit": edits.get(v["version"]), "reverts_to": v["reverts_to"],
                "snapshot_id": first[v["version"]]["id"] if v["version"] in first else None}
               for v in history["versions"]]
    entries += [{"kind": e["kind"], "at": e["at"],
                 "detail": {k: v for k, v in e.items() if k not in ("kind", "at", "snapshot_id")}}
                for e in history["events"]]
    headlines: list[dict[str, Any]] = []
    for v in history["versions"]:
        text = v["fields"]["headline"]
        if not headlines or headlines[-1]["text"] != text:
            headlines.append({"version": v["version"], "at": v["captured_at"], "text": text})
    return {"timeline": sorted(entries, key=lambda e: e["at"] or ""), "headlines": headlines,
            "headline": _headline(history)}


def _first_snapshots(snapshots: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The snapshot in which each version was first seen (``snapshots`` oldest first)."""
    first: dict[int, dict[str, Any]] = {}
    for snapshot in snapshots:
        if snapshot["version"] is not None:
            first.setdefault(snapshot["version"], snapshot)
    return first


# ----------------------------------------------------------------- JSON API


def _api(app: FastAPI) -> None:
    @app.get("/api/articles", tags=["articles"])
    def list_articles(request: Request, q: str | None = None, site: str | None = None,
                      limit: int = Query(50, ge=1, le=500),
                      offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Tracked articles, newest checked first; `q` matches URL or headline words."""
        items = queries.find_articles(_engine(request), q=q, site=site, limit=limit,
                                      offset=offset)
        return _page(items, request, limit, offset)

    @app.get("/api/search", tags=["articles"])
    def search(request: Request, q: str = Query(min_length=1, pattern=r"\S"),
               site: str | None = None, since: str | None = None, removed: bool = False,
               field: Annotated[list[str] | None, Query()] = None,
               limit: int = Query(50, ge=1, le=500),
               offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Articles that said `q` in any version (its words in that order, any
        case), the one last seen saying it first: the versions holding it, an
        excerpt, and `removed_in`, the version that took it out (null while
        the latest still has it); `removed=true`: only those taken out;
        `field` (repeatable): only in those fields (headline, dek, body,
        corrections, lead_image_caption)."""
        if unknown := set(field or ()) - set(TEXT_FIELDS):
            raise HTTPException(422, f"field must be among {', '.join(TEXT_FIELDS)}, "
                                     f"not {', '.join(sorted(unknown))}")
        items = search_versions(_engine(request), q, site=site, since=_since(since),
                                removed=removed, within=tuple(field or TEXT_FIELDS),
                                limit=limit, offset=offset)
        return _page(items, request, limit, offset)

    @app.get("/api/status", tags=["articles"])
    def archive_status(request: Request) -> dict[str, Any]:
        """What the archive holds and how its watch is going: articles
        (watched, due, failing, unpublished), versions, snapshots and their
        bytes, the last day's edits and events, the webhook's undelivered messages."""
        return queries.archive_status(_engine(request), now=datetime.now(UTC))

    @app.get("/api/articles/{article_id}", tags=["articles"])
    def get_article(request: Request, article_id: str) -> Response:
        """The article's history: versions, edits and events (the CLI's JSON contract)."""
        history: HistoryStore = request.app.state.history
        text = history.history_json(queries.article_url(history.engine, article_id))
        return Response(text, media_type="application/json")

    @app.delete("/api/articles/{article_id}", tags=["articles"],
                dependencies=[Depends(require_token)])
    def forget_article(request: Request, article_id: str) -> dict[str, Any]:
        """Delete everything archived of the article but its URLs, which are
        kept so that it is not archived again (a takedown; needs the token)."""
        url = queries.article_url(_engine(request), article_id)
        return forget(request.app.state.history, request.app.state.store, url).as_dict()

    @app.get("/api/articles/{article_id}/versions/{version}", tags=["articles"])
    def get_version(request: Request, article_id: str, version: int) -> dict[str, Any]:
        """One version's fields."""
        for v in _history(request, article_id)["versions"]:
            if v["version"] == version:
                return v  # type: ignore[no-any-return]
        raise HTTPException(404, f"article {article_id} has no version {version}")

    @app.get("/api/articles/{article_id}/diff", tags=["articles"])
    def get_diff(request: Request, article_id: str, from_version: int,
                 to_version: int) -> dict[str, Any]:
        """The edit between any two versions, with paragraph, sentence and word runs."""
        edit = edit_between(_history(request, article_id), from_version, to_version)
        return edit or {"from_version": from_version, "to_version": to_version,
                        "changed_fields": []}

    @app.get("/api/articles/{article_id}/snapshots", tags=["snapshots"])
    def list_snapshots(request: Request, article_id: str) -> list[dict[str, Any]]:
        """Every capture of the article, oldest first."""
        queries.article_url(_engine(request), article_id)
        return queries.article_snapshots(_engine(request), article_id)

    @app.get("/api/edits", tags=["edits"])
    def list_edits(request: Request, site: str | None = None, field: str | None = None,
                   since: str | None = None, limit: int = Query(50, ge=1, le=500),
                   offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Recent edits across all articles, filterable by site, changed field and time."""
        items = queries.recent_edits(_engine(request), site=site, field=field,
                                     since=_since(since), limit=limit, offset=offset)
        return _page(items, request, limit, offset)

    @app.get("/api/events", tags=["edits"])
    def list_events(request: Request, site: str | None = None, kind: str | None = None,
                    since: str | None = None, limit: int = Query(50, ge=1, le=500),
                    offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """What happened to articles besides edits, newest first: unpublished
        (with the page's own words as `notice` when it said so with a 200),
        republished, moved, redirected, wall, ab_test; filterable by site,
        kind and time."""
        items = queries.recent_events(_engine(request), site=site, kind=kind,
                                      since=_since(since), limit=limit, offset=offset)
        return _page(items, request, limit, offset)

    @app.get("/api/snapshots/{snapshot_id}", tags=["snapshots"])
    def get_snapshot(request: Request, snapshot_id: int) -> dict[str, Any]:
        return queries.snapshot(_engine(request), snapshot_id)

    @app.get("/api/snapshots/{snapshot_id}/capture", tags=["snapshots"])
    def get_capture(request: Request, snapshot_id: int) -> dict[str, Any]:
        """How the snapshot was captured, from its WARC's metadata record: the
        browser and conditions, timings, redirect chain, failed requests, and
        what each server showed (address; TLS protocol and certificate)."""
        return _capture(request, queries.snapshot(_engine(request), snapshot_id))

    @app.post("/api/snapshots", tags=["snapshots"], status_code=202,
              dependencies=[Depends(require_token)])
    def trigger_snapshot(request: Request, body: SnapshotRequest) -> dict[str, Any]:
        """Capture a URL now (needs the token); poll the returned job."""
        try:
            job: dict[str, Any] = request.app.state.jobs.submit(body.url)
        except InvalidURL as exc:
            raise HTTPException(422, str(exc)) from exc
        except PalimpsestError as exc:
            raise HTTPException(502, str(exc)) from exc
        return job

    @app.get("/api/jobs/{job_id}", tags=["snapshots"])
    def get_job(request: Request, job_id: str) -> dict[str, Any]:
        """The job: queued, running, done (with the snapshot's result) or failed."""
        job: dict[str, Any] | None = request.app.state.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job


def _watchlist(request: Request) -> Watchlist:
    return Watchlist(request.app.state.history)


def _watching(app: FastAPI) -> None:
    """The watchlist and the feeds that feed it: read by anyone, changed with the token."""
    writes: Any = {"dependencies": [Depends(require_token)]}

    @app.get("/api/watchlist", tags=["watchlist"])
    def list_watched(request: Request, failing: bool = False,
                     limit: int = Query(50, ge=1, le=500),
                     offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Watched articles, soonest due first, each with `failing` (null, or
        the failures in a row, since when, the last error); `failing=true`:
        only those."""
        items = _watchlist(request).entries(failing=failing, limit=limit, offset=offset)
        return _page(items, request, limit, offset)

    @app.post("/api/watchlist", tags=["watchlist"], status_code=201, **writes)
    def watch(request: Request, body: WatchRequest) -> dict[str, Any]:
        """Watch an article (due at once; needs the token)."""
        aid = _valid(_watchlist(request).add, body.url, priority=body.priority)
        return {"url": body.url, "article_id": aid, "priority": body.priority}

    @app.delete("/api/watchlist", tags=["watchlist"], **writes)
    def unwatch(request: Request, url: str) -> dict[str, Any]:
        """Stop watching the article at `url` (its history is kept; needs the token)."""
        if not _watchlist(request).remove(url):
            raise HTTPException(404, f"{url} is not watched")
        return {"url": url, "removed": True}

    @app.get("/api/feeds", tags=["watchlist"])
    def list_feeds(request: Request) -> list[dict[str, Any]]:
        """The RSS/Atom feeds and news sitemaps whose new articles are watched."""
        return _watchlist(request).feeds()

    @app.post("/api/feeds", tags=["watchlist"], status_code=201, **writes)
    def add_feed(request: Request, body: FeedRequest, response: Response) -> dict[str, Any]:
        """Register a feed or sitemap (needs the token); 200 if it was already."""
        if not _valid(_watchlist(request).add_feed, body.url):
            response.status_code = 200
            return {"url": body.url, "added": False}
        return {"url": body.url, "added": True}

    @app.delete("/api/feeds", tags=["watchlist"], **writes)
    def remove_feed(request: Request, url: str) -> dict[str, Any]:
        """Forget a feed (the articles it found stay watched; needs the token)."""
        if not _watchlist(request).remove_feed(url):
            raise HTTPException(404, f"{url} is not a registered feed")
        return {"url": url, "removed": True}


def _valid(change: Any, url: str, **options: Any) -> Any:
    """``change(url)``; a URL that is not one is the request's fault (422),
    one that was forgotten is not archived again (409)."""
    try:
        return change(url, **options)
    except InvalidURL as exc:
        raise HTTPException(422, str(exc)) from exc
    except Forgotten as exc:
        raise HTTPException(409, str(exc)) from exc


# ------------------------------------------- archived content, Memento, feeds


def _record(request: Request, snapshot: dict[str, Any], name: str) -> bytes:
    if name not in snapshot["records"]:
        raise HTTPException(404, f"snapshot {snapshot['id']} has no {name} record")
    return _read(request, locate(snapshot["warc_key"], snapshot["records"][name]))


def _read(request: Request, where: tuple[str, int, int]) -> bytes:
    """The payload of the record at (WARC key, offset, length): one ranged read."""
    store: BlobStore = request.app.state.store
    key, offset, length = where
    return read_record(store.get(key, start=offset, length=length))[2]


def _capture(request: Request, snapshot: dict[str, Any]) -> dict[str, Any]:
    try:
        facts: dict[str, Any] = json.loads(_record(request, snapshot, "capture"))
    except ValueError as exc:
        raise ArchiveError(f"snapshot {snapshot['id']}'s metadata record is not JSON") from exc
    return facts


def _archived(body: bytes, headers: dict[str, str] | None = None,
              csp: str = ARCHIVE_CSP) -> Response:
    """Archived HTML, served so that nothing in it can run (an opaque, sandboxed origin)."""
    return Response(body, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": csp, **(headers or {})})


def _replayed_page(request: Request, snapshot: dict[str, Any]) -> bytes:
    """The snapshot's DOM, showing the styles and images it archived, and
    its frames the documents they showed."""
    dom = _record(request, snapshot, "dom").decode("utf-8", "replace")
    return replay.page(dom, snapshot["final_url"] or snapshot["requested_url"],
                       _Shown(request, snapshot)).encode()


class _Shown:
    """A snapshot's archive, as its page is shown from (a :class:`replay.Archive`):
    its frames show what they showed (frames in frames too, a few deep), and
    its links lead to the memento of each page closest to its time, not to
    the live site."""

    def __init__(self, request: Request, snapshot: dict[str, Any], depth: int = 1) -> None:
        self.request, self.snapshot, self.depth = request, snapshot, depth
        self.held = request.app.state.replay_index(snapshot["warc_key"])
        self.address = _in_archive(snapshot["id"])
        self.link = f"/memento/{_stamp(snapshot['fetched_at'])}/".__add__

    def holds(self, url: str) -> bool:
        return urldefrag(url).url in self.held.resources

    def frame(self, url: str) -> str | None:
        found = self.held.frame(url) if self.depth <= MAX_FRAME_DEPTH else None
        document = _payload(self.request, self.snapshot, found) if found else None
        return None if document is None else replay.page(
            document.decode("utf-8", "replace"), url,
            _Shown(self.request, self.snapshot, self.depth + 1))

    def svg(self, url: str) -> str | None:
        found = self.held.resources.get(urldefrag(url).url)
        if found is None or found.media_type != "image/svg+xml":
            return None
        document = _payload(self.request, self.snapshot, found)
        return None if document is None else document.decode(found.charset, "replace")


def _resource(request: Request, snapshot: dict[str, Any],
              url: str) -> tuple[replay.Resource, bytes]:
    """What the snapshot archived at ``url``, and its body."""
    found = request.app.state.replay_index(snapshot["warc_key"]).resources.get(
        urldefrag(url).url)
    body = _payload(request, snapshot, found) if found else None
    if found is None or body is None:
        raise HTTPException(404, f"snapshot {snapshot['id']} archived no such resource: {url}")
    return found, body


def _payload(request: Request, snapshot: dict[str, Any], found: replay.Resource) -> bytes | None:
    """The body of an archived record (a revisit's read where it was first
    archived, if that is known)."""
    if not found.revisit:
        return _read(request, (snapshot["warc_key"], found.offset, found.length))
    with _engine(request).connect() as conn:
        first = dedup.originals(conn, [found.digest]).get(found.digest)
    return _read(request, (first.warc_key, first.offset, first.length)) if first else None


def _in_archive(snapshot_id: int) -> replay.Rewrite:
    """Where a URL's resource, as the snapshot archived it, is served."""
    return f"/snapshots/{snapshot_id}/r/".__add__


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def _stamp(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _target(request: Request, url: str) -> str:
    """The original URL from a path parameter (its query string rides along)."""
    return f"{url}?{request.url.query}" if request.url.query else url


def _closest(mementos: list[dict[str, Any]], when: datetime) -> dict[str, Any]:
    return min(mementos, key=lambda m: abs(datetime.fromisoformat(m["fetched_at"]) - when))


def _to_memento(request: Request, original: str, memento: dict[str, Any],
                headers: dict[str, str] | None = None) -> Response:
    """A redirect to ``memento`` of ``original`` (from a TimeGate, or an inexact time)."""
    base = str(request.base_url).rstrip("/")
    return RedirectResponse(f"{base}/memento/{_stamp(memento['fetched_at'])}/{original}",
                            status_code=302, headers={
        **(headers or {}),
        "Link": f'<{original}>; rel="original", <{base}/timemap/link/{original}>; '
                'rel="timemap"; type="application/link-format"'})


def _mementos(request: Request, url: str) -> tuple[str, list[dict[str, Any]]]:
    engine = _engine(request)
    article_id = queries.article_for_url(engine, url)
    original = queries.article_url(engine, article_id)
    # One a second: a memento's datetime (an HTTP date) and its URI name the
    # second; of snapshots taken within one, the last stands for it.
    by_second = {_stamp(s["fetched_at"]): s for s in queries.article_snapshots(engine, article_id)
                 if "dom" in s["records"]}
    mementos = list(by_second.values())
    if not mementos:
        raise HTTPException(404, f"no memento of {url}")
    return original, mementos


def _archive(app: FastAPI) -> None:
    @app.get("/snapshots/{snapshot_id}/dom", include_in_schema=False)
    def snapshot_dom(request: Request, snapshot_id: int) -> Response:
        return _archived(_record(request, queries.snapshot(_engine(request), snapshot_id), "dom"))

    @app.get("/snapshots/{snapshot_id}/page", include_in_schema=False)
    def snapshot_page(request: Request, snapshot_id: int) -> Response:
        snapshot = queries.snapshot(_engine(request), snapshot_id)
        return _archived(_replayed_page(request, snapshot), csp=replay.PAGE_CSP)

    @app.get("/snapshots/{snapshot_id}/r/{url:path}", include_in_schema=False)
    def snapshot_resource(request: Request, snapshot_id: int, url: str) -> Response:
        snapshot = queries.snapshot(_engine(request), snapshot_id)
        # (as asked for, percent-escapes kept: as the archive has the address)
        raw = request.scope.get("raw_path", b"").decode("latin-1").partition("/r/")[2]
        url = _target(request, raw or url)
        found, body = _resource(request, snapshot, url)
        media_type = found.media_type
        if media_type == "text/css":  # (its own addresses asked of the archive too)
            css = body.decode(found.charset, "replace")
            body = replay.stylesheet(css, url, _in_archive(snapshot_id)).encode()
            media_type = "text/css; charset=utf-8"
        return Response(body, media_type=media_type, headers={
            "Content-Security-Policy": replay.PAGE_CSP, "X-Content-Type-Options": "nosniff"})

    @app.get("/snapshots/{snapshot_id}/screenshot.png", include_in_schema=False)
    def snapshot_screenshot(request: Request, snapshot_id: int) -> Response:
        shot = _record(request, queries.snapshot(_engine(request), snapshot_id), "screenshot")
        return Response(shot, media_type="image/png")

    @app.get("/snapshots/{snapshot_id}/warc", tags=["snapshots"])
    def snapshot_warc(request: Request, snapshot_id: int) -> Response:
        """The snapshot's whole WARC file."""
        snapshot = queries.snapshot(_engine(request), snapshot_id)
        data = request.app.state.store.get(snapshot["warc_key"])
        name = snapshot["warc_key"].rsplit("/", 1)[-1]
        return Response(data, media_type="application/warc", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/articles/{article_id}/wacz", tags=["snapshots"])
    def article_wacz(request: Request, article_id: str) -> Response:
        """Every snapshot of the article as a WACZ, for ReplayWeb.page or pywb."""
        engine = _engine(request)
        url = queries.article_url(engine, article_id)
        folder = Path(tempfile.mkdtemp(prefix="palimpsest-wacz-"))
        try:
            export_wacz(engine, request.app.state.store, url, folder / "article.wacz")
        except BaseException:
            shutil.rmtree(folder)
            raise
        return FileResponse(folder / "article.wacz", media_type="application/zip",
                            filename=f"{article_id}.wacz",
                            background=BackgroundTask(shutil.rmtree, folder))

    @app.get("/timemap/link/{url:path}", tags=["memento"])
    def timemap(request: Request, url: str) -> Response:
        """RFC 7089 TimeMap of a URL in application/link-format."""
        original, mementos = _mementos(request, _target(request, url))
        base = str(request.base_url).rstrip("/")
        links = [f'<{original}>; rel="original"',
                 f'<{base}/timemap/link/{original}>; rel="self"; type="application/link-format"'
                 f'; from="{_http_date(mementos[0]["fetched_at"])}"'
                 f'; until="{_http_date(mementos[-1]["fetched_at"])}"',
                 f'<{base}/timegate/{original}>; rel="timegate"']
        for n, m in enumerate(mementos):
            rel = " ".join(["first"] * (n == 0) + ["last"] * (n == len(mementos) - 1)
                           + ["memento"])
            links.append(f'<{base}/memento/{_stamp(m["fetched_at"])}/{original}>; rel="{rel}"'
                         f'; datetime="{_http_date(m["fetched_at"])}"')
        return Response(",\n".join(links) + "\n", media_type="application/link-format")

    @app.get("/timegate/{url:path}", tags=["memento"])
    def timegate(request: Request, url: str) -> Response:
        """RFC 7089 TimeGate: redirects to the memento closest to Accept-Datetime."""
        original, mementos = _mementos(request, _target(request, url))
        wanted = request.headers.get("accept-datetime")
        if wanted:
            try:
                when = parsedate_to_datetime(wanted)
            except (TypeError, ValueError) as exc:
                raise HTTPException(400, f"bad Accept-Datetime {wanted!r}") from exc
            chosen = _closest(mementos, when if when.tzinfo else when.replace(tzinfo=UTC))
        else:
            chosen = mementos[-1]
        return _to_memento(request, original, chosen, {"Vary": "accept-datetime"})

    @app.get("/memento/{stamp}/{url:path}", tags=["memento"])
    def memento(request: Request, stamp: str, url: str) -> Response:
        """The archived page as captured at `stamp` (YYYYMMDDhhmmss, UTC); at
        another time (or a part of one: `2024`, `202403`...), a redirect to
        the memento closest to it, as the Wayback Machine's addresses do."""
        original, mementos = _mementos(request, _target(request, url))
        found = next((m for m in mementos if _stamp(m["fetched_at"]) == stamp), None)
        if found is None:
            try:
                when = datetime.strptime(stamp + "00000101000000"[len(stamp):], "%Y%m%d%H%M%S")
            except ValueError as exc:
                raise HTTPException(404, f"no memento of {original} at {stamp}") from exc
            return _to_memento(request, original, _closest(mementos, when.replace(tzinfo=UTC)))
        base = str(request.base_url).rstrip("/")
        return _archived(_replayed_page(request, found), {
            "Memento-Datetime": _http_date(found["fetched_at"]),
            "Link": f'<{original}>; rel="original", <{base}/timegate/{original}>; '
                    f'rel="timegate", <{base}/timemap/link/{original}>; rel="timemap"; '
                    'type="application/link-format"'}, csp=replay.PAGE_CSP)

    @app.get("/feeds/edits.atom", tags=["feeds"])
    def all_edits_feed(request: Request, only: Annotated[FeedFilter, Depends()]) -> Response:
        """Atom feed of the latest edits and events (unpublished, back online,
        moved, redirected...) of every article; `field`: only the edits that
        changed it (say, `headline`); `kind`: only the events of that kind."""
        return _atom(request, "All edits", only)

    @app.get("/feeds/sites/{site}.atom", tags=["feeds"])
    def site_feed(request: Request, site: str, only: Annotated[FeedFilter, Depends()]) -> Response:
        """Atom feed of the latest edits and events on one site (`field`, `kind`: as above)."""
        return _atom(request, f"Edits on {site}", only, site=site)

    @app.get("/feeds/articles/{article_id}.atom", tags=["feeds"])
    def article_feed(request: Request, article_id: str,
                     only: Annotated[FeedFilter, Depends()]) -> Response:
        """Atom feed of one article's edits and events (`field`, `kind`: as above)."""
        history = _history(request, article_id)
        return _atom(request, f"Edits of {_headline(history)}", only, article_id=article_id)


class FeedFilter:
    """A feed's choice: only the edits that changed ``field``, or only the
    events of ``kind``; everything when neither is given."""

    def __init__(self, field: str | None = None, kind: str | None = None) -> None:
        if field and field not in ARTICLE_FIELDS:
            raise HTTPException(422, f"field must be one of {', '.join(ARTICLE_FIELDS)}")
        if kind and kind not in EVENT_KINDS:
            raise HTTPException(422, f"kind must be one of {', '.join(EVENT_KINDS)}")
        self.field, self.kind = field or None, kind or None


def _atom(request: Request, title: str, only: FeedFilter, *, site: str | None = None,
          article_id: str | None = None) -> Response:
    """The feed of the latest 100 edits and events (on a site, of an article)."""
    engine, base = _engine(request), str(request.base_url).rstrip("/")
    chosen = only.field or only.kind
    feed = atom_feed(
        title=f"{title} ({chosen})" if chosen else title, self_url=str(request.url),
        base_url=base,
        edits=[] if only.kind else queries.recent_edits(
            engine, site=site, article_id=article_id, field=only.field, limit=100),
        events=[] if only.field else queries.recent_events(
            engine, site=site, article_id=article_id, kind=only.kind, limit=100))
    return Response(feed, media_type="application/atom+xml")
