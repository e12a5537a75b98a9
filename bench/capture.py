"""Capture throughput against bare Playwright, and what a second snapshot costs.

1. Pages per second of the full capture (DevTools recording of every
   exchange, settle, scroll, rendered DOM, full-page screenshot, WARC
   written) against bare Playwright (a fresh context, ``goto`` until load,
   ``content()``) on the same local pages, one browser each, in one run.
   Target: at least 0.75 of bare. Run at concurrency 1 (the settle window
   and screenshot show in full), 2 and 4 (where the machine's two cores
   are the limit). CPU seconds a page (every process: Chromium's,
   Playwright's, ours) are printed too: where the cores bind, the ratio
   tends to bare's CPU over the full capture's.
2. Bytes a second snapshot of an unchanged page adds (payloads already
   archived become revisit records). Target: at most 10% of the first.

    uv run python bench/capture.py [--pages 40] [--concurrency 1 2 4]
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
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


def full(browser: Browser, url: str) -> None:
    write_warc(browser.capture(url), io.BytesIO())


def bare(browser: Browser, url: str) -> None:
    pw = browser._browser
    assert pw is not None
    context = pw.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.content()
    context.close()


def rate(settings: Settings, job: Callable[[Browser, str], None], urls: list[str],
         concurrency: int) -> tuple[float, float]:
    """Pages per second with ``concurrency`` browsers, each in its own thread
    (Playwright's sync objects stay in the thread that made them), and CPU
    seconds a page, all processes counted (Chromium's, Playwright's, ours)."""
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for url in urls:
        pending.put(url)
    ready, finished = threading.Barrier(concurrency + 1), threading.Barrier(concurrency + 1)

    def work() -> None:
        with Browser(settings) as browser:
            job(browser, urls[0])  # warm up
            ready.wait()
            while True:
                try:
                    job(browser, pending.get_nowait())
                except queue.Empty:
                    break
            finished.wait()  # counted while the browsers still run

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    started, cpu = time.perf_counter(), tree_cpu()
    finished.wait()
    elapsed, cpu = time.perf_counter() - started, tree_cpu() - cpu
    for thread in threads:
        thread.join()
    return len(urls) / elapsed, cpu / len(urls)


def tree_cpu() -> float:
    """CPU seconds used by this process and every process under it, ended ones
    included (a process's ended children are in its own counts)."""
    parents, times = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    mine = {os.getpid()}
    while found := {pid for pid, parent in parents.items() if parent in mine} - mine:
        mine |= found
    return sum(times[pid] for pid in mine) / os.sysconf("SC_CLK_TCK")


def throughput(settings: Settings, pages: int, concurrency: int) -> None:
    with NewsSite(generated_articles(pages)) as site:
        urls = [site.url(slug) for slug in site.articles]
        bare_rate, bare_cpu = rate(settings, bare, urls, concurrency)
        full_rate, full_cpu = rate(settings, full, urls, concurrency)
    ratio = full_rate / bare_rate
    print(f"concurrency {concurrency}, {pages} pages: bare Playwright (goto + content) "
          f"{bare_rate:.2f} pages/s, {bare_cpu:.2f} CPU-s a page; full capture (CDP "
          f"recording, settle, DOM, PNG, WARC) {full_rate:.2f} pages/s, {full_cpu:.2f} CPU-s "
          f"a page; ratio {ratio:.2f} (target >= {PAGES_TARGET}: "
          f"{'met' if ratio >= PAGES_TARGET else 'MISSED'}; where the CPUs bind, at most "
          f"{bare_cpu / full_cpu:.2f})")


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
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"PALIMPSEST_HOME": home, "PALIMPSEST_ALLOW_PRIVATE": "1"})
        second_snapshot(settings, Path(home))
        for concurrency in args.concurrency:
            throughput(settings, args.pages, concurrency)


if __name__ == "__main__":
    main()
