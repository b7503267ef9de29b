"""A real project (the scaffold plus a DAG job and more triggers) and a real SQLite store with runs in it.

Runs are recorded through the store's public API, the way the executor records them, so the pages are
tested against rows the executor would really write.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from datakit.config import load_project
from datakit.config.project import Project
from datakit.config.scaffold import init_project
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from datakit.server.pages import page_routes
from tests.orchestrate.conftest import FakeClock

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; the project pins httpx, which still works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC

PIPELINE = """\
pipeline:
  name: {name}
  source: {{name: shop, resources: [{resource}]}}
  destination: {{name: warehouse, layer: bronze}}
"""
NIGHTLY = """\
job:
  name: nightly
  description: Customers first, then their orders.
  pipelines:
    - name: customers_only
    - name: orders_only
      depends_on: [customers_only]
  execution: {mode: dag, max_parallelism: 2}
"""
TRIGGERS = {
    "paris_nightly.yaml": """\
trigger:
  name: paris_nightly
  type: cron
  job: nightly
  schedule: {cron: "30 1 * * *", timezone: Europe/Paris}
""",
    "every_15m.yaml": """\
trigger:
  name: every_15m
  type: interval
  job: daily
  schedule: {every: 15m, start_at: "2027-01-01T00:00:00Z"}
""",
    "after_daily.yaml": """\
trigger:
  name: after_daily
  type: event
  job: nightly
  event: {type: job_succeeded, job: daily}
""",
    "paused.yaml": """\
trigger:
  name: paused
  type: cron
  enabled: false
  job: daily
  schedule: {cron: "0 * * * *"}
""",
}


def make_project(root: Path) -> Project:
    """The scaffold (job `daily`, triggers `daily_at_two` and `on_demand`) plus job `nightly` in dag mode."""
    init_project(root)
    for name, resource in (("customers_only", "customers"), ("orders_only", "orders")):
        (root / "config" / "pipelines" / f"{name}.yaml").write_text(
            PIPELINE.format(name=name, resource=resource), encoding="utf-8"
        )
    (root / "config" / "jobs" / "nightly.yaml").write_text(NIGHTLY, encoding="utf-8")
    for file, text in TRIGGERS.items():
        (root / "config" / "triggers" / file).write_text(text, encoding="utf-8")
    return load_project(root)


@dataclass(frozen=True)
class Attempt:
    """What one attempt of a step does in a scripted run."""

    seconds: float
    error: str | None = None
    retry_in: float | None = None
    log: str | None = None
    rows: dict[str, int] | None = None
    details: dict[str, Any] | None = None


def record_run(
    store: StateStore,
    clock: FakeClock,
    project: Project,
    job: str,
    script: dict[str, list[Attempt]],
    *,
    finish: RunStatus | None = RunStatus.SUCCEEDED,
    error: str | None = None,
) -> int:
    """A run of `job` recorded as the executor would: steps in plan order, attempts one after another.

    Steps missing from `script` stay pending; `finish=None` leaves the run running.
    """
    plan = compile_job(project, job)
    run_id = store.start_run(job, json.dumps(plan.as_dict()), allow_concurrent=True)
    store.add_steps(run_id, [s.id for s in plan.steps])
    for step in plan.steps:
        for number, attempt in enumerate(script.get(step.id, []), start=1):
            store.attempt_started(run_id, step.id, number)
            clock.advance(attempt.seconds)
            store.attempt_finished(
                run_id,
                step.id,
                number,
                error=attempt.error,
                retry_in=attempt.retry_in,
                transient=attempt.retry_in is not None or None,
                log=attempt.log,
                rows=attempt.rows,
                details=attempt.details,
            )
            if attempt.retry_in is not None:
                clock.advance(attempt.retry_in)
    if finish is not None:
        store.finish_run(run_id, finish, error)
    clock.advance(1)
    return run_id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "p")


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    # stale_after is long: runs left running in a test must not be swept as abandoned
    state = StateStore(sqlite_url(tmp_path / "state.db"), clock=clock, stale_after=10**9)
    yield state
    state.close()


def make_app(project: Project, store: StateStore, clock: FakeClock) -> Starlette:
    return Starlette(routes=page_routes(project, store, clock=clock))


@pytest.fixture
def client(project: Project, store: StateStore, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(make_app(project, store, clock)) as test_client:
        yield test_client
