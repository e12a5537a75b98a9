"""Atom (RFC 4287) feeds of what happened to articles: their edits, and the
rest (unpublished, back online, moved, redirected, walled, A/B tested)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from . import lifecycle

ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(*, title: str, self_url: str, base_url: str, edits: Sequence[dict[str, Any]],
              events: Sequence[dict[str, Any]] = (), limit: int = 100) -> bytes:
    """An Atom document with one entry per edit and per event, newest first."""
    entries = sorted([_edit_entry(e, base_url) for e in edits] +
                     [_event_entry(e, base_url) for e in events],
                     key=lambda entry: entry["updated"], reverse=True)[:limit]

    def add(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        node = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        node.text = text
        return node

    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    add(feed, "title", title)
    add(feed, "id", self_url)
    add(feed, "link", rel="self", href=self_url)
    add(feed, "updated", entries[0]["updated"] if entries else datetime.now(UTC).isoformat())
    add(add(feed, "author"), "name", "Palimpsest")
    for item in entries:
        entry = add(feed, "entry")
        add(entry, "id", item["id"])
        add(entry, "title", item["title"])
        add(entry, "updated", item["updated"])
        add(entry, "link", rel="alternate", type="text/html", href=item["page"])
        add(entry, "link", rel="related", href=item["url"])
        add(entry, "summary", item["summary"])
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True))


def edit_page(base_url: str, edit: dict[str, Any]) -> str:
    """The web UI's page of an edit: its diff."""
    return (f"{base_url}/articles/{edit['article_id']}/diff?"
            f"from_version={edit['from_version']}&to_version={edit['to_version']}")


def article_page(base_url: str, article_id: str) -> str:
    return f"{base_url}/articles/{article_id}"


def _edit_entry(edit: dict[str, Any], base_url: str) -> dict[str, str]:
    changed = ", ".join(edit["changed_fields"])
    flags = f"; {', '.join(edit['flags'])}" if edit["flags"] else ""
    return {
        "id": f"urn:palimpsest:edit:{edit['article_id']}:{edit['to_version']}",
        "title": f"{edit['headline']}: {changed} changed", "updated": edit["captured_at"],
        "page": edit_page(base_url, edit),
        "url": edit["url"],
        "summary": f"v{edit['from_version']} → v{edit['to_version']}: {changed}; "
                   f"+{edit['words_added']} / -{edit['words_removed']} words{flags}",
    }


def _event_entry(event: dict[str, Any], base_url: str) -> dict[str, str]:
    kind = event["kind"]
    return {
        "id": f"urn:palimpsest:event:{event['article_id']}:{event['kind']}:{event['at']}",
        "title": f"{event['headline'] or event['url']}: {lifecycle.title(kind)}",
        "updated": event["at"], "page": article_page(base_url, event["article_id"]),
        "url": event["url"], "summary": lifecycle.said(kind, event["detail"]) or kind,
    }
