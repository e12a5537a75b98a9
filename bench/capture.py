"""Capture throughput against bare Playwright, and what a second snapshot costs.

1. Pages per second of the full capture (every exchange recorded by the
   egress proxy, settle, scroll, rendered DOM, full-page screenshot, WARC
   written, as the sweep writes it: in another thread, while the browser
   captures the next page) against bare Playwright (the same Chromium and
   flags, without the proxy: a fresh context, ``goto`` until load,
   ``content()``) on the same local pages, one browser each, in one run.
   Target: at least 0.75 of bare. Run at concurrency 1 (the settle window
   and screenshot show in full), 2 and 4 (where the machine's two cores
   are the limit). CPU seconds a page (every process: Chromium's,
   Playwright's, ours) are printed too: where the cores bind, the ratio
   tends to bare's CPU over the full capture's. The two legs run in
   alternating rounds, so that this VM's drift in speed (up to 2x over
   minutes) falls on both; the ratios of single rounds (the same pages for
   both legs) show how much the figure moves from run to run. Also
   printed: the full capture's median load and settle time a page, against
   bare's whole page (the settle: a scroll, then up to 250 ms of network
   quiet, which ends sooner once what the page scheduled has run).
2. Bytes a second snapshot of an unchanged page adds (payloads already
   archived become revisit records). Target: at most 10% of the first.

    uv run python bench/capture.py [--pages 40] [--concurrency 1 2 4] [--rounds 4]
                                   [--quiet 0.25]
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from palimpsest.capture import CHROMIUM_ARGS, VIEWPORT, Browser
from palimpsest.config import Settings
from palimpsest.demo_site import NewsSite, generated_articles
from palimpsest.history import HistoryStore
from palimpsest.pipeline import archive, process
from palimpsest.storage import LocalStore
from palimpsest.warc import write_warc

PAGES_TARGET = 0.75
BYTES_TARGET = 0.10


Load = Callable[[str], None]
Drain = Callable[[], None]  # waits for what a leg's loads left running
Job = Callable[[Settings], AbstractContextManager[tuple[Load, Drain]]]


#: The full capture's timings, page by page (load; settle and render)
TIMINGS: list[dict[str, float]] = []


@contextmanager
def full(settings: Settings) -> Iterator[tuple[Load, Drain]]:
    """Palimpsest's capture, its WARC written in a thread of its own while the
    browser goes on to the next page, as the sweep writes it (the browser
    pool's thread captures; the task's thread writes, stores and records)."""
    with Browser(settings) as browser, ThreadPoolExecutor(max_workers=1) as writer:
        writing: list[Future[object]] = []

        def capture(url: str) -> None:
            taken = browser.capture(url)
            TIMINGS.append(taken.timings)
            writing.append(writer.submit(write_warc, taken, io.BytesIO()))

        def drain() -> None:  # (every WARC written, before the round's time is taken)
            for written in writing:
                written.result()
            writing.clear()

        yield capture, drain


@contextmanager
def bare(settings: Settings) -> Iterator[tuple[Load, Drain]]:
    """Playwright alone: the same Chromium and flags, no proxy, nothing recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=settings.chromium_path(),
                                             args=CHROMIUM_ARGS)

        def load(url: str) -> None:
            context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.content()
            context.close()

        yield load, lambda: None
        browser.close()


