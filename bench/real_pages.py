"""Capturing real news pages: how many are captured, how many settle, how fast.

Serves the real article pages of ../shared/bench (the extraction and the
metadata sets, 301 pages) from a loopback server and captures each one in
full (egress proxy, settle, DOM, screenshot, WARC). Their images, scripts and
styles point at the sites' own hosts, which this machine cannot reach, so
each page also shows how the capture copes with dozens of failing requests.
A page whose own scripts send the reader on to its real host fails here, as
it would not in the wild; those are counted apart.

Prints pages captured, failed, and flagged unsettled; load and settle times
(median and 90th percentile); and each page that failed or did not settle.

    uv run python bench/real_pages.py [--shared ../shared] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from palimpsest.capture import Browser
from palimpsest.config import Settings
from palimpsest.errors import PalimpsestError
from palimpsest.warc import write_warc

HERE = Path(__file__).parent
SETS = ("extraction", "metadata")


@contextmanager
def serving(pages: dict[str, Path]) -> Iterator[str]:
    """A loopback server of ``pages`` (path -> file); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            page = pages.get(self.path.split("?")[0])
            body = page.read_bytes() if page else b"not here"
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8" if page else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values):.2f} s, "
            f"p90 {values[int(0.9 * (len(values) - 1))]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    parser.add_argument("--limit", type=int, default=0, help="capture only the first N pages")
    args = parser.parse_args()
    pages = {f"/{name}/{path.name}": path for name in SETS
             for path in sorted((args.shared / "bench" / name).glob("*.html"))}
    paths = list(pages)[:args.limit or None]
    loads, settles, unsettled, failed, sent_on = [], [], [], [], 0
    started = time.perf_counter()
    with serving(pages) as base, Browser(Settings.from_env().with_(allow_private=True)) as browser:
        for path in paths:
            try:
                capture = browser.capture(base + path)
            except PalimpsestError as exc:
                failed.append(f"{path}: {type(exc).__name__}: {exc}")
                sent_on += not str(exc).startswith(base + path)  # (it failed elsewhere)
                continue
            write_warc(capture, io.BytesIO())
            loads.append(capture.timings["load"])
            settles.append(capture.timings["settle_render"])
            if not capture.settled:
                unsettled.append(path)
    elapsed = time.perf_counter() - started
    print(f"{len(paths)} real news pages in {elapsed:.0f} s: {len(loads)} captured, "
          f"{len(failed)} failed ({sent_on} of them sent on by their scripts to a place "
          f"unreachable here), {len(unsettled)} flagged unsettled")
    if loads:
        print(f"load: {percentiles(loads)}; settle and render: {percentiles(settles)}")
    for line in failed + [f"{path}: not settled" for path in unsettled]:
        print("  " + line)


if __name__ == "__main__":
    main()
