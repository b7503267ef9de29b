"""Runs another engine executes, recorded from its tasks (`store.external`, `RunRecorder`) — on SQLite
and PostgreSQL, the store a multi-host deployment uses."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.config.project import Project
from datakit.config.scaffold import init_project
from datakit.connectors.errors import ConnectionLost
from datakit.errors import DatakitError
from datakit.orchestrate.notify import EventKind, RunEvent
from datakit.orchestrate.plan import Plan, compile_job
from datakit.orchestrate.recorder import RunRecorder, with_graph
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, RetryPolicy
from datakit.orchestrate.steps import StepOutput
from datakit.orchestrate.store import AlreadyRunning, RunStatus, StateStore
from datakit.orchestrate.store.external import EngineRun, ExternalRuns
from datakit.orchestrate.store.sql import sqlite_url
from tests.orchestrate.conftest import FakeClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    """The store on each engine; on PostgreSQL in a schema of its own, dropped afterwards."""
    if request.param == "sqlite":
        state = StateStore(sqlite_url(tmp_path / "state.db"), clock=clock, stale_after=60)
        yield state
        state.close()
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    schema = f"state_{uuid.uuid4().hex[:10]}"
    state = StateStore(dsn.replace("postgresql://", "postgresql+psycopg://", 1), schema=schema, clock=clock)
    yield state
    from sqlalchemy import text

    with state.engine.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    state.close()


def _step(step_id: str, *upstream: str, attempts: int = 3) -> LoadStep:
    return LoadStep(
        id=step_id,
        params=LoadParams(pipeline="p", resource=step_id),
        depends_on=upstream,
        retry=RetryPolicy(max_attempts=attempts, retry_delay=2.0),
    )


# a -> b -> c, and d alone
PLAN = Plan(
    job="daily",
    mode="dag",
    max_parallelism=2,
    continue_on_failure=False,
    steps=(_step("a"), _step("b", "a"), _step("c", "b"), _step("d")),
    sla=600.0,
    warehouse="acme",
)
AIRFLOW = EngineRun("airflow", "airflow:datakit__acme__daily:manual__1", url="http://airflow.test/runs/1")


def _join(runs: ExternalRuns, who: EngineRun = AIRFLOW, plan: Plan = PLAN) -> int:
    return runs.join(who, job=plan.job, plan=plan.as_dict(), warehouse=plan.warehouse)


def test_every_task_joins_the_one_run_its_engine_run_is(any_store: StateStore) -> None:
    runs = ExternalRuns(any_store)
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: _join(runs), range(16)))
    assert len(ids) == 1
    (run_id,) = ids
    run = any_store.get_run(run_id)
    assert (run.engine, run.external_id, run.external_url) == ("airflow", AIRFLOW.external_id, AIRFLOW.url)
    assert (run.job, run.warehouse, run.status, run.detached) == ("daily", "acme", "running", True)
    assert [(s.step_id, s.status) for s in run.steps] == [(x, "pending") for x in "abcd"]
    # another engine run of the job is another datakit run
    other = _join(runs, EngineRun("airflow", "airflow:datakit__acme__daily:manual__2"))
    assert other != run_id
    assert [r.engine for r in any_store.list_runs(engine="airflow")] == ["airflow", "airflow"]
    assert any_store.list_runs(engine="local") == []


def test_a_terminal_failure_skips_what_waits_for_it_and_ends_the_run(any_store: StateStore) -> None:
    runs = ExternalRuns(any_store)
    run_id = _join(runs)
    for step_id in ("a", "d"):
        assert runs.attempt_started(run_id, step_id, 1) == 1
    any_store.attempt_finished(run_id, "d", 1, rows={"rows_loaded": 5})
    assert runs.settle(run_id) is None  # a is still running
    any_store.attempt_finished(run_id, "a", 1, error="relation missing", transient=False)
    assert runs.settle(run_id) is RunStatus.FAILED
    assert runs.settle(run_id) is None  # ended once: only the first caller notifies
    run = any_store.get_run(run_id)
    assert run.status == "failed" and run.finished_at is not None
    assert run.error == "1 failed: a; 2 skipped: b, c"  # the text a local run would have
    assert {s.step_id: s.status for s in run.steps} == {
        "a": "failed",
        "b": "skipped",
        "c": "skipped",
        "d": "succeeded",
    }
    assert next(s for s in run.steps if s.step_id == "d").rows_loaded == 5


def test_a_retried_step_shows_every_attempt(any_store: StateStore, clock: FakeClock) -> None:
    runs = ExternalRuns(any_store)
    run_id = _join(runs)
    runs.attempt_started(run_id, "a", 1)
    any_store.attempt_finished(run_id, "a", 1, error="connection lost", transient=True, retry_in=2.0)
    clock.advance(2)
    # Airflow counts tries from 1; a cleared task tried again reuses no number
    assert runs.attempt_started(run_id, "a", 2) == 2
    any_store.attempt_finished(run_id, "a", 2)
    for step_id in ("b", "c", "d"):
        runs.attempt_started(run_id, step_id, 1)
        any_store.attempt_finished(run_id, step_id, 1)
        runs.settle(run_id)
    run = any_store.get_run(run_id)
    assert run.status == "succeeded" and run.error is None
    (a,) = (s for s in run.steps if s.step_id == "a")
    assert (a.status, a.attempts) == ("succeeded", 2)
    assert [(t.attempt, t.status, t.retry_in) for t in a.attempt_records] == [
        (1, "failed", 2.0),
        (2, "succeeded", None),
    ]


def test_a_cleared_task_reopens_its_ended_run(any_store: StateStore) -> None:
    runs = ExternalRuns(any_store)
    run_id = _join(runs)
    runs.attempt_started(run_id, "a", 1)
    any_store.attempt_finished(run_id, "a", 1, error="boom")
    runs.attempt_started(run_id, "d", 1)
    any_store.attempt_finished(run_id, "d", 1)
    assert runs.settle(run_id) is RunStatus.FAILED
    # the operator clears `a` (and what follows): Airflow runs it again in the same DAG run
    assert runs.attempt_started(run_id, "a", 1) == 2  # try 1 was recorded: the next number
    assert any_store.get_run(run_id).status == "running"
    any_store.attempt_finished(run_id, "a", 2)
    # b and c stay skipped unless Airflow runs them too (cleared with their upstream)
    assert runs.settle(run_id) is RunStatus.FAILED
    assert any_store.get_run(run_id).error == "2 skipped: b, c"
    for step_id in ("b", "c"):
        runs.attempt_started(run_id, step_id, 1)
        any_store.attempt_finished(run_id, step_id, 1)
        runs.settle(run_id)
    run = any_store.get_run(run_id)
    assert (run.status, run.error) == ("succeeded", None)


def test_two_last_steps_ending_together_end_the_run_once(any_store: StateStore) -> None:
    runs = ExternalRuns(any_store)
    plan = Plan("wide", "parallel", 8, True, tuple(_step(f"s{i}") for i in range(8)))
    run_id = _join(runs, EngineRun("airflow", "airflow:wide:1"), plan)
    for i in range(8):
        runs.attempt_started(run_id, f"s{i}", 1)
    barrier = threading.Barrier(8)

    def finish(i: int) -> RunStatus | None:
        any_store.attempt_finished(run_id, f"s{i}", 1)
        barrier.wait()
        return runs.settle(run_id)

    with ThreadPoolExecutor(8) as pool:
        ended = [s for s in pool.map(finish, range(8)) if s is not None]
    assert ended == [RunStatus.SUCCEEDED]


def test_a_detached_run_outlives_a_short_silence_but_not_a_long_one(
    any_store: StateStore, clock: FakeClock
) -> None:
    runs = ExternalRuns(any_store)
    _join(runs)
    clock.advance(3600)  # tasks queued behind a pool, a long retry delay: not a dead run
    assert any_store.list_runs()[0].status == "running"
    clock.advance(any_store.detached_stale_after)
    run = any_store.list_runs()[0]
    assert run.status == "abandoned"
    assert run.error == "airflow reported nothing on the run for 24 h: taken as abandoned"


def test_an_exclusive_engine_run_holds_the_jobs_slot(any_store: StateStore) -> None:
    local = any_store.start_run("daily", "{}", warehouse="acme")
    runs = ExternalRuns(any_store)
    prefect = EngineRun("prefect", "prefect:1", attached=True, exclusive=True)
    with pytest.raises(AlreadyRunning, match=f"run {local}"):
        _join(runs, prefect)
    any_store.finish_run(local, RunStatus.SUCCEEDED)
    run_id = _join(runs, prefect)
    with pytest.raises(AlreadyRunning, match=f"run {run_id}"):
        any_store.start_run("daily", "{}", warehouse="acme")
    assert any_store.get_run(run_id).detached is False  # its flow process heartbeats


def test_an_engine_level_end_fails_what_was_running_and_skips_the_rest(any_store: StateStore) -> None:
    runs = ExternalRuns(any_store)
    run_id = _join(runs)
    runs.attempt_started(run_id, "a", 1)
    assert runs.finish(run_id, RunStatus.FAILED, "flow run crashed: worker lost")
    assert not runs.finish(run_id, RunStatus.FAILED, "again")
    run = any_store.get_run(run_id)
    assert (run.status, run.error) == ("failed", "flow run crashed: worker lost")
    assert {s.step_id: s.status for s in run.steps} == {
        "a": "failed",
        "b": "skipped",
        "c": "skipped",
        "d": "skipped",
    }
    assert run.steps[0].attempt_records[0].error == "flow run crashed: worker lost"


# --- RunRecorder: what a task calls ------------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Project:
    """The scaffold project (job `daily`: two load steps, sequential) with a 10-minute SLA."""
    root = tmp_path / "shop"
    init_project(root, name="shop")
    job = root / "config/jobs/daily.yaml"
    job.write_text(job.read_text() + "  sla: {duration: 10m}\n")
    return load_project(root, environment="dev")


def _recorder(project: Project, store: StateStore, events: list[RunEvent], run: str = "r1") -> RunRecorder:
    plan = compile_job(project, "daily")
    ids = [s.id for s in plan.steps]
    chained = with_graph(plan, {ids[1]: [ids[0]]})  # sequential: the engine chains them
    return RunRecorder(
        project,
        chained,
        EngineRun("airflow", f"airflow:datakit__daily:{run}"),
        store=store,
        notify=events.append,
    )


def test_the_recorder_records_attempts_and_notifies_the_end_once(
    shop: Project, any_store: StateStore, clock: FakeClock
) -> None:
    events: list[RunEvent] = []
    first, second = (_recorder(shop, any_store, events) for _ in range(2))  # two tasks, one run
    assert first.join() == second.join()
    customers, orders = first.plan.steps
    with first.attempt(customers, 1) as attempt:
        attempt.output = StepOutput(rows={"rows_read": 50, "rows_loaded": 50}, log="loaded 50")
    with pytest.raises(ConnectionLost), second.attempt(orders, 1):
        raise ConnectionLost("server closed the connection unexpectedly")
    assert events == []  # a transient failure with tries left: Airflow tries again
    clock.advance(700)  # past the 10-minute SLA
    with second.attempt(orders, 2) as attempt:
        attempt.output = StepOutput(rows={"rows_loaded": 200})
    assert [e.kind for e in events] == [EventKind.SLA_MISSED, EventKind.RUN_SUCCEEDED]
    done = events[-1]
    assert (done.job, done.status, done.sla, done.sla_missed_at is not None) == (
        "daily",
        "succeeded",
        600.0,
        True,
    )
    assert [(s.id, s.status, s.attempts) for s in done.steps] == [
        (customers.id, "succeeded", 1),
        (orders.id, "succeeded", 2),
    ]
    run = any_store.get_run(first.run_id or 0)
    assert run.steps[0].attempt_records[0].log == "loaded 50"
    assert run.steps[1].attempt_records[0].error == "server closed the connection unexpectedly"
    assert run.steps[1].attempt_records[0].transient is True


def test_a_terminal_error_ends_the_run_failed_and_is_masked(shop: Project, any_store: StateStore) -> None:
    from datakit.log import forget_secrets, register_secret

    register_secret("s3cr3t-pw")
    request_cleanup = forget_secrets
    events: list[RunEvent] = []
    recorder = _recorder(shop, any_store, events)
    recorder.join()
    customers, _orders = recorder.plan.steps
    with pytest.raises(DatakitError), recorder.attempt(customers, 1):
        raise DatakitError("login failed for password s3cr3t-pw")
    (event,) = events
    assert (event.kind, event.status) == (EventKind.RUN_FAILED, "failed")
    assert [s.status for s in event.steps] == ["failed", "skipped"]
    recorded = repr(any_store.get_run(recorder.run_id or 0))
    request_cleanup()
    assert "s3cr3t-pw" not in recorded and "login failed for password ***" in recorded


def test_a_store_that_cannot_be_reached_never_stops_the_step(
    shop: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = StateStore(sqlite_url(tmp_path / "state.db"))
    broken.close()
    (tmp_path / "state.db").unlink()
    (tmp_path / "state.db").mkdir()  # no longer a database file: every write fails
    recorder = _recorder(shop, broken, [])
    assert recorder.join() is None
    ran: list[Any] = []
    with recorder.attempt(recorder.plan.steps[0], 1) as attempt:
        ran.append(attempt.number)
    assert ran == [1]
    assert (
        "run history: the run of airflow run airflow:datakit__daily:r1 of job daily not recorded"
        in caplog.text
    )
