"""Airflow task runs in datakit's run history: each task records its try of its step (`RunRecorder`).

Every task of one DAG run joins the same datakit run, `airflow:<dag id>:<run id>` (the key its loads
are committed under too), created by the first task with every step pending. The run is detached —
Airflow runs each task in its own process, on any worker — and its end is decided from the steps:
the task that finishes the last step ends the run and sends the job's notifications; steps Airflow
marks `upstream_failed` are recorded as skipped. The dependencies recorded are the DAG's own (a
sequential job's chain, the edges between steps sharing one DuckDB file), read from the task's DAG.

Which job the DAG runs comes from its id (`compile.dag_id`), the warehouse from the step; the plan
(its SLA, its steps) is compiled from the project the task runs in. When any of it cannot be had —
not in a task, a DAG datakit did not compile, the state store unreachable — the step runs anyway,
unrecorded, with a warning in the task's log.

With workers on several hosts, configure the PostgreSQL state store (`state:` in datakit.yaml):
a SQLite file is per host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from datakit.log import get_logger
from datakit.orchestrate.recorder import Attempt, RunRecorder

if TYPE_CHECKING:
    from datakit.orchestrate.stepkinds import Step

log = get_logger(__name__)
ENGINE = "airflow"


@contextmanager
def recorded_attempt(project_root: str, environment: str, step: Step) -> Iterator[Attempt]:
    """Record this task's try of `step` around the body (which sets the attempt's `output`)."""
    found = _recorder(project_root, environment, step)
    if found is None:
        yield Attempt(step, 1)
        return
    recorder, ti = found
    try:
        with recorder.attempt(step, int(ti.try_number or 1), will_retry=_airflow_retries(ti)) as attempt:
            yield attempt
    finally:
        recorder.close()


def external_id(dag_id: str, run_id: str) -> str:
    """How datakit names a DAG run: in run history and in the load records of its steps."""
    return f"{ENGINE}:{dag_id}:{run_id}"


def job_of(dag_id: str, warehouse: str | None) -> str | None:
    """The job a datakit DAG runs, from its id (`compile.dag_id`); None for another DAG."""
    from datakit.integrations.airflow.compile import dag_id as compiled_id

    prefix = compiled_id(warehouse, "")
    return dag_id[len(prefix) :] or None if dag_id.startswith(prefix) else None


def _recorder(project_root: str, environment: str, step: Step) -> tuple[RunRecorder, Any] | None:
    from airflow.sdk import get_current_context

    try:
        context = get_current_context()
    except RuntimeError:  # called outside a task: nothing to record
        return None
    dag, ti, run_id = context["dag"], context.get("ti"), str(context["run_id"])
    job = job_of(dag.dag_id, step.params.warehouse)
    if job is None or ti is None:
        log.warning("run history: DAG %s was not compiled by datakit: its run is not recorded", dag.dag_id)
        return None
    try:
        from pathlib import Path

        from datakit.config import load_project
        from datakit.orchestrate.plan import compile_job
        from datakit.orchestrate.recorder import with_graph
        from datakit.orchestrate.store.external import EngineRun

        project = load_project(Path(project_root), environment=environment)
        plan = with_graph(compile_job(project, job, step.params.warehouse), _graph(dag))
    except Exception as exc:
        log.warning("run history: run %s of DAG %s not recorded: %s", run_id, dag.dag_id, exc)
        return None
    who = EngineRun(ENGINE, external_id(dag.dag_id, run_id), url=_url(dag.dag_id, run_id))
    started = getattr(context.get("dag_run"), "start_date", None)
    recorder = RunRecorder(project, plan, who, started_at=started.timestamp() if started else None)
    if recorder.join() is None:
        recorder.close()
        return None
    return recorder, ti


def _graph(dag: Any) -> dict[str, list[str]]:
    """Each step task's upstream step tasks, as the DAG runs them (the closing task left out)."""
    from datakit.integrations.airflow.render import DONE_TASK

    return {
        task.task_id: sorted(set(task.upstream_task_ids) - {DONE_TASK})
        for task in dag.tasks
        if task.task_id != DONE_TASK
    }


def _airflow_retries(ti: Any) -> Callable[[BaseException], bool]:
    """Whether Airflow will try the task again after `exc`: a transient error (task.py raises the
    others as AirflowFailException) or a timeout, while tries are left."""
    from airflow.sdk.exceptions import AirflowTaskTimeout

    from datakit.orchestrate.retry import is_transient

    def will_retry(exc: BaseException) -> bool:
        retried = isinstance(exc, AirflowTaskTimeout) or (isinstance(exc, Exception) and is_transient(exc))
        return retried and int(ti.try_number or 1) <= int(ti.max_tries or 0)

    return will_retry


def _url(dag_id: str, run_id: str) -> str | None:
    """The DAG run's page in Airflow's UI (from `[api] base_url`)."""
    from urllib.parse import quote

    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback=None)
    except Exception:
        return None
    return f"{base.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}" if base else None
