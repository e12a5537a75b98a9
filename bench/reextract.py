"""Re-extraction speed: snapshots per second over 1,000 stored snapshots.

Builds 1,000 snapshots of 100 demo articles (10 each, some edited) as real
WARCs in a local store, recorded through the real recorder, then times
`reextract` over all of them twice: with a stale version planted in one
article (one rebuild) and with nothing to change (nothing recorded).

    uv run python bench/reextract.py [--snapshots 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from palimpsest.demo_site import generated_articles, render_article
from palimpsest.extract import extract
from palimpsest.history import HistoryStore
from palimpsest.models import Capture, Exchange
from palimpsest.pipeline import archive
from palimpsest.reextract import reextract
from palimpsest.schema import versions
from palimpsest.storage import LocalStore

START = datetime(2026, 11, 1, tzinfo=UTC)


def build(history: HistoryStore, store: LocalStore, snapshots: int) -> None:
    articles = generated_articles(max(1, snapshots // 10))
    for n in range(snapshots):
        demo = articles[n % len(articles)]
        if n // len(articles) % 3 == 2:  # every third round, a paragraph is added
            demo = replace(demo, body=(*demo.body, f"Update {n // len(articles)}."))
        url = f"https://news.example/news/{demo.slug}"
        html = render_article(demo, "https://news.example", views=n)
        page = Exchange(url, "GET", (), None, 200, "OK",
                        (("Content-Type", "text/html"),), html.encode())
        capture = Capture(url=url, final_url=url, status=200, exchanges=(page,), dom=html,
                          fetched_at=START + timedelta(minutes=n))
        history.record(capture, extract(html, url=url), archive(capture, store))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        history = HistoryStore(f"sqlite:///{home}/history.sqlite")
        store = LocalStore(f"{home}/warcs")
        build(history, store, args.snapshots)
        with history.engine.begin() as conn:  # as if an older extractor had missed a paragraph
            row = conn.execute(select(versions.c.id, versions.c.fields).limit(1)).one()
            conn.execute(update(versions).where(versions.c.id == row.id).values(
                fields={**row.fields, "body": row.fields["body"][:-1]}, content_hash="stale"))
        for label in ("one stale article", "nothing changed"):
            started = time.perf_counter()
            report = reextract(history, store)
            elapsed = time.perf_counter() - started
            print(f"reextract, {label}: {report.snapshots} snapshots of {report.articles} "
                  f"articles in {elapsed:.1f} s = {report.snapshots / elapsed:.0f} snapshots/s; "
                  f"{len(report.rebuilt)} rebuilt (target >= 50/s)")
        history.close()


if __name__ == "__main__":
    main()
