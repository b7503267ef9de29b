"""What a compiled DAG calls when a run fails, succeeds or misses its SLA: datakit's run history first.

Every compiled DAG has an `on_failure_callback` and an `on_success_callback` (`run_finished`); a job
with `sla.duration` also an Airflow 3 deadline alert (`DeadlineReference.DAGRUN_QUEUED_AT` + the
duration) whose `SyncCallback` is `sla_missed`.

Each event goes out once. The tasks record the run (`history`): the task that ends the last step ends
the run and sends run_succeeded / run_failed; a task's SLA timer records and sends sla_missed. The
callbacks do the same through the same recorder, so whichever ends the run (or records the miss) first
is the one that speaks, and the others find it done:

- a failed run is `finish`ed failed with Airflow's reason — a no-op when a task's failure ended it
  already; the run's end when no task could say it (a task killed, `dagrun_timeout`, marked failed);
  a run no task recorded (timed out while queued) is created to be ended, so the history has it;
- a succeeded run is `settle`d (ended if the tasks could not), or `finish`ed succeeded when Airflow
  says so with steps still open (tasks marked success by hand);
- a missed deadline is `deadline_missed`: recorded and sent unless a task's timer did, or the run
  ended within its SLA (Airflow keeps the deadline of a failed run).

Only when the run history cannot be reached do the callbacks send the job's notifications themselves,
from Airflow's context (the run named by Airflow's run id), as a fallback. Events say `engine`
`airflow` and `resume_command` how to re-run the failed tasks in Airflow.

Airflow imports this module when it parses a DAG with an SLA (it checks a deadline callback's path):
it imports nothing at module level, so parsing stays fast; datakit is imported when a callback runs.
DAG callbacks run in Airflow's dag-processor, deadline callbacks in the executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.notify import EventKind, RunEvent, StepSummary
    from datakit.orchestrate.recorder import RunRecorder

REASONS = {
    "task_failure": "a task failed",
    "timed_out": "the run exceeded its dagrun_timeout",
    "all_tasks_deadlocked": "no task could run (deadlock)",
}
"""Airflow's reasons for ending a DAG run failed (the callback context's `reason`), as sentences."""


def run_finished(
    context: Mapping[str, Any],
    *,
    project_root: str,
    environment: str,
    job: str,
    warehouse: str | None,
    failed: bool,
    graph: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """A DAG run ended (`on_failure_callback` / `on_success_callback`): end it in the run history if no
    task could (which announces it), else nothing; the job's channels directly when the history
    cannot be reached. `graph`: each step's upstream steps in the DAG (the file's GRAPH)."""
    from datakit import log
    from datakit.orchestrate.store import RunStatus

    log.host()  # the log channel's line goes to the dag-processor's log, at its level
    dag_run = context.get("dag_run")
    ti = context.get("ti")
    run_id = str(context.get("run_id") or _get(dag_run, "run_id") or "?")
    dag_id = _dag_id(context, dag_run)
    reason = _reason(context, ti) if failed else None
    if graph is None and context.get("dag") is not None and hasattr(context["dag"], "tasks"):
        from datakit.integrations.airflow.history import dag_graph

        graph = dag_graph(context["dag"])
    project = _project(project_root, environment, warehouse)
    recorder = _recorder(
        project, dag_id, run_id, job, warehouse, graph, _epoch(_get(dag_run, "start_date")), create=failed
    )
    if recorder is not None:
        try:
            if failed:
                recorder.finish(RunStatus.FAILED, reason)
            elif recorder.settle() is None:
                run = recorder.current()
                if run is not None and run.status in (RunStatus.RUNNING.value, RunStatus.QUEUED.value):
                    recorder.finish(RunStatus.SUCCEEDED, "Airflow marked the DAG run succeeded")
        finally:
            recorder.close()
        return
    kind = _kind(failed)
    steps = (_step(ti, failed),) if ti is not None and getattr(ti, "task_id", None) else ()
    _send(
        project,
        job,
        warehouse,
        kind,
        run_id=run_id,
        dag_id=dag_id,
        status="failed" if failed else "succeeded",
        started=_epoch(_get(dag_run, "start_date")),
        finished=_epoch(_get(dag_run, "end_date")) or datetime.now().timestamp(),
        steps=steps,
        error=reason,
    )


def sla_missed(
    context: Mapping[str, Any] | None = None,
    *,
    project_root: str,
    environment: str,
    job: str,
    warehouse: str | None,
    sla: float,
    graph: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """The run outlived the job's SLA (an Airflow deadline was missed): record the miss in the run
    history (created if no task started yet), which announces it unless a task's timer did first."""
    from datakit import log

    log.host()  # the log channel's line goes to the executor's log, at its level
    dag_run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    run_id = str(_get(dag_run, "dag_run_id") or _get(dag_run, "run_id") or "?")
    dag_id = str(_get(dag_run, "dag_id") or "")
    started = _epoch(_get(dag_run, "queued_at")) or _epoch(_get(dag_run, "start_date"))
    project = _project(project_root, environment, warehouse)
    recorder = _recorder(project, dag_id, run_id, job, warehouse, graph, started, create=True)
    if recorder is not None:
        try:
            recorder.deadline_missed()
        finally:
            recorder.close()
        return
    from datakit.orchestrate.notify import EventKind

    _send(
        project,
        job,
        warehouse,
        EventKind.SLA_MISSED,
        run_id=run_id,
        dag_id=dag_id,
        status="running",
        started=_epoch(_get(dag_run, "start_date")) or started,
        finished=None,
        steps=(),
        sla=sla,
        missed_at=_epoch(_get(deadline, "deadline_time")) or datetime.now().timestamp(),
    )


