"""The DAG's callbacks and the tasks' recorder share one run history: each event goes out exactly once,
and a DAG run Airflow ends without its tasks (a task killed, a dagrun_timeout, a run no task started)
ends in datakit's run history with Airflow's reason instead of staying `running`.

No Airflow here (the dag.test() runs are in test_history.py): the callbacks are called with the
context Airflow gives them (the dag-processor's objects for a DAG callback, JSON for a deadline
callback); the tasks' side is the recorder each task uses (`history.dag_run_recorder`), on the
project's SQLite state store; notifications go to a real local webhook receiver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datakit.config import load_project
from datakit.errors import DatakitError
from datakit.integrations.airflow.callbacks import run_finished, sla_missed
from datakit.integrations.airflow.history import dag_run_recorder
from datakit.orchestrate.recorder import RunRecorder
from datakit.orchestrate.store import RunRecord, open_store
from datakit.orchestrate.store.external import ExternalRuns
from tests.integrations.airflow.projects import SHOP_ALERTS_VAR, notified_shop
from tests.orchestrate.test_sla import Arrivals

DAG = "datakit__daily"
CUSTOMERS, ORDERS = "shop_bronze.customers", "shop_bronze.orders"
GRAPH = {CUSTOMERS: [], ORDERS: [CUSTOMERS]}
"""The file's GRAPH: the sequential job's chain."""


@pytest.fixture
def hosted_logging() -> Iterator[None]:
    """The callbacks log through the host's logging (`datakit.log.host`): put datakit's logging back."""
    import logging

    from datakit import log

    logger = logging.getLogger("datakit")
    saved = (list(logger.handlers), logger.propagate, logger.level, log._hosted)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]
    log._hosted = saved[3]


@pytest.fixture
def shop(tmp_path: Path, arrivals: Arrivals, monkeypatch: pytest.MonkeyPatch, hosted_logging: None) -> Path:
    """The scaffold's project, its job `daily` (SLA 30m) notifying the receiver of failures and successes."""
    monkeypatch.setenv(SHOP_ALERTS_VAR, f"{arrivals.api.url}/hook")
    return notified_shop(tmp_path / "shop", sla="30m")


def events(arrivals: Arrivals) -> list[str]:
    return [body["event"] for _, body in arrivals.received]


def task(root: Path, run_id: str, started_at: float | None = None) -> RunRecorder:
    """The recorder a task of DAG run `run_id` records its try with, joined."""
    recorder = dag_run_recorder(
        load_project(root, environment="dev"),
        dag_id=DAG,
        run_id=run_id,
        job="daily",
        warehouse=None,
        graph=GRAPH,
        started_at=started_at,
    )
    assert recorder.join() is not None
    return recorder


def step(recorder: RunRecorder, step_id: str) -> Any:
    return next(s for s in recorder.plan.steps if s.id == step_id)


def dag_callback(root: Path, run_id: str, *, failed: bool, reason: str, ti: str | None = None) -> None:
    """What the compiled file's `_failed` / `_succeeded` do, with the dag-processor's context."""
    context: dict[str, Any] = {"dag": SimpleNamespace(dag_id=DAG), "run_id": run_id, "reason": reason}
    if ti is not None:
        context["ti"] = SimpleNamespace(task_id=ti, state="failed" if failed else "success", try_number=1)
        context["dag_run"] = SimpleNamespace(start_date=datetime.now(UTC), end_date=datetime.now(UTC))
    run_finished(
        context,
        project_root=str(root),
        environment="dev",
        job="daily",
        warehouse=None,
        failed=failed,
        graph=GRAPH,
    )


def deadline_callback(root: Path, run_id: str, queued_at: float) -> None:
    """What the deadline alert's `SyncCallback` does, with the JSON context the executor gives it."""
    queued = datetime.fromtimestamp(queued_at, UTC).isoformat()
    sla_missed(
        {"dag_run": {"dag_id": DAG, "run_id": run_id, "queued_at": queued}, "deadline": {"id": "x"}},
        project_root=str(root),
        environment="dev",
        job="daily",
        warehouse=None,
        sla=1800.0,
        graph=GRAPH,
    )


def recorded(root: Path, run_id: str) -> RunRecord:
    store = open_store(load_project(root, environment="dev"))
    try:
        found = ExternalRuns(store).find(f"airflow:{DAG}:{run_id}")
        assert found is not None, f"run {run_id} is not in the run history"
        return store.get_run(found)
    finally:
        store.close()


def test_a_failure_the_tasks_recorded_is_announced_once(shop: Path, arrivals: Arrivals) -> None:
    recorder = task(shop, "manual__1")
    with pytest.raises(DatakitError), recorder.attempt(step(recorder, CUSTOMERS), 1):
        raise DatakitError("the source is gone")
    recorder.close()
    # Airflow fails the DAG run too: its failure callback finds the run ended by the task
    dag_callback(shop, "manual__1", failed=True, reason="task_failure", ti=CUSTOMERS)

    (failed,) = [body for _, body in arrivals.received]
    assert (failed["event"], failed["engine"], failed["run_id"]) == ("run_failed", "airflow", "manual__1")
    assert failed["error"] == f"1 failed: {CUSTOMERS}; 1 skipped: {ORDERS}"  # the task's words, not Airflow's
    assert failed["resume_command"].startswith(f"airflow tasks clear {DAG} --only-failed")
    assert recorded(shop, "manual__1").status == "failed"


