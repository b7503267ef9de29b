"""Run one compiled DAG with Airflow's own test runner (`dag.test()`), in the interpreter that has Airflow.

The tests start this script as a subprocess (`python dagtest_runner.py DAGS_FOLDER DAG_ID`) with
AIRFLOW_HOME and a SQLite metadata database of their own, so Airflow's process-wide configuration never
leaks into pytest. It prints, as its last line, a JSON object: the run's state and, per task, its state
and try number.

Fault injection, for the retry tests: `--fail-once STEP` makes the first attempt of load step STEP fail
with a transient error (`ConnectionLost`), `--fail-always STEP` every attempt, `--fail-terminal STEP`
every attempt with a terminal error, `--fail-after-load STEP` the first attempt with a transient error
after its load committed (as a task killed at that instant), `--killed STEP` fails STEP's task as a
task killed while it ran (SIGKILL, OOM): its try's start is recorded, its end never is. They patch
datakit's step function (and, for `--killed`, the recorder's end of the try), which Airflow 3's
`dag.test()` runs in this process. `--conf JSON` is the run's conf (its params, as a trigger gives them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _inject(
    fail_once: set[str],
    fail_always: set[str],
    fail_terminal: set[str],
    fail_after_load: set[str],
    killed: set[str],
) -> None:
    from datakit.connectors.errors import ConnectionLost
    from datakit.errors import DatakitError
    from datakit.orchestrate import steps
    from datakit.orchestrate.recorder import RunRecorder
    from datakit.orchestrate.stepkinds import LoadStep

    recorded_end = RunRecorder._finished

    def finished(self: RunRecorder, current: Any, exc: BaseException | None, retry_in: float | None) -> None:
        if current.step.id not in killed:  # a killed process records nothing more
            recorded_end(self, current, exc, retry_in)

    RunRecorder._finished = finished  # type: ignore[method-assign]

    original = steps.load_step
    failed: set[str] = set()

    def load_step(
        project_root: str, environment: str, step: LoadStep, full_refresh: bool, runs: tuple[str, ...]
    ) -> dict[str, Any]:
        step_id = step.id
        if step_id in fail_terminal or step_id in killed:
            raise DatakitError(f"injected terminal failure of {step_id}")
        if step_id in fail_always:
            raise ConnectionLost(f"injected transient failure of {step_id} (every attempt)")
        if step_id in fail_once and step_id not in failed:
            failed.add(step_id)
            raise ConnectionLost(f"injected transient failure of {step_id}")
        result: dict[str, Any] = original(project_root, environment, step, full_refresh, runs)
        if step_id in fail_after_load and step_id not in failed:
            failed.add(step_id)
            raise ConnectionLost(f"injected transient failure of {step_id} after its load committed")
        return result

    steps.load_step = load_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dags_folder", type=Path)
    parser.add_argument("dag_id")
    parser.add_argument("--fail-once", action="append", default=[])
    parser.add_argument("--fail-always", action="append", default=[])
    parser.add_argument("--fail-terminal", action="append", default=[])
    parser.add_argument("--fail-after-load", action="append", default=[])
    parser.add_argument("--killed", action="append", default=[])
    parser.add_argument("--conf", type=json.loads, default=None)
    args = parser.parse_args()
    assert os.environ.get("AIRFLOW_HOME"), "set AIRFLOW_HOME: Airflow would create ~/airflow otherwise"

    started = time.perf_counter()
    from airflow.utils import db

    db.initdb()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(args.dags_folder))
    if bag.import_errors:
        print(json.dumps({"import_errors": {str(k): v for k, v in bag.import_errors.items()}}))
        sys.exit(1)
    dag = bag.dags[args.dag_id]
    _inject(
        set(args.fail_once),
        set(args.fail_always),
        set(args.fail_terminal),
        set(args.fail_after_load),
        set(args.killed),
    )
    run = dag.test(run_conf=args.conf)
    tasks = {
        ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in run.get_task_instances()
    }
    seconds = round(time.perf_counter() - started, 2)
    print(json.dumps({"state": str(run.state), "tasks": tasks, "seconds": seconds}))


if __name__ == "__main__":
    main()
