"""A DuckDB file held by another process is a transient failure: the step waits and retries.

DuckDB admits one writing process per file (and no reader beside it). A load, a dbt step and a check
suite that meet the lock are retried per the job's `retries`, with a message naming the destination,
the file and the process that holds it; once that process lets go, the step succeeds. The lock is held
by a real second process, released by the test once it has seen the first failed attempt recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from datakit.config import load_project
from datakit.orchestrate.executor import RunResult
from datakit.orchestrate.run import run_job
from datakit.orchestrate.store import StateStore, StepStatus, open_store
from tests.duckdb_lock import duckdb_lock
from tests.orchestrate.test_job_steps import _project

RETRIES = "  retries: {max_attempts: 100, retry_delay: 0.5}\n"
JOBS = {
    "load_only": "job:\n  name: load_only\n  pipelines: [shop_bronze]\n" + RETRIES,
    "silver_only": "job:\n  name: silver_only\n  steps:\n"
    "    - {name: silver, dbt: {project: transform/shop, command: build, select: silver}}\n" + RETRIES,
    "checks_only": "job:\n  name: checks_only\n  steps:\n"
    "    - {name: silver_checks, checks: silver_quality}\n" + RETRIES,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop with bronze and silver built once (the example job), plus one job per kind of step."""
    root = _project(tmp_path_factory.mktemp("locks"))
    for name, text in JOBS.items():
        (root / "config" / "jobs" / f"{name}.yaml").write_text(text, encoding="utf-8")
    first = run_job(load_project(root), "warehouse")
    assert first.ok, first.errors
    return root


@pytest.fixture
def store(root: Path) -> Iterator[StateStore]:
    state = open_store(load_project(root))
    yield state
    state.close()


def _wait_until(predicate: Callable[[], bool]) -> None:
    """Until `predicate()` holds (a recorded state the test waits for, not a duration)."""
    deadline = time.monotonic() + 120
    while not predicate():
        assert time.monotonic() < deadline, "the run never reached the state the test waits for"
        time.sleep(0.05)


def _first_failed_attempt(store: StateStore, job: str) -> str | None:
    """The error of the first failed attempt of the latest run of `job`, once recorded."""
    runs = store.list_runs(job=job, limit=1)
    if not runs:
        return None
    for step in store.get_run(runs[0].id).steps:
        for attempt in step.attempt_records:
            if attempt.error is not None and attempt.retry_in is not None:
                return attempt.error
    return None


@pytest.mark.parametrize(
    ("job", "sign"),
    [
        ("load_only", "destination warehouse (file {file}) is locked by another process (PID {pid})"),
        ("silver_only", "Could not set lock on file"),
        ("checks_only", "Could not set lock on file"),
    ],
    ids=["load", "dbt", "checks"],
)
def test_a_step_on_a_locked_file_retries_until_the_other_process_lets_go(
    root: Path, store: StateStore, job: str, sign: str, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = root / "warehouse.duckdb"
    result: list[RunResult] = []
    with duckdb_lock(warehouse) as holder, caplog.at_level(logging.WARNING, "datakit.orchestrate"):
        run = threading.Thread(target=lambda: result.append(run_job(load_project(root), job)))
        run.start()
        _wait_until(lambda: _first_failed_attempt(store, job) is not None or not run.is_alive())
        error = _first_failed_attempt(store, job)
        holder.release()
        run.join()
    assert error is not None and sign.format(file=warehouse, pid=holder.pid) in error, error
    assert f"PID {holder.pid}" in error
    (done,) = result
    assert done.ok, done.errors
    steps = store.get_run(done.run_id).steps
    assert all(s.status == StepStatus.SUCCEEDED for s in steps)
    assert max(s.attempts for s in steps) >= 2
    retry = "retrying in 0.5s, attempt 2 of 100"
    retried = [r.getMessage() for r in caplog.records if retry in r.getMessage()]
    assert retried and f"PID {holder.pid}" in retried[0], [r.getMessage() for r in caplog.records]
    if job == "load_only":
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            assert conn.execute("select count(*) from br__shop__main.orders").fetchone() == (
                conn.execute("select count(distinct order_id) from br__shop__main.orders").fetchone()
            )