def test_a_task_killed_or_a_dagrun_timeout_ends_the_run_failed_once(shop: Path, arrivals: Arrivals) -> None:
    recorder = task(shop, "scheduled__2")
    with recorder.attempt(step(recorder, CUSTOMERS), 1) as attempt:
        attempt.output = None  # succeeded
    # the orders task started and was killed: its process never reported the end of its try
    assert recorder.store is not None
    ExternalRuns(recorder.store).attempt_started(recorder.run_id or 0, ORDERS, 1)
    recorder.close()
    assert recorded(shop, "scheduled__2").status == "running"

    dag_callback(shop, "scheduled__2", failed=True, reason="timed_out", ti=ORDERS)
    dag_callback(shop, "scheduled__2", failed=True, reason="timed_out", ti=ORDERS)  # a second call: no-op

    run = recorded(shop, "scheduled__2")
    reason = f"Airflow failed the DAG run: the run exceeded its dagrun_timeout (task {ORDERS})"
    assert (run.status, run.error) == ("failed", reason)
    assert run.finished_at is not None
    steps = {s.step_id: (s.status, s.error) for s in run.steps}
    assert steps == {CUSTOMERS: ("succeeded", None), ORDERS: ("failed", reason)}
    assert events(arrivals) == ["run_failed"]
    (_, body), *_ = arrivals.received
    assert (body["run_id"], body["engine"], body["error"]) == ("scheduled__2", "airflow", reason)


def test_a_run_no_task_recorded_is_created_to_end_failed(shop: Path, arrivals: Arrivals) -> None:
    """Timed out while queued: no task ever ran, the history still has the run, failed."""
    dag_callback(shop, "scheduled__3", failed=True, reason="timed_out")
    run = recorded(shop, "scheduled__3")
    assert (run.status, run.engine) == ("failed", "airflow")
    assert {s.step_id: s.status for s in run.steps} == {CUSTOMERS: "skipped", ORDERS: "skipped"}
    assert events(arrivals) == ["run_failed"]


def test_a_success_is_announced_once_and_steps_marked_succeeded_end_the_run(
    shop: Path, arrivals: Arrivals
) -> None:
    recorder = task(shop, "manual__4")
    for step_id in (CUSTOMERS, ORDERS):
        with recorder.attempt(step(recorder, step_id), 1):
            pass
    recorder.close()
    dag_callback(shop, "manual__4", failed=False, reason="success", ti=ORDERS)  # ended by the task
    assert events(arrivals) == ["run_succeeded"]

    # orders marked success by hand in Airflow: no task reported it, the success callback ends the run
    recorder = task(shop, "manual__5")
    with recorder.attempt(step(recorder, CUSTOMERS), 1):
        pass
    recorder.close()
    assert recorded(shop, "manual__5").status == "running"
    dag_callback(shop, "manual__5", failed=False, reason="success", ti=ORDERS)
    dag_callback(shop, "manual__5", failed=False, reason="success", ti=ORDERS)
    run = recorded(shop, "manual__5")
    assert (run.status, run.error) == ("succeeded", "Airflow marked the DAG run succeeded")
    assert events(arrivals) == ["run_succeeded", "run_succeeded"]  # one per run
    assert [b["run_id"] for _, b in arrivals.received] == ["manual__4", "manual__5"]


def test_an_sla_miss_is_announced_once_whoever_sees_it_first(shop: Path, arrivals: Arrivals) -> None:
    an_hour_ago = time.time() - 3600
    # the deadline alert first (no task has started yet): it creates the run and announces the miss
    deadline_callback(shop, "manual__6", queued_at=an_hour_ago)
    recorder = task(shop, "manual__6", started_at=an_hour_ago)
    for step_id in (CUSTOMERS, ORDERS):
        with recorder.attempt(step(recorder, step_id), 1):  # each checks the SLA: missed, recorded
            pass
    recorder.close()
    assert events(arrivals) == ["sla_missed", "run_succeeded"]
    missed = arrivals.of("sla_missed")[0][1]
    assert (missed["run_id"], missed["sla_seconds"], missed["status"]) == ("manual__6", 1800.0, "running")

    # a task's SLA check first: the deadline alert after it sends nothing
    arrivals.received.clear()
    recorder = task(shop, "manual__7", started_at=an_hour_ago)
    with recorder.attempt(step(recorder, CUSTOMERS), 1):
        pass
    recorder.close()
    deadline_callback(shop, "manual__7", queued_at=an_hour_ago)
    assert events(arrivals) == ["sla_missed"]

    # a run that ended (failed) within its SLA: Airflow keeps its deadline, which must not page anyone
    arrivals.received.clear()
    recorder = task(shop, "manual__8")
    with pytest.raises(DatakitError), recorder.attempt(step(recorder, CUSTOMERS), 1):
        raise DatakitError("the source is gone")
    recorder.close()
    deadline_callback(shop, "manual__8", queued_at=time.time())
    assert events(arrivals) == ["run_failed"]
    assert recorded(shop, "manual__8").sla_missed_at is None


def test_without_the_run_history_the_callbacks_send_themselves(shop: Path, arrivals: Arrivals) -> None:
    """The state store cannot be opened (its folder is a file): the callbacks tell the channels from
    Airflow's context, named by Airflow's run id — the fallback, as the only sender."""
    (shop / ".datakit").write_text("not a folder")
    dag_callback(shop, "manual__9", failed=True, reason="task_failure", ti=CUSTOMERS)
    deadline_callback(shop, "manual__9", queued_at=time.time() - 3600)
    (failed, missed) = [body for _, body in arrivals.received]
    assert (failed["event"], failed["run_id"], failed["engine"]) == ("run_failed", "manual__9", "airflow")
    assert failed["error"] == f"Airflow failed the DAG run: a task failed (task {CUSTOMERS})"
    assert failed["steps"][0]["id"] == CUSTOMERS
    assert (missed["event"], missed["run_id"], missed["sla_seconds"]) == ("sla_missed", "manual__9", 1800.0)
