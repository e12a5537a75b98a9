"""Compare two versions of an article (pure functions).

:func:`compare` says which fields changed and how: old and new values for
single-valued fields, paragraph operations for the body, word counts, and a
deepdiff ``Delta`` (JSON, both directions) that turns either version into the
other. :func:`apply_delta` replays a stored delta.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff, Delta
from deepdiff.serialization import json_dumps, json_loads

from .models import ARTICLE_FIELDS, Article


@dataclass(frozen=True)
class Edit:
    """What changed between two consecutive versions of an article."""

    changed_fields: tuple[str, ...]
    #: field -> {"old": ..., "new": ...} for every changed field but the body
    fields: dict[str, dict[str, Any]]
    #: body operations: {"op": "insert"|"delete"|"modify", "old_index", "new_index", ...}
    body: tuple[dict[str, Any], ...]
    words_added: int
    words_removed: int
    delta: str = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed_fields": list(self.changed_fields),
            "fields": self.fields,
            "body": list(self.body),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
        }


def compare(old: Article, new: Article) -> Edit | None:
    """The edit from ``old`` to ``new``, or None when they are the same."""
    before, after = old.fields(), new.fields()
    changed = tuple(f for f in ARTICLE_FIELDS if before[f] != after[f])
    if not changed:
        return None
    diff = DeepDiff(before, after, verbose_level=2)
    delta = Delta(diff, bidirectional=True, serializer=json_dumps).dumps()  # type: ignore[no-untyped-call]
    ops = _body_ops(old.body, new.body)
    added, removed = _word_changes(" ".join(old.body), " ".join(new.body))
    if "headline" in changed:
        more, fewer = _word_changes(old.headline, new.headline)
        added, removed = added + more, removed + fewer
    return Edit(
        changed_fields=changed,
        fields={f: {"old": before[f], "new": after[f]} for f in changed if f != "body"},
        body=tuple(ops),
        words_added=added,
        words_removed=removed,
        delta=str(delta),
    )


def _body_ops(old: tuple[str, ...], new: tuple[str, ...]) -> list[dict[str, Any]]:
    """Paragraph operations turning ``old`` into ``new``."""
    ops = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        op = {"replace": "modify", "insert": "insert", "delete": "delete"}[tag]
        entry: dict[str, Any] = {"op": op, "old_index": i1, "new_index": j1}
        if i2 > i1:
            entry["old"] = list(old[i1:i2])
        if j2 > j1:
            entry["new"] = list(new[j1:j2])
        ops.append(entry)
    return ops


def _word_changes(old: str, new: str) -> tuple[int, int]:
    """Words added and removed between two texts (a word-level diff)."""
    a, b = old.split(), new.split()
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def apply_delta(fields: dict[str, Any], delta: str, *, reverse: bool = False) -> dict[str, Any]:
    """Replay a stored delta on ``fields`` (backwards with ``reverse``)."""
    loaded = Delta(delta, deserializer=json_loads, bidirectional=True)
    result: dict[str, Any] = (fields - loaded) if reverse else (loaded + fields)
    return result
