"""Executor benchmark: the cost of the local executor itself, per step, on a 1,000-step no-op DAG.

The DAG (dag mode, max_parallelism 8) is random but seeded: each step depends on up to three earlier
steps. Steps do nothing in-process, so the wall time is all executor: the DAG walk, the thread pool and
the run history (a SQLite state store in WAL mode: the run, 1,000 pending steps, then for each step
an attempt start and an attempt finish, each its own transaction). Real steps run in child processes
(`LocalRunner`), whose start-up (~1 s with the project load) is the step's own cost, not measured here.

The scheduler figure times `datakit.orchestrate.triggers.due_all` (one scheduler poll: which of 1,000
triggers — half cron in several time zones, half interval, last fired an hour ago — are due now): the
slowest of three consecutive polls a minute apart, the first with cold cron caches. Should that function
be missing or change its signature, the line says `n/a` rather than a wrong number.

    .venv/bin/python bench/executor.py              # 1,000 steps, best of 3
    .venv/bin/python bench/executor.py --steps 5000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.orchestrate.executor import Executor  # noqa: E402
from datakit.orchestrate.plan import Plan  # noqa: E402
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, Step  # noqa: E402
from datakit.orchestrate.steps import StepOutput  # noqa: E402
from datakit.orchestrate.store.sql import StateStore, sqlite_url  # noqa: E402


def no_op(_step: Step) -> StepOutput:
    return StepOutput()


def random_plan(steps: int, seed: int = 7) -> Plan:
    rng = random.Random(seed)
    nodes = []
    for i in range(steps):
        ups = {f"s{rng.randrange(i):04d}" for _ in range(rng.randint(0, 3))} if i else set()
        params = LoadParams(pipeline="bench", resource=f"s{i:04d}")
        nodes.append(LoadStep(id=f"s{i:04d}", params=params, depends_on=tuple(sorted(ups))))
    return Plan(job="bench", mode="dag", max_parallelism=8, continue_on_failure=False, steps=tuple(nodes))


def measure(steps: int) -> float:
    """Milliseconds of executor time per step for one run of a fresh store."""
    plan = random_plan(steps)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(sqlite_url(Path(tmp) / "state.db"))
        try:
            started = time.perf_counter()
            result = Executor(store, no_op).run(plan)
            elapsed = time.perf_counter() - started
        finally:
            store.close()
    assert result.ok
    assert len(result.steps) == steps
    return elapsed * 1000 / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings = []
    for i in range(args.repeat):
        per_step = measure(args.steps)
        timings.append(per_step)
        print(f"run {i + 1}: {args.steps} steps, {per_step:.3f} ms/step")
    tick = scheduler_tick()
    print(f"executor_overhead_ms_per_step: {min(timings):.3f}")
    print(f"scheduler_tick_ms_per_1000_triggers: {tick}")


def scheduler_tick(count: int = 1000) -> str:
    """Milliseconds to evaluate `count` triggers in one poll (slowest of 3), or `n/a` when unavailable."""
    from datetime import UTC, datetime, timedelta

    try:
        from pydantic import TypeAdapter

        from datakit.config.models.triggers import Trigger
        from datakit.orchestrate.triggers import due_all
    except ImportError:
        return "n/a"
    crons = ["*/5 * * * *", "0 * * * *", "15 2 * * *", "30 */2 * * 1-5", "0 0 1 * *"]
    zones = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]
    adapter: TypeAdapter[Trigger] = TypeAdapter(Trigger)
    triggers = [
        adapter.validate_python(
            {
                "name": f"t{i}",
                "type": "cron",
                "job": "j",
                "schedule": {"cron": crons[i % 5], "timezone": zones[i % 4]},
            }
            if i % 2
            else {"name": f"t{i}", "type": "interval", "job": "j", "schedule": {"every": f"{i % 17 + 1}m"}}
        )
        for i in range(count)
    ]
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    cursors = {t.name: now - timedelta(hours=1) for t in triggers}
    timings = []
    try:
        for _ in range(3):
            started = time.perf_counter()
            due_all(triggers, cursors, now)
            timings.append((time.perf_counter() - started) * 1000)
            now += timedelta(minutes=1)
    except (TypeError, AttributeError, ValueError):
        return "n/a"
    return f"{max(timings) * 1000 / count:.1f}"


if __name__ == "__main__":
    main()
