"""Compare two versions of an article (pure functions).

:func:`compare` says which fields changed and how: old and new values for
every field but the body; for the body, paragraphs aligned into inserted,
deleted, moved and modified, a modified paragraph aligned again by sentence
and by word; word counts; flags (correction appended, stealth edit, date-only
change); and a deepdiff ``Delta`` (JSON, both directions) that turns either
version into the other. :func:`apply_delta` replays a stored delta.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff, Delta
from deepdiff.serialization import json_dumps, json_loads

from .errors import HistoryError
from .models import ARTICLE_FIELDS, Article

#: Two paragraphs this similar (by words) are one paragraph, modified.
SAME_PARAGRAPH = 0.5
WORD = re.compile(r"\w+")
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")


@dataclass(frozen=True)
class Edit:
    """What changed between two consecutive versions of an article."""

    changed_fields: tuple[str, ...]
    #: field -> {"old": ..., "new": ...} for every changed field but the body
    fields: dict[str, dict[str, Any]]
    #: paragraph operations, see :func:`align_paragraphs`
    body: tuple[dict[str, Any], ...]
    words_added: int
    words_removed: int
    #: share of the body's words added or removed, 0 to 1
    body_changed: float
    flags: tuple[str, ...]
    delta: str = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed_fields": list(self.changed_fields),
            "fields": self.fields,
            "body": list(self.body),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "body_changed": self.body_changed,
            "flags": list(self.flags),
        }


def compare(old: Article, new: Article) -> Edit | None:
    """The edit from ``old`` to ``new``, or None when they are the same."""
    before, after = old.fields(), new.fields()
    changed = tuple(f for f in ARTICLE_FIELDS if before[f] != after[f])
    if not changed:
        return None
    ops = align_paragraphs(old.body, new.body) if "body" in changed else []
    body_added, body_removed = _body_word_counts(ops)
    added, removed = body_added, body_removed
    if "headline" in changed:
        more, fewer = _word_counts(word_diff(old.headline, new.headline))
        added, removed = added + more, removed + fewer
    body_words = sum(len(p.split()) for p in old.body + new.body)
    return Edit(
        changed_fields=changed,
        fields={f: {"old": before[f], "new": after[f]} for f in changed if f != "body"},
        body=tuple(ops),
        words_added=added,
        words_removed=removed,
        body_changed=round((body_added + body_removed) / body_words, 4) if body_words else 0.0,
        flags=_flags(old, new, changed),
        delta=make_delta(before, after),
    )


def edit_between(history: dict[str, Any], old: int, new: int) -> dict[str, Any] | None:
    """The edit from version ``old`` to version ``new`` (consecutive or not)
    of an article's ``history`` (the JSON contract); None if they are the same."""
    by_number = {v["version"]: v["fields"] for v in history["versions"]}
    if old not in by_number or new not in by_number:
        raise HistoryError(f"{history['url']} has versions 1 to {len(by_number)}, "
                           f"not {old} and {new}")
    edit = compare(Article.from_fields(by_number[old]), Article.from_fields(by_number[new]))
    return edit.as_dict() | {"from_version": old, "to_version": new} if edit else None


