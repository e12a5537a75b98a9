"""Extraction quality and speed, Palimpsest beside trafilatura, in one run.

Scores both with ../shared/bench/score_extraction.py on the 181-page body
benchmark (../shared/bench/extraction) and the 120-page news metadata
benchmark (../shared/bench/metadata), and prints the scorer's figures side by
side: body F1/P/R, title, date, authors and tags accuracy, snippet F1, and
median ms per page.

    uv run python bench/extraction.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
EXTRACTORS = {"palimpsest": "palimpsest_fields", "trafilatura": "trafilatura_fields"}
KEEP = re.compile(r"^(body|snippets|title|date|authors|tags|speed|failures)\b")


def score(shared: Path, dataset: str, function: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(shared / "bench" / "score_extraction.py"),
         str(shared / "bench" / dataset), "--callable", f"{HERE / 'extractors.py'}:{function}",
         "--quiet"], capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return [line for line in done.stdout.splitlines() if KEEP.match(line)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    args = parser.parse_args()
    for dataset in ("extraction", "metadata"):
        print(f"== {dataset}")
        for name, function in EXTRACTORS.items():
            for line in score(args.shared, dataset, function):
                print(f"  {name:<12} {line}")


if __name__ == "__main__":
    main()
