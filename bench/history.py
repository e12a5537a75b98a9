"""History query and compare-and-record timings on SQLite.

Builds a database of 100,000 articles (one version and snapshot each), then
records 1,000 versions of one more article through the real record path, and
prints:

- p50/p95 of `history --json` for that article (the query and the JSON
  encoding, in process; target p95 under 50 ms);
- the time of ``palimpsest search`` (:func:`search_versions`) for a phrase
  no version says, one that a single article says, a word every article says
  (each also with ``removed``: the worst case, every article read);
- the median of the compare-and-record step (``HistoryStore.record``: compare
  with the current version, deepdiff Delta, insert) for a 60-paragraph
  article (target under 10 ms), and of ``compare`` alone.

    uv run python bench/history.py [--articles 100000] [--versions 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from palimpsest.diff import compare
from palimpsest.history import HistoryStore, content_hash
from palimpsest.models import Article, Capture, StoredWarc
from palimpsest.schema import article_urls, articles, snapshots, versions
from palimpsest.search import search_versions
from palimpsest.urls import normalize_url, url_id

SAMPLE = ("the council said on friday that the harbour bridge would reopen after repairs "
          "costing 310 million euros and engineers found corrosion in the southern anchorage "
          "while shopkeepers welcomed buses cyclists ferry services inspection reports")
WORDS = SAMPLE.split()
START = datetime(2026, 1, 1, tzinfo=UTC)


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 60))).capitalize() + "."


def article(rng: random.Random, paragraphs: int) -> Article:
    return Article(headline=paragraph(rng)[:80], authors=("Amira Haddad",),
                   published="2026-01-01T08:00:00+00:00", tags=("Transport", "City"),
                   body=tuple(paragraph(rng) for _ in range(paragraphs)))


def edited(rng: random.Random, a: Article) -> Article:
    body = list(a.body)
    i = rng.randrange(len(body))
    choice = rng.random()
    if choice < 0.5:
        words = body[i].split()
        words[rng.randrange(len(words))] = str(rng.randint(1, 999))
        body[i] = " ".join(words)
    elif choice < 0.75 or len(body) < 10:
        body.insert(i, paragraph(rng))
    else:
        del body[i]
    return replace(a, body=tuple(body))


def fill(history: HistoryStore, count: int, rng: random.Random) -> None:
    """Bulk-insert ``count`` articles with one version and one snapshot each."""
    fields = article(rng, 10)
    digest = content_hash(fields)
    chunk = 5000
    for base in range(0, count, chunk):
        rows = range(base, min(base + chunk, count))
        urls = {n: normalize_url(f"https://site{n % 500}.example/news/{n}") for n in rows}
        when = START.replace(tzinfo=None)
        with history.engine.begin() as conn:
            conn.execute(articles.insert(), [
                {"id": url_id(urls[n]), "url": urls[n], "status": "live", "first_seen": when,
                 "last_checked": when} for n in rows])
            conn.execute(article_urls.insert(), [
                {"url": urls[n], "article_id": url_id(urls[n]), "first_seen": when}
                for n in rows])
            ids = conn.execute(versions.insert().returning(versions.c.id), [
                {"article_id": url_id(urls[n]), "version": 1, "fields": fields.fields(),
                 "content_hash": digest, "captured_at": when, "last_seen": when,
                 "extractor_version": "1"} for n in rows]).scalars().all()
            conn.execute(snapshots.insert(), [
                {"article_id": url_id(urls[n]), "fetched_at": when, "requested_url": urls[n],
                 "final_url": urls[n], "http_status": 200, "settled": True,
                 "warc_key": f"fill/{n}.warc.gz", "warc_size": 1, "warc_sha256": "0" * 64,
                 "records": {}, "version_id": vid, "outcome": "new"}
                for n, vid in zip(rows, ids, strict=True)])


def record_series(history: HistoryStore, url: str, first: Article, count: int,
                  rng: random.Random) -> list[float]:
    """Record ``count`` versions of one article; return each record's seconds."""
    times, current = [], first
    for n in range(count):
        capture = Capture(url=url, final_url=url, status=200, exchanges=(), dom="",
                          fetched_at=START + timedelta(days=1, minutes=n))
        started = time.perf_counter()
        history.record(capture, current, StoredWarc(f"{url_id(url)}/{n}.warc.gz", 1, "0" * 64))
        times.append(time.perf_counter() - started)
        current = edited(rng, current)
    return times


def time_search(history: HistoryStore) -> None:
    for phrase, what in (("zebra crossing", "said nowhere"),
                         ("the long story", "said by one article"),
                         ("council", "said by every article")):
        for removed in (False, True):
            started = time.perf_counter()
            found = search_versions(history.engine, phrase, removed=removed, limit=20)
            print(f"search {phrase!r} ({what}){' --removed' if removed else ''}: "
                  f"{len(found)} found in {(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as home:
        history = HistoryStore(f"sqlite:///{home}/history.sqlite")
        started = time.perf_counter()
        fill(history, args.articles, rng)
        print(f"filled {args.articles:,} articles in {time.perf_counter() - started:.1f} s")
        url = "https://news.example/2026/01/01/the-long-story"
        started = time.perf_counter()
        first = replace(article(rng, 20), headline="The long story of the harbour bridge")
        record_series(history, url, first, args.versions, rng)
        print(f"recorded {args.versions:,} versions in {time.perf_counter() - started:.1f} s")
        runs = []
        for _ in range(60):
            started = time.perf_counter()
            history.history_json(url)
            runs.append(time.perf_counter() - started)
        runs.sort()
        p50, p95 = runs[len(runs) // 2], runs[int(len(runs) * 0.95) - 1]
        print(f"history --json, {args.versions:,} versions among {args.articles + 1:,} articles:"
              f" p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target p95 < 50 ms)")
        time_search(history)
        long_url = "https://news.example/2026/01/02/sixty-paragraphs"
        long_first = article(rng, 60)
        record_times = record_series(history, long_url, long_first, 200, rng)[1:]
        compare_times = []
        current = long_first
        for _ in range(200):
            after = edited(rng, current)
            started = time.perf_counter()
            compare(current, after)
            compare_times.append(time.perf_counter() - started)
            current = after
        history.close()
    print(f"compare-and-record, 60-paragraph article: median "
          f"{statistics.median(record_times) * 1000:.2f} ms (target < 10 ms); "
          f"compare alone: median {statistics.median(compare_times) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
