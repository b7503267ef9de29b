"""Demo source benchmark: generating the DVD-rental SQLite source at scale 1 (Pagila-sized).

`datakit demo` must run anywhere, offline and fast, so it generates its source instead of downloading
Pagila; this is the cost of that step. The figure is the best of `--repeat` fresh generations, in
seconds (goal < 2.0 on a 2-core machine; a test used to assert it, on a loaded machine it could not).

    .venv/bin/python bench/demo_source.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.demo.generate import generate_source  # noqa: E402


def seconds(scale: float) -> float:
    """Wall seconds of one generation into a fresh file."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generate_source(Path(tmp) / "dvdrental.sqlite", scale=scale)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings = [seconds(1.0) for _ in range(args.repeat)]
    print(f"demo_source_scale_1_s: {min(timings):.2f}")


if __name__ == "__main__":
    main()