def make_delta(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A bidirectional deepdiff Delta, as JSON, from ``before`` to ``after``."""
    diff = DeepDiff(before, after, verbose_level=2)
    delta: str = Delta(diff, bidirectional=True, serializer=json_dumps).dumps()  # type: ignore[no-untyped-call]
    return delta


def apply_delta(fields: dict[str, Any], delta: str, *, reverse: bool = False) -> dict[str, Any]:
    """Replay a stored delta on ``fields`` (backwards with ``reverse``)."""
    loaded = Delta(delta, deserializer=json_loads, bidirectional=True)
    result: dict[str, Any] = (fields - loaded) if reverse else (loaded + fields)
    return result


def _flags(old: Article, new: Article, changed: tuple[str, ...]) -> tuple[str, ...]:
    flags = []
    appended = set(new.corrections) - set(old.corrections)
    if appended:
        flags.append("correction_appended")
    if set(changed) <= {"published", "modified"}:
        flags.append("date_only")
    elif ({"headline", "body"} & set(changed) and old.modified == new.modified
          and not appended):
        flags.append("stealth_edit")
    return tuple(flags)


def align_paragraphs(old: tuple[str, ...], new: tuple[str, ...]) -> list[dict[str, Any]]:
    """Paragraph operations turning ``old`` into ``new``.

    Each is ``{"op": "insert", "new_index", "text"}``, ``{"op": "delete",
    "old_index", "text"}``, ``{"op": "move", "old_index", "new_index",
    "text"}`` or ``{"op": "modify", "old_index", "new_index", "old", "new",
    "sentences", "words"}`` (with ``"moved": true`` when it also moved).
    Paragraphs are paired inside each changed stretch first, then the ones
    left over are paired across the article, which finds moves.
    """
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    pairs: dict[int, int] = {}
    deleted: list[int] = []
    inserted: list[int] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            pairs.update(_pair(old, new, range(i1, i2), range(j1, j2)))
            deleted += range(i1, i2)
            inserted += range(j1, j2)
    in_block = set(pairs)
    pairs.update(_pair(old, new, [i for i in deleted if i not in pairs],
                       [j for j in inserted if j not in pairs.values()]))
    ops = [{"op": "delete", "old_index": i, "text": old[i]} for i in deleted if i not in pairs]
    for i, j in pairs.items():
        ops.append(_modify(i, j, old[i], new[j], moved=i not in in_block))
    taken = set(pairs.values())
    ops += [{"op": "insert", "new_index": j, "text": new[j]} for j in inserted if j not in taken]
    return sorted(ops, key=lambda op: (op.get("new_index", op.get("old_index")), op["op"]))


def _pair(old: tuple[str, ...], new: tuple[str, ...], olds: Iterable[int],
          news: Iterable[int]) -> dict[int, int]:
    """Pair old paragraphs with new ones: identical first, then the most similar."""
    free = list(news)
    pairs: dict[int, int] = {}
    rest = []
    for i in olds:
        j = next((j for j in free if new[j] == old[i]), None)
        if j is None:
            rest.append(i)
        else:
            pairs[i] = j
            free.remove(j)
    words = {j: _words(new[j]) for j in free}
    for i in rest:
        best, score = None, SAME_PARAGRAPH
        for j in free:
            matcher = difflib.SequenceMatcher(a=_words(old[i]), b=words[j], autojunk=False)
            if matcher.real_quick_ratio() >= score and matcher.quick_ratio() >= score:
                ratio = matcher.ratio()
                if ratio >= score:
                    best, score = j, ratio
        if best is not None:
            pairs[i] = best
            free.remove(best)
    return pairs


def _words(text: str) -> list[str]:
    """Words for judging similarity: case and punctuation do not count."""
    return WORD.findall(text.lower())


def _modify(i: int, j: int, old: str, new: str, *, moved: bool) -> dict[str, Any]:
    if old == new:
        return {"op": "move", "old_index": i, "new_index": j, "text": new}
    op = {"op": "modify", "old_index": i, "new_index": j, "old": old, "new": new,
          "sentences": align_sentences(old, new), "words": word_diff(old, new)}
    return {**op, "moved": True} if moved else op


def split_sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def align_sentences(old: str, new: str) -> list[dict[str, str]]:
    """Sentence operations within a modified paragraph."""
    a, b = split_sentences(old), split_sentences(new)
    ops = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            before = olds[k] if k < len(olds) else None
            after = news[k] if k < len(news) else None
            kind = "modify" if before and after else "delete" if before else "insert"
            ops.append({"op": kind, **({"old": before} if before else {}),
                        **({"new": after} if after else {})})
    return ops


def word_diff(old: str, new: str) -> list[list[str]]:
    """``[["=", "kept words"], ["-", "removed"], ["+", "added"], ...]``."""
    a, b = old.split(), new.split()
    runs: list[list[str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            runs.append(["=", " ".join(a[i1:i2])])
            continue
        if i2 > i1:
            runs.append(["-", " ".join(a[i1:i2])])
        if j2 > j1:
            runs.append(["+", " ".join(b[j1:j2])])
    return runs


def _word_counts(runs: list[list[str]]) -> tuple[int, int]:
    added = sum(len(text.split()) for kind, text in runs if kind == "+")
    removed = sum(len(text.split()) for kind, text in runs if kind == "-")
    return added, removed


def _body_word_counts(ops: list[dict[str, Any]]) -> tuple[int, int]:
    added = removed = 0
    for op in ops:
        if op["op"] == "insert":
            added += len(op["text"].split())
        elif op["op"] == "delete":
            removed += len(op["text"].split())
        elif op["op"] == "modify":
            more, fewer = _word_counts(op["words"])
            added, removed = added + more, removed + fewer
    return added, removed
