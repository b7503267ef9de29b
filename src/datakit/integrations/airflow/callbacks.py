"""What a compiled DAG calls when a run fails, succeeds or misses its SLA: datakit's own channels.

A job's `notifications:` (log, email, webhook, as `datakit run` sends them) become the DAG's
`on_failure_callback` / `on_success_callback`, and its `sla.duration` an Airflow 3 deadline alert
(`DeadlineReference.DAGRUN_QUEUED_AT` + the duration) whose `SyncCallback` is `sla_missed` below. So a
job run by Airflow notifies the same receivers with the same JSON as one run by `datakit serve`, its
`engine` saying `airflow` and its `resume_command` how to re-run the failed tasks in Airflow.

Airflow imports this module when it parses a DAG with an SLA (it checks a deadline callback's path):
it imports nothing at module level, so parsing stays fast; datakit's notifiers are imported when a
callback runs. DAG callbacks run in Airflow's dag-processor, deadline callbacks in the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.orchestrate.notify import EventKind, RunEvent, StepSummary


def run_finished(
    context: Mapping[str, Any],
    *,
    project_root: str,
    environment: str,
    job: str,
    warehouse: str | None,
    failed: bool,
) -> None:
    """A DAG run ended (`on_failure_callback` / `on_success_callback`): tell the job's channels."""
    from datakit.orchestrate.notify import EventKind

    kind = EventKind.RUN_FAILED if failed else EventKind.RUN_SUCCEEDED
    dag_run = context.get("dag_run")
    ti = context.get("ti")
    steps = (_step(ti, failed),) if ti is not None and getattr(ti, "task_id", None) else ()
    run_id = str(context.get("run_id") or _get(dag_run, "run_id") or "?")
    reason = context.get("reason")
    _send(
        project_root,
        environment,
        job,
        warehouse,
        kind,
        run_id=run_id,
        dag_id=_dag_id(context, dag_run),
        status="failed" if failed else "succeeded",
        started=_epoch(_get(dag_run, "start_date")),
        finished=_epoch(_get(dag_run, "end_date")) or datetime.now().timestamp(),
        steps=steps,
        error=str(reason) if failed and reason else None,
    )


def sla_missed(
    context: Mapping[str, Any] | None = None,
    *,
    project_root: str,
    environment: str,
    job: str,
    warehouse: str | None,
    sla: float,
) -> None:
    """The run outlived the job's SLA (an Airflow deadline was missed): tell the job's channels."""
    from datakit.orchestrate.notify import EventKind

    dag_run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    run_id = str(_get(dag_run, "dag_run_id") or _get(dag_run, "run_id") or "?")
    started = _epoch(_get(dag_run, "start_date")) or _epoch(_get(dag_run, "queued_at"))
    _send(
        project_root,
        environment,
        job,
        warehouse,
        EventKind.SLA_MISSED,
        run_id=run_id,
        dag_id=str(_get(dag_run, "dag_id") or ""),
        status="running",
        started=started,
        finished=None,
        steps=(),
        sla=sla,
        missed_at=_epoch(_get(deadline, "deadline_time")) or datetime.now().timestamp(),
    )


def _send(
    project_root: str,
    environment: str,
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
    import os
    from pathlib import Path

    from datakit import log
    from datakit.config import load_project
    from datakit.config.tenancy import tenant_context
    from datakit.orchestrate.notify import Notifier, RunEvent

    log.host()  # the log channel's line goes to the dag-processor's (or executor's) log, at its level
    root = os.environ.get("DATAKIT_PROJECT") or project_root
    project = load_project(Path(root), environment=environment, warehouse=warehouse)
    tenant = tenant_context(project, warehouse)
    config = project.job(job)
    if sla is None and config.sla is not None:
        sla = config.sla.duration.total_seconds()
    resume = f"airflow tasks clear {dag_id} --only-failed --yes  (run {run_id})" if dag_id else None
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
