"""Warehouse benchmark: the full Pagila job (unscaled) on DuckDB — bronze, silver, checks, gold.

The example project is copied to a temporary folder and pointed at the Pagila database on the test
server; `pagila_daily` runs through the local executor exactly as `datakit run job pagila_daily` does
(every step in a child process). The job runs twice: the first run parses the dbt project from scratch,
the second finds dbt's partial-parse state warm (as every scheduled run after the first does). Phase
wall times come from the run history: bronze (first load start to last load end), silver, checks, gold.

`dbt_overhead_share` is the share of the job's wall time spent in the dbt steps outside the database:
each dbt step's wall time minus the time during which at least one of its nodes was executing SQL (the
union of dbt's per-node execute intervals: nodes run in parallel threads, so their times overlap),
summed, over the job's wall time — dbt's start-up, parsing, compiling and our own overhead around it.
It is printed for the warm run, last.

    .venv/bin/python bench/warehouse.py

The Pagila database comes from DATAKIT_BENCH_DSN (default postgresql://datakit:datakit@127.0.0.1:5432/
datakit_test; the role must be able to create databases).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

DSN = os.environ.get("DATAKIT_BENCH_DSN", "postgresql://datakit:datakit@127.0.0.1:5432/datakit_test")
JOB = "pagila_daily"


def _phases(run: Any) -> dict[str, float]:
    """Wall seconds of each phase of a recorded run, and the dbt steps' time outside the database."""
    loads = [s for s in run.steps if "." in s.step_id]
    phases = {"bronze_s": max(s.finished_at for s in loads) - min(s.started_at for s in loads)}
    outside = 0.0
    for name in ("silver", "silver_checks", "gold"):
        step = next(s for s in run.steps if s.step_id == name)
        phases[f"{name}_s"] = step.duration or 0.0
        if step.details and "nodes" in step.details:
            intervals = [tuple(n["executed"]) for n in step.details["nodes"] if n.get("executed")]
            outside += (step.duration or 0.0) - _covered(intervals)
    phases["job_s"] = run.duration or 0.0
    phases["dbt_outside_database_s"] = outside
    return phases


def _covered(intervals: list[tuple[float, ...]]) -> float:
    """Seconds covered by at least one of the (start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def main() -> None:
    from tests.pagila import ensure_pagila
    from tests.pagila_project import copy_pagila_project, pagila_env

    from datakit.config import load_project
    from datakit.orchestrate.run import run_job
    from datakit.orchestrate.store import open_store

    pagila = ensure_pagila(DSN)
    with tempfile.TemporaryDirectory(prefix="datakit-bench-warehouse-") as tmp:
        root = copy_pagila_project(Path(tmp))
        os.environ.update(pagila_env(pagila))
        os.environ.pop("ENVIRONMENT", None)
        project = load_project(root)
        figures: list[dict[str, float]] = []
        for label in ("cold", "warm"):
            started = time.perf_counter()
            result = run_job(project, JOB)
            wall = time.perf_counter() - started
            if not result.ok:
                raise SystemExit(f"{label} run failed: {result.errors}")
            store = open_store(project)
            phases = _phases(store.get_run(result.run_id))
            store.close()
            phases["wall_s"] = wall
            figures.append(phases)
            print(f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()), flush=True)
    cold, warm = figures
    for key in ("bronze_s", "silver_s", "silver_checks_s", "gold_s", "job_s", "dbt_outside_database_s"):
        print(f"{key}: {warm[key]:.2f}")
    print(f"dbt_overhead_share_cold: {cold['dbt_outside_database_s'] / cold['job_s']:.3f}")
    print(f"dbt_overhead_share: {warm['dbt_outside_database_s'] / warm['job_s']:.3f}")


if __name__ == "__main__":
    main()
