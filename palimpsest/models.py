"""Records passed between the steps of the pipeline: frozen dataclasses.

A :class:`Capture` is what the browser saw, an :class:`Article` what was
extracted from it, a :class:`SnapshotResult` what recording it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Exchange:
    """One HTTP request the page made and the response it got."""

    url: str
    method: str
    request_headers: Headers
    request_body: bytes | None
    status: int
    reason: str
    response_headers: Headers
    body: bytes
    #: The exchange is a redirect hop; the browser followed ``location``.
    redirect: bool = False
    protocol: str = "HTTP/1.1"
    #: why ``body`` is incomplete (a WARC-Truncated reason), None when whole
    truncated: str | None = None
    #: ``body`` is stored as served, still content-encoded (a coding the
    #: recorder does not decode, or a body that would not): the head keeps
    #: its Content-Encoding
    encoded: bool = False
    #: the address of the server that answered (``WARC-IP-Address``)
    ip_address: str = ""
    #: when the browser sent the request: the ``WARC-Date`` of its records
    #: (None: the capture's start)
    sent_at: datetime | None = None

    def header(self, name: str) -> str | None:
        """The first response header called ``name`` (case-insensitive)."""
        return first_header(self.response_headers, name)

    @property
    def repeatable(self) -> bool:
        """``body`` would be stored the same from the same response: whole, or
        cut at a set length (not wherever the capture happened to end)."""
        return self.truncated in (None, "length")


def first_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The value of the first header called ``name`` (case-insensitive), in order."""
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


@dataclass(frozen=True)
class Frame:
    """A frame of the page (an ``<iframe>``, nested ones too: an embedded post,
    a chart, an ad) and its document as rendered."""

    url: str
    #: URL of the frame it is in (the page's, for a frame of the page itself)
    parent: str
    name: str = ""
    #: The rendered DOM, as HTML; None if it could not be read (see ``unread``)
    dom: str | None = None
    #: Why not: "no answer" (its process was busy), "too large"
    unread: str = ""


@dataclass(frozen=True)
class Capture:
    """What the browser was served for one URL, and what it rendered."""

    url: str
    final_url: str
    status: int
    fetched_at: datetime
    exchanges: tuple[Exchange, ...]
    dom: str
    screenshot: bytes | None = None
    #: The page loaded (its load event came) within the page timeout, and
    #: reached network quiet within the settle budget.
    settled: bool = True
    browser_version: str = ""
    #: URLs the page asked for that got no response (blocked, refused, aborted).
    failed: tuple[str, ...] = ()
    #: URLs the page's own request was redirected through, first to last
    redirect_chain: tuple[str, ...] = ()
    #: seconds spent loading and then settling and rendering
    timings: dict[str, float] = field(default_factory=dict)
    #: how it was captured (viewport, user agent, time budgets, limits)
    conditions: dict[str, Any] = field(default_factory=dict)
    #: origin -> what its server showed: its address and, over TLS, the
    #: protocol, cipher and certificate (subject, issuer, validity, SHA-256)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The page's frames, rendered, in the order they were attached
    frames: tuple[Frame, ...] = ()
    #: when the DOM, the frames and the screenshot were taken (None: the
    #: capture's start)
    rendered_at: datetime | None = None

    @property
    def page(self) -> Exchange:
        """The exchange that delivered the final page document: the last
        navigation to the final URL, not a request the page made for its own
        URL by script (a PJAX fetch, a beacon), which the archive keeps too."""
        own = [e for e in self.exchanges if e.url == self.final_url and not e.redirect]
        if not own:
            raise LookupError(f"no response for {self.final_url} in the capture")
        # (max keeps the first of equals: reversed, the last a page asked for)
        return max(reversed(own), key=lambda e: (_navigation(e), e.method == "GET"))


def _navigation(exchange: Exchange) -> bool:
    """Whether Chromium sent the request as a navigation: it says so to
    trustworthy origins (https, localhost) with Sec-Fetch-Dest, and on plain
    http with Upgrade-Insecure-Requests, which only navigations carry."""
    headers = {name.lower(): value for name, value in exchange.request_headers}
    if "sec-fetch-dest" in headers:
        return headers["sec-fetch-dest"] == "document"
    return headers.get("upgrade-insecure-requests") == "1"


#: Fields stored and compared between versions, in the order they are shown. The
#: canonical URL is not among them: it names the article (see identity.py), and
#: a slug change is a "moved" event, not an edit.
ARTICLE_FIELDS = (
    "headline", "dek", "authors", "published", "modified", "section", "tags",
    "body", "corrections", "lead_image", "lead_image_caption", "language",
)


@dataclass(frozen=True)
class Article:
    """The fields of a news article, normalised for comparison."""

    headline: str = ""
    dek: str = ""
    authors: tuple[str, ...] = ()
    published: str | None = None
    modified: str | None = None
    section: str = ""
    tags: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    #: correction notices and editor's notes, kept out of the body
    corrections: tuple[str, ...] = ()
    lead_image: str | None = None
    lead_image_caption: str = ""
    canonical_url: str | None = None
    language: str | None = None
    #: the page is a paywall, consent or bot-check wall, not the article
    wall: bool = False
    #: what the page says if it says the article is not there (a "page not
    #: found" served with 200, a takedown notice); "" for an article
    gone: str = ""
    #: what read it: the extractor's version, and the site's own rule if one
    #: applied (``extract.EXTRACTOR_VERSION``, ``"8+rule.1a2b3c"``); not a field
    extractor: str = field(default="", compare=False)

    def fields(self) -> dict[str, Any]:
        """The compared fields, JSON-ready (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k in ARTICLE_FIELDS for v in [getattr(self, k)]}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Article:
        """Rebuild an article from :meth:`fields` output; unknown keys are ignored."""
        known: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in fields.items() if k in ARTICLE_FIELDS
        }
        return cls(**known)


@dataclass(frozen=True)
class StoredWarc:
    """Where a snapshot's WARC lives and where its key records sit inside it."""

    key: str
    size: int
    sha256: str
    #: record name ("page", "dom", "screenshot", "capture") -> (offset, length) in the WARC,
    #: or (offset, length, warc key) of the first copy when the record is a revisit
    records: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    #: payload digest -> its copy in this WARC (a ``warc.Original``), for the index
    payloads: dict[str, Any] = field(default_factory=dict)
    #: digests this WARC holds as revisits of records in other WARCs
    revisits: frozenset[str] = frozenset()


#: The fields of running text, which ``palimpsest search`` reads
TEXT_FIELDS = ("headline", "dek", "body", "corrections", "lead_image_caption")
#: What the history records of an article besides its versions (``events.kind``)
EVENT_KINDS = ("unpublished", "republished", "moved", "redirected", "wall", "ab_test")

Outcome = Literal["new", "changed", "unchanged", "revert", "ab-flip", "unpublished", "wall",
                  "redirected", "unavailable"]


@dataclass(frozen=True)
class SnapshotResult:
    """What recording one snapshot did to an article's history."""

    url: str
    article_id: str
    snapshot_id: int
    outcome: Outcome
    version: int | None
    warc_key: str
    changed_fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["changed_fields"] = list(self.changed_fields)
        return data
