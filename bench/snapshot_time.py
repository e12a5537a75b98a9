"""End-to-end time of `palimpsest snapshot` for a local page, cold process.

Each run is a new process (Python start-up, imports, Chromium launch, capture,
WARC, storage, extraction, database) against the demo news site on
127.0.0.1. Prints every run and the median; the target is under 3 s.

    uv run python bench/snapshot_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from palimpsest.demo_site import NewsSite

TARGET_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("palimpsest"))
    times = []
    with NewsSite() as site, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PALIMPSEST_HOME": home, "PALIMPSEST_ALLOW_PRIVATE": "1"}
        url = site.url("harbour-bridge-reopens")
        for run in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run([exe, "snapshot", "--json", url], env=env,
                                  capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if done.returncode:
                sys.exit(f"snapshot failed: {done.stderr}")
            times.append(elapsed)
            print(f"run {run + 1}: {elapsed:.2f} s")
    median = statistics.median(times)
    print(f"palimpsest snapshot (cold process, local page): median {median:.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} runs; "
          f"target < {TARGET_SECONDS:.0f} s: {'met' if median < TARGET_SECONDS else 'MISSED'}")


if __name__ == "__main__":
    main()
