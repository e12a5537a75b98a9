"""Readable views of an article's history for the terminal: the timeline of
versions and events, and a coloured word diff of one edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import lifecycle

Style = Callable[..., str]


def _plain(text: str, **_: Any) -> str:
    return text


def _short(value: Any, width: int = 70) -> str:
    text = ", ".join(value) if isinstance(value, list) else str(value or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _stamp(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ") + "Z" if iso else "?"


def describe_edit(edit: dict[str, Any]) -> list[str]:
    """One line per changed field of an edit, then its flags."""
    lines = []
    for name in edit["changed_fields"]:
        if name == "body":
            counts = {"insert": 0, "delete": 0, "modify": 0, "move": 0}
            for op in edit.get("body", []):
                counts[op["op"]] += 1
            lines.append(
                f"body: {counts['insert']} paragraph(s) added, {counts['delete']} removed, "
                f"{counts['modify']} changed, {counts['move']} moved "
                f"(+{edit['words_added']}/-{edit['words_removed']} words)")
        else:
            change = edit["fields"][name]
            lines.append(f"{name}: {_short(change['old'])!r} → {_short(change['new'])!r}")
    if edit.get("flags"):
        lines.append("flags: " + ", ".join(edit["flags"]))
    return lines


def render_timeline(history: dict[str, Any]) -> str:
    """The history JSON as lines: one block per version or event, in time order."""
    out = [f"{history['url']}",
           f"  {len(history['versions'])} version(s) from {history['snapshots']} snapshot(s); "
           f"status {history['status']}, last checked {_stamp(history['last_checked'])}"]
    if failing := history.get("failing"):
        out.append(f"  captures failing since {_stamp(failing['since'])} "
                   f"({failing['failures']} in a row): {failing['error']}")
    if len(history.get("aliases", [])) > 1:
        out.append("  also at: " + ", ".join(a for a in history["aliases"] if a != history["url"]))
    edits = {e["to_version"]: e for e in history["edits"]}
    entries: list[tuple[str, list[str]]] = []
    for version in history["versions"]:
        n = version["version"]
        lines = (describe_edit(edits[n]) if n in edits
                 else [f"first seen: {_short(version['fields'].get('headline'))!r}"])
        entries.append((version["captured_at"] or "", [f"v{n}", *lines]))
    for event in history.get("events", []):
        detail = {k: v for k, v in event.items() if k not in ("kind", "at", "snapshot_id")}
        entries.append((event["at"] or "", ["event", lifecycle.describe(event["kind"], detail)]))
    for at, (label, *lines) in sorted(entries, key=lambda e: e[0]):
        head = f"{label:<5} {_stamp(at)}"
        out.append(f"{head}  {lines[0]}")
        out.extend(" " * len(head) + "  " + line for line in lines[1:])
    return "\n".join(out)


def render_diff(edit: dict[str, Any], style: Style = _plain) -> str:
    """Edit N-1 → N field by field, words removed in red and added in green."""
    def words(runs: list[list[str]]) -> str:
        return " ".join(
            text if kind == "=" else
            style(f"[-{text}-]", fg="red") if kind == "-" else style(f"{{+{text}+}}", fg="green")
            for kind, text in runs)

    from .diff import word_diff

    out = [f"v{edit['from_version']} → v{edit['to_version']}  "
           f"(+{edit['words_added']}/-{edit['words_removed']} words)"]
    for name, change in edit.get("fields", {}).items():
        old, new = change["old"], change["new"]
        if isinstance(old, list) or isinstance(new, list):
            old, new = ", ".join(old or []), ", ".join(new or [])
        out.append(f"{style(name, bold=True)}: {words(word_diff(str(old or ''), str(new or '')))}")
    for op in edit.get("body", []):
        where = f"¶{op.get('new_index', op.get('old_index', 0)) + 1}"
        if op["op"] == "modify":
            text = words(op["words"])
        elif op["op"] == "insert":
            text = style(f"{{+{op['text']}+}}", fg="green")
        elif op["op"] == "delete":
            text = style(f"[-{op['text']}-]", fg="red")
        else:
            text = f"(moved from ¶{op['old_index'] + 1}) {op['text']}"
        out.append(f"{style('body ' + where + ' ' + op['op'], bold=True)}: {text}")
    return "\n".join(out)
