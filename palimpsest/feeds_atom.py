"""Atom (RFC 4287) feeds of edits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(*, title: str, self_url: str, base_url: str, edits: list[dict[str, Any]]) -> bytes:
    """An Atom document with one entry per edit, newest first."""
    def add(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        node = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        node.text = text
        return node

    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    add(feed, "title", title)
    add(feed, "id", self_url)
    add(feed, "link", rel="self", href=self_url)
    add(feed, "updated", edits[0]["captured_at"] if edits else datetime.now(UTC).isoformat())
    add(add(feed, "author"), "name", "Palimpsest")
    for edit in edits:
        diff = (f"{base_url}/articles/{edit['article_id']}/diff?"
                f"from_version={edit['from_version']}&to_version={edit['to_version']}")
        entry = add(feed, "entry")
        add(entry, "id", f"urn:palimpsest:edit:{edit['article_id']}:{edit['to_version']}")
        add(entry, "title", f"{edit['headline']}: {', '.join(edit['changed_fields'])} changed")
        add(entry, "updated", edit["captured_at"])
        add(entry, "link", rel="alternate", type="text/html", href=diff)
        add(entry, "link", rel="related", href=edit["url"])
        add(entry, "summary", f"v{edit['from_version']} → v{edit['to_version']}: "
            f"{', '.join(edit['changed_fields'])}; +{edit['words_added']} / "
            f"-{edit['words_removed']} words" + (f"; {', '.join(edit['flags'])}"
                                                 if edit["flags"] else ""))
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True))