def _project(project_root: str, environment: str, warehouse: str | None) -> Project:
    import os
    from pathlib import Path

    from datakit.config import load_project

    root = os.environ.get("DATAKIT_PROJECT") or project_root
    return load_project(Path(root), environment=environment, warehouse=warehouse)


def _recorder(
    project: Project,
    dag_id: str,
    run_id: str,
    job: str,
    warehouse: str | None,
    graph: Mapping[str, Sequence[str]] | None,
    started: float | None,
    *,
    create: bool,
) -> RunRecorder | None:
    """The run's recorder, joined (the run created when `create`); None when the run history cannot
    be had (or, without `create`, no task recorded the run): the caller sends the event itself."""
    from datakit.integrations.airflow.history import dag_run_recorder
    from datakit.log import get_logger, redact

    if not dag_id or run_id == "?":
        return None
    try:
        recorder = dag_run_recorder(
            project,
            dag_id=dag_id,
            run_id=run_id,
            job=job,
            warehouse=warehouse,
            graph=graph or {},
            started_at=started,
        )
    except Exception as exc:
        get_logger(__name__).warning("run history: DAG run %s not settled: %s", run_id, redact(str(exc)))
        return None
    if recorder.join(create=create) is None:
        recorder.close()
        return None
    return recorder


def _reason(context: Mapping[str, Any], ti: Any) -> str:
    """Why Airflow failed the run, as the run history says it."""
    reason = str(context.get("reason") or "failed")
    text = f"Airflow failed the DAG run: {REASONS.get(reason, reason)}"
    task_id = getattr(ti, "task_id", None)
    return f"{text} (task {task_id})" if task_id else text


def _kind(failed: bool) -> EventKind:
    from datakit.orchestrate.notify import EventKind

    return EventKind.RUN_FAILED if failed else EventKind.RUN_SUCCEEDED


def _send(
    project: Project,
    job: str,
    warehouse: str | None,
    kind: EventKind,
    *,
    run_id: str,
    dag_id: str,
    status: str,
    started: float | None,
    finished: float | None,
    steps: tuple[StepSummary, ...],
    error: str | None = None,
    sla: float | None = None,
    missed_at: float | None = None,
) -> None:
    """The fallback: the job's channels told directly, from Airflow's context."""
    from datakit.config.tenancy import tenant_context
    from datakit.integrations.airflow.history import resume_command
    from datakit.orchestrate.notify import Notifier, RunEvent

    tenant = tenant_context(project, warehouse)
    config = project.job(job)
    if sla is None and config.sla is not None:
        sla = config.sla.duration.total_seconds()
    resume = resume_command(dag_id, run_id) if dag_id else None
    event: RunEvent = RunEvent(
        kind=kind,
        job=job,
        run_id=run_id,
        warehouse=warehouse,
        status=status,
        started_at=started if started is not None else (finished or 0.0),
        finished_at=finished,
        steps=steps,
        error=error,
        sla=sla,
        sla_missed_at=missed_at,
        resume=resume,
        engine="airflow",
    )
    Notifier.for_job(project, job, secrets=tenant.secrets)(event)


def _step(ti: Any, failed: bool) -> StepSummary:
    """The run's last task instance (the one that decided the run's state), as a step summary."""
    from datakit.orchestrate.notify import StepSummary

    state = str(getattr(ti, "state", None) or ("failed" if failed else "succeeded"))
    state = {"success": "succeeded"}.get(state.rsplit(".", 1)[-1].lower(), state.rsplit(".", 1)[-1].lower())
    return StepSummary(
        id=str(ti.task_id),
        status=state,
        attempts=int(getattr(ti, "try_number", 1) or 1),
        rows_read=None,
        rows_loaded=None,
        rows_rejected=None,
        error=None,
    )


def _get(value: Any, key: str) -> Any:
    """`key` of a mapping or an attribute of an object (Airflow passes either, depending on the caller)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def _dag_id(context: Mapping[str, Any], dag_run: Any) -> str:
    dag = context.get("dag")
    return str(getattr(dag, "dag_id", None) or _get(dag_run, "dag_id") or "")


def _epoch(value: Any) -> float | None:
    """A datetime, or an ISO string (JSON context), as seconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.timestamp()
    return None
