"""Property: the stored deepdiff Deltas rebuild every version exactly,
forwards from the first and backwards from the last."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palimpsest.diff import apply_delta
from palimpsest.history import HistoryStore
from palimpsest.models import Article, Capture, StoredWarc

WORDS = st.sampled_from(["bridge", "council", "river", "38", "million", "said", "the", "new",
                         "é", "Müller", "€", "reopens", "on", "Friday"])
TEXT = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)
ARTICLES = st.builds(
    Article,
    headline=TEXT,
    authors=st.lists(TEXT, max_size=3).map(tuple),
    published=st.one_of(st.none(), st.just("2026-11-27T08:00:00+00:00")),
    tags=st.lists(TEXT, max_size=4).map(tuple),
    body=st.lists(TEXT, max_size=12).map(tuple),
    corrections=st.lists(TEXT, max_size=2).map(tuple),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ARTICLES, min_size=2, max_size=7))
def test_deltas_rebuild_every_version(sequence: list[Article]) -> None:
    url = "http://news.test/story"
    with tempfile.TemporaryDirectory() as home:
        history = HistoryStore(f"sqlite:///{home}/h.sqlite")
        start = datetime(2026, 11, 1, tzinfo=UTC)
        for n, article in enumerate(sequence):
            # Days apart, so that no headline flip counts as an A/B test.
            capture = Capture(url=url, final_url=url, status=200, exchanges=(), dom="",
                              fetched_at=start + timedelta(days=n))
            history.record(capture, article, StoredWarc(f"k/{n}.warc.gz", 1, "0" * 64))
        data = history.history(url)
        history.close()
    stored = {v["version"]: v["fields"] for v in data["versions"]}
    rebuilt = stored[1]
    for edit in data["edits"]:
        delta = _delta_json(edit)
        rebuilt = apply_delta(rebuilt, delta)
        assert rebuilt == stored[edit["to_version"]]
    for edit in reversed(data["edits"]):
        rebuilt = apply_delta(rebuilt, _delta_json(edit), reverse=True)
        assert rebuilt == stored[edit["from_version"]]
    assert rebuilt == stored[1]


def _delta_json(edit: dict[str, object]) -> str:
    from deepdiff.serialization import json_dumps

    return str(json_dumps(edit["delta"]))
