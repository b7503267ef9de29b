"""Prefect benchmark: the cost of a plan as a Prefect flow per step, and of deploying 100 tenants x 10 jobs.

`prefect_overhead_ms_per_step` runs bench/executor.py's 1,000-step no-op plan (dag mode, seeded random
dependencies, max_parallelism 8) as a Prefect flow against Prefect's ephemeral API (a temporary local
server, started before the clock starts): each step a task run, recorded in datakit's run history, its
work nothing — so the wall time is Prefect's orchestration plus datakit's walk and recording. The same
plan run by datakit's own executor (what `datakit serve` and `datakit run job` use), on the same kind of
SQLite state store in the same run, is the baseline: `serve_executor_overhead_ms_per_step` and the ratio.

`prefect_deploy_s_100x10` times `datakit prefect deploy` of bench/airflow_compile.py's synthetic project
(10 jobs with a cron trigger each, 100 warehouses running all of them: 1,010 deployments with the
project's own jobs) against the same API: load the project, build every deployment, create them (the
ephemeral server's scheduler is off: the runs it would then create are the server's work, not deploy's).

    .venv/bin/python bench/prefect.py
    .venv/bin/python bench/prefect.py --steps 200 --tenants 10
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
# this file is named like the package it measures: its folder must not shadow `prefect` on sys.path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path[:0] = [str(REPO / "src")]

HOME = Path(tempfile.mkdtemp(prefix="datakit-bench-prefect-"))
for key in [k for k in os.environ if k.startswith("PREFECT_")]:
    del os.environ[key]  # the ephemeral API, in a home of its own, whatever this shell points at
os.environ |= {
    "PREFECT_HOME": str(HOME),
    "PREFECT_PROFILES_PATH": str(HOME / "profiles.toml"),
    "PREFECT_MEMO_STORE_PATH": str(HOME / "memo_store.toml"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
    # the deploy figure is the API work of `deploy`; the runs a scheduler then creates for 1,010 cron
    # deployments are the server's own work (and, on SQLite, lock every write of the deploy meanwhile)
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
}


def _bench_module(name: str) -> object:
    """A sibling benchmark, loaded from its file (its folder is not on sys.path: see above)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_project = _bench_module("airflow_compile").make_project  # type: ignore[attr-defined]
_executor = _bench_module("executor")
no_op, random_plan = _executor.no_op, _executor.random_plan  # type: ignore[attr-defined]

from datakit.config import load_project  # noqa: E402
from datakit.config.scaffold import init_project  # noqa: E402
from datakit.orchestrate.executor import Executor  # noqa: E402
from datakit.orchestrate.plan import Plan  # noqa: E402
from datakit.orchestrate.store.sql import StateStore, sqlite_url  # noqa: E402


def serve_executor(plan: Plan, folder: Path) -> float:
    """Milliseconds per step of datakit's executor running `plan` (no-op steps)."""
    store = StateStore(sqlite_url(folder / "executor.db"))
    try:
        started = time.perf_counter()
        result = Executor(store, no_op).run(plan)
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    assert result.ok
    return elapsed * 1000 / len(plan.steps)


def prefect_flow(plan: Plan, folder: Path) -> float:
    """Milliseconds per step of `plan` as a Prefect flow (no-op steps), recorded in run history."""
    from prefect import flow

    from datakit.integrations.prefect.flows import run_plan

    init_project(folder / "shop", name="shop")
    project = load_project(folder / "shop", environment="dev")
    store = StateStore(sqlite_url(folder / "prefect.db"))

    @flow(name="datakit-bench", persist_result=False)
    def bench(steps: int) -> dict[str, str]:
        return run_plan(project, plan if steps == len(plan.steps) else _tiny(), runner=no_op, store=store)

    try:
        bench(1)  # starts the ephemeral API and warms Prefect up: not timed
        started = time.perf_counter()
        statuses = bench(len(plan.steps))
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    assert len(statuses) == len(plan.steps)
    assert set(statuses.values()) == {"succeeded"}
    return elapsed * 1000 / len(plan.steps)


def _tiny() -> Plan:
    return random_plan(3, seed=1)


def deploy(tenants: int, jobs: int, folder: Path) -> float:
    """Seconds to deploy `tenants` x `jobs` (plus the project's own jobs), as `datakit prefect deploy`."""
    from datakit.config.tenancy import ALL
    from datakit.integrations.prefect.deploy import apply
    from datakit.integrations.prefect.deployments import deployment_specs, ownership_tags

    root = folder / "tenants"
    make_project(root, tenants, jobs)
    started = time.perf_counter()
    project = load_project(root, environment="dev")
    specs = deployment_specs(project, warehouse=ALL)
    applied = apply(specs, prune_tags=ownership_tags(project))
    elapsed = time.perf_counter() - started
    assert len(applied.ids) == tenants * jobs + jobs, len(applied.ids)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--parts", default="flow,deploy", help="flow, deploy or both (default)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    folder = HOME / "work"
    folder.mkdir()
    figures: list[str] = []
    if "flow" in parts:
        plan = random_plan(args.steps)
        baseline = serve_executor(plan, folder)
        print(f"datakit executor: {args.steps} no-op steps, {baseline:.2f} ms/step")
        per_step = prefect_flow(plan, folder)
        print(f"prefect flow (ephemeral API): {args.steps} no-op steps, {per_step:.2f} ms/step")
        figures += [
            f"serve_executor_overhead_ms_per_step: {baseline:.2f}",
            f"prefect_vs_serve_executor_ratio: {per_step / baseline:.1f}",
            f"prefect_overhead_ms_per_step: {per_step:.2f}",
        ]
    if "deploy" in parts:
        seconds = deploy(args.tenants, args.jobs, folder)
        print(f"deployed {args.tenants * args.jobs + args.jobs} deployments in {seconds:.1f} s")
        figures.append(f"prefect_deploy_s_{args.tenants}x{args.jobs}: {seconds:.1f}")
    for line in figures:
        print(line)


if __name__ == "__main__":
    main()
