"""Capture throughput against bare Playwright, and what a second snapshot costs.

1. Pages per second of the full capture (DevTools recording of every
   exchange, settle, scroll, rendered DOM, full-page screenshot, WARC
   written) against bare Playwright (a fresh context, ``goto`` until load,
   ``content()``) on the same local pages, one browser each, in one run.
   Target: at least 0.75 of bare.
2. Bytes a second snapshot of an unchanged page adds (payloads already
   archived become revisit records). Target: at most 10% of the first.

    uv run python bench/capture.py [--pages 30]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from palimpsest.capture import VIEWPORT, Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite, generated_articles
from palimpsest.history import HistoryStore
from palimpsest.pipeline import archive, process
from palimpsest.storage import LocalStore
from palimpsest.warc import write_warc

PAGES_TARGET = 0.75
BYTES_TARGET = 0.10


def full(browser: Browser, urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        write_warc(browser.capture(url), io.BytesIO())
    return len(urls) / (time.perf_counter() - started)


def bare(browser: Browser, urls: list[str]) -> float:
    pw = browser._browser
    assert pw is not None
    started = time.perf_counter()
    for url in urls:
        context = pw.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.content()
        context.close()
    return len(urls) / (time.perf_counter() - started)


def throughput(settings: Settings, pages: int) -> None:
    with NewsSite(generated_articles(pages)) as site, Browser(settings) as browser:
        urls = [site.url(slug) for slug in site.articles]
        full(browser, urls[:3]), bare(browser, urls[:3])  # warm up both paths
        rounds = [(bare(browser, urls), full(browser, urls)) for _ in range(2)]
    bare_rate = max(b for b, _ in rounds)
    full_rate = max(f for _, f in rounds)
    ratio = full_rate / bare_rate
    print(f"bare Playwright (goto + content):   {bare_rate:.2f} pages/s")
    print(f"full capture (WARC, DOM, PNG):      {full_rate:.2f} pages/s")
    print(f"ratio {ratio:.2f}; target >= {PAGES_TARGET}: "
          f"{'met' if ratio >= PAGES_TARGET else 'MISSED'} ({pages} pages, best of 2 rounds)")


def second_snapshot(settings: Settings, home: Path) -> None:
    store = LocalStore(home / "warcs")
    with NewsSite(noise=False) as site, Browser(settings) as browser, \
            HistoryStore(f"sqlite:///{home / 'history.sqlite'}") as history:
        url = site.url("harbour-bridge-reopens")
        sizes = []
        for _ in range(2):
            result = process(browser.capture(url), store=store, history=history)
            sizes.append(next(home.glob(f"warcs/**/{Path(result.warc_key).name}")).stat().st_size)
        without = archive(browser.capture(url), LocalStore(home / "plain")).size
    first, second = sizes
    print(f"first snapshot WARC: {first:,} bytes; second (unchanged page): {second:,} bytes "
          f"= {second / first:.1%} of the first (without dedup: {without:,} bytes); "
          f"target <= {BYTES_TARGET:.0%}: {'met' if second / first <= BYTES_TARGET else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"PALIMPSEST_HOME": home, "PALIMPSEST_ALLOW_PRIVATE": "1"})
        second_snapshot(settings, Path(home))
        throughput(settings, args.pages)


if __name__ == "__main__":
    main()
