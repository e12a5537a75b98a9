"""A readable timeline of an article's history, for the terminal."""

from __future__ import annotations

from typing import Any


def _short(value: Any, width: int = 70) -> str:
    text = ", ".join(value) if isinstance(value, list) else str(value or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _stamp(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ") + "Z" if iso else "?"


def describe_edit(edit: dict[str, Any]) -> list[str]:
    """One line per changed field of an edit."""
    lines = []
    for name in edit["changed_fields"]:
        if name == "body":
            counts = {"insert": 0, "delete": 0, "modify": 0}
            for op in edit.get("body", []):
                counts[op["op"]] += max(len(op.get("new", [])), len(op.get("old", [])))
            lines.append(
                f"body: {counts['insert']} paragraph(s) added, {counts['delete']} removed, "
                f"{counts['modify']} changed "
                f"(+{edit['words_added']}/-{edit['words_removed']} words)"
            )
        else:
            change = edit["fields"][name]
            lines.append(f"{name}: {_short(change['old'])!r} → {_short(change['new'])!r}")
    return lines


def render_timeline(history: dict[str, Any]) -> str:
    """The history JSON as lines: one block per version, what changed in each."""
    out = [f"{history['url']}",
           f"  {len(history['versions'])} version(s) from {history['snapshots']} snapshot(s); "
           f"status {history['status']}, last checked {_stamp(history['last_checked'])}"]
    edits = {e["to_version"]: e for e in history["edits"]}
    for version in history["versions"]:
        n = version["version"]
        head = f"v{n}  {_stamp(version['captured_at'])}"
        if n in edits:
            lines = describe_edit(edits[n])
            out.append(f"{head}  {lines[0]}")
            out.extend(" " * len(head) + "  " + line for line in lines[1:])
        else:
            out.append(f"{head}  first seen: {_short(version['fields'].get('headline'))!r}")
    return "\n".join(out)
