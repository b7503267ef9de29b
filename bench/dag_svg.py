"""DAG drawing benchmark: the SVG of a 400-step job, as the status pages draw it on every request.

The DAG is random but seeded (each step depends on up to three earlier ones), as in the layout tests.
The figure is the best of `--repeat` renders, in milliseconds (goal < 5000; a test used to assert it,
on a loaded machine it could not).

    .venv/bin/python bench/dag_svg.py
    .venv/bin/python bench/dag_svg.py --steps 1000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.server.dag_svg import render_dag  # noqa: E402


def random_dag(size: int, seed: int = 11) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    nodes = [f"pipe{i // 5}.res{i % 5}" for i in range(size)]
    edges = [
        (nodes[j], nodes[i])
        for i in range(1, size)
        for j in rng.sample(range(i), k=min(i, rng.randint(0, 3)))
    ]
    return nodes, edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    nodes, edges = random_dag(args.steps)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        svg = render_dag(nodes, edges)
        timings.append((time.perf_counter() - started) * 1000)
        assert svg.count('class="node"') == args.steps
    print(f"dag_svg_ms_{args.steps}_steps: {min(timings):.1f}")


if __name__ == "__main__":
    main()
