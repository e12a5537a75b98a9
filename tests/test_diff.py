from __future__ import annotations

from palimpsest.diff import apply_delta, compare
from palimpsest.models import Article

BASE = Article(headline="Old headline", authors=("A. Writer",), tags=("x",),
               body=("First paragraph here.", "Second one.", "Third and last."))


def test_identical_articles_are_no_edit() -> None:
    assert compare(BASE, Article(**BASE.__dict__)) is None


def test_headline_rewrite() -> None:
    edit = compare(BASE, Article(**{**BASE.__dict__, "headline": "New headline"}))
    assert edit is not None
    assert edit.changed_fields == ("headline",)
    assert edit.fields["headline"] == {"old": "Old headline", "new": "New headline"}
    assert (edit.words_added, edit.words_removed) == (1, 1)


def test_body_operations_and_word_counts() -> None:
    new = Article(**{**BASE.__dict__, "body": (
        "First paragraph here.", "Second one, corrected.", "Third and last.", "A new ending.")})
    edit = compare(BASE, new)
    assert edit is not None and edit.changed_fields == ("body",)
    assert [op["op"] for op in edit.body] == ["modify", "insert"]
    assert edit.body[0]["words"] == [["=", "Second"], ["-", "one."], ["+", "one, corrected."]]
    assert edit.body[1] == {"op": "insert", "new_index": 3, "text": "A new ending."}
    assert (edit.words_added, edit.words_removed) == (5, 1)
    assert edit.flags == ("stealth_edit",)


def test_delta_rebuilds_either_version() -> None:
    new = Article(headline="New", authors=("B",), tags=("x", "y"), body=("Only one.",))
    edit = compare(BASE, new)
    assert edit is not None
    assert apply_delta(BASE.fields(), edit.delta) == new.fields()
    assert apply_delta(new.fields(), edit.delta, reverse=True) == BASE.fields()