class Leg:
    """One job (bare or full) run by ``concurrency`` browsers, each in a thread
    of its own (Playwright's sync objects stay in the thread that made them),
    round by round; adds up wall time and CPU seconds of every process
    (Chromium's, Playwright's, ours) over its rounds."""

    def __init__(self, settings: Settings, job: Job,
                 concurrency: int, warm_up: str) -> None:
        self.pages, self.elapsed, self.cpu = 0, 0.0, 0.0
        self._pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._go, self._done = (threading.Barrier(concurrency + 1) for _ in range(2))
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, args=(settings, job, warm_up))
                         for _ in range(concurrency)]

    def __enter__(self) -> Leg:
        for thread in self._threads:
            thread.start()
        self._done.wait()  # every browser started and warmed up
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        self._go.wait()
        for thread in self._threads:
            thread.join()

    def run(self, urls: list[str]) -> float:
        """Load ``urls``; the seconds that took."""
        for url in urls:
            self._pending.put(url)
        started, cpu = time.perf_counter(), tree_cpu()
        self._go.wait()
        self._done.wait()  # counted while the browsers still run
        elapsed = time.perf_counter() - started
        self.elapsed += elapsed
        self.cpu += tree_cpu() - cpu
        self.pages += len(urls)
        return elapsed

    def _work(self, settings: Settings, job: Job,
              warm_up: str) -> None:
        try:
            with job(settings) as (load, drain):
                load(warm_up)
                drain()
                self._done.wait()
                while True:
                    self._go.wait()
                    if self._stopping:
                        return
                    while (url := _next(self._pending)) is not None:
                        load(url)
                    drain()
                    self._done.wait()
        except threading.BrokenBarrierError:
            pass
        except BaseException:
            self._go.abort()  # the bench stops, not hangs
            self._done.abort()
            raise


def _next(pending: queue.SimpleQueue[str]) -> str | None:
    try:
        return pending.get_nowait()
    except queue.Empty:
        return None


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


def throughput(settings: Settings, pages: int, concurrency: int, rounds: int) -> None:
    """Both legs, in alternating rounds (bare, full, full, bare, ...): this
    VM's speed drifts over minutes, and the drift then falls on both."""
    TIMINGS.clear()
    by_round = []  # the ratio of each round (the same pages for both legs)
    with NewsSite(generated_articles(pages)) as site:
        urls = [site.url(slug) for slug in site.articles]
        with Leg(settings, bare, concurrency, urls[0]) as bare_leg, \
                Leg(settings, full, concurrency, urls[0]) as full_leg:
            for n in range(rounds):
                batch = urls[n * pages // rounds:(n + 1) * pages // rounds]
                took = {leg: leg.run(batch) for leg in
                        (bare_leg, full_leg)[::1 if n % 2 == 0 else -1]}
                by_round.append(took[bare_leg] / took[full_leg])
    bare_rate, full_rate = (leg.pages / leg.elapsed for leg in (bare_leg, full_leg))
    bare_cpu, full_cpu = (leg.cpu / leg.pages for leg in (bare_leg, full_leg))
    ratio = full_rate / bare_rate
    print(f"concurrency {concurrency}, {pages} pages in {rounds} rounds: bare Playwright "
          f"(goto + content) {bare_rate:.2f} pages/s, {bare_cpu:.2f} CPU-s a page; full "
          f"capture (recording, settle, DOM, PNG, WARC) {full_rate:.2f} pages/s, "
          f"{full_cpu:.2f} CPU-s a page; ratio {ratio:.2f} (rounds {min(by_round):.2f}"
          f"-{max(by_round):.2f}; target >= {PAGES_TARGET}: "
          f"{'met' if ratio >= PAGES_TARGET else 'MISSED'}; where the CPUs bind, at most "
          f"{bare_cpu / full_cpu:.2f})")
    load, settle = (statistics.median(t[key] for t in TIMINGS[concurrency:])
                    for key in ("load", "settle_render"))
    print(f"  full capture, median a page: load {load:.3f} s, then settle and render "
          f"{settle:.3f} s (scroll, up to {settings.settle_quiet:g} s of network quiet, DOM "
          f"and PNG within it); bare Playwright's whole page: {concurrency / bare_rate:.3f} s")


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
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quiet", type=float, default=Settings.settle_quiet,
                        help="seconds of network quiet a page settles on (PALIMPSEST_SETTLE_QUIET)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"PALIMPSEST_HOME": home, "PALIMPSEST_ALLOW_PRIVATE": "1",
                                      "PALIMPSEST_SETTLE_QUIET": str(args.quiet)})
        second_snapshot(settings, Path(home))
        for concurrency in args.concurrency:
            throughput(settings, args.pages, concurrency, args.rounds)


if __name__ == "__main__":
    main()
