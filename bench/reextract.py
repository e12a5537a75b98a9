"""Re-extraction speed: snapshots per second over 1,000 stored snapshots.

Builds 1,000 snapshots as real WARCs in a local store, recorded through the
real recorder, then times `reextract` over all of them twice: with a stale
version planted in one article (one rebuild) and with nothing to change
(nothing may be recorded). The pages are the 181 real article pages of
../shared/bench/extraction (each captured several times), or with
--pages demo the demo site's (100 articles, 10 snapshots each, some edited).

    uv run python bench/reextract.py [--snapshots 1000] [--pages real|demo] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "extraction"


def demo_pages(snapshots: int) -> Iterator[tuple[str, str]]:
    articles = generated_articles(max(1, snapshots // 10))
    for n in range(snapshots):
        demo = articles[n % len(articles)]
        if n // len(articles) % 3 == 2:  # every third round, a paragraph is added
            demo = replace(demo, body=(*demo.body, f"Update {n // len(articles)}."))
        yield f"https://news.example/news/{demo.slug}", render_article(
            demo, "https://news.example", views=n)


def real_pages(snapshots: int, *, distinct: bool) -> Iterator[tuple[str, str]]:
    """Each real page captured over and over; with ``distinct``, every capture's
    DOM differs by a comment (as a page with a changing ad id would)."""
    truth = json.loads((REAL / "ground-truth.json").read_text())
    pages = [(record.get("url") or f"https://news.example/{pid}", pid)
             for pid, record in sorted(truth.items())]
    for n in range(snapshots):
        url, pid = pages[n % len(pages)]
        html = (REAL / f"{pid}.html").read_text()
        yield url, html + (f"<!-- capture {n} -->" if distinct else "")


def build(history: HistoryStore, store: LocalStore, pages: Iterable[tuple[str, str]]) -> None:
    for n, (url, html) in enumerate(pages):
        page = Exchange(url, "GET", (), None, 200, "OK",
                        (("Content-Type", "text/html"),), html.encode())
        capture = Capture(url=url, final_url=url, status=200, exchanges=(page,), dom=html,
                          fetched_at=START + timedelta(minutes=n))
        history.record(capture, extract(html, url=url),
                       archive(capture, store, history.originals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--pages", choices=("real", "demo"),
                        default="real" if REAL.exists() else "demo")
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    args = parser.parse_args()
    kinds = ["demo"] if args.pages == "demo" else ["distinct", "repeated"]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as home:
            run(Path(home), kind, args.snapshots, args.workers)


def run(home: Path, kind: str, snapshots: int, workers: int | None) -> None:
    history = HistoryStore(f"sqlite:///{home}/history.sqlite")
    store = LocalStore(f"{home}/warcs")
    pages = demo_pages(snapshots) if kind == "demo" else \
        real_pages(snapshots, distinct=kind == "distinct")
    build(history, store, pages)
    with history.engine.begin() as conn:  # as if an older extractor had missed a paragraph
        row = conn.execute(select(versions.c.id, versions.c.fields).limit(1)).one()
        conn.execute(update(versions).where(versions.c.id == row.id).values(
            fields={**row.fields, "body": row.fields["body"][:-1]}, content_hash="stale"))
    label = {"demo": "demo pages", "distinct": "real pages, every DOM distinct",
             "repeated": "real pages, unchanged DOMs deduplicated"}[kind]
    for case in ("one stale article", "nothing changed"):
        started = time.perf_counter()
        report = reextract(history, store, workers=workers)
        elapsed = time.perf_counter() - started
        print(f"reextract ({label}, {workers or os.cpu_count()} workers), {case}: "
              f"{report.snapshots} snapshots of {report.articles} articles in {elapsed:.1f} s "
              f"= {report.snapshots / elapsed:.0f} snapshots/s; {len(report.rebuilt)} rebuilt "
              "(target >= 50/s)")
    history.close()


if __name__ == "__main__":
    main()
