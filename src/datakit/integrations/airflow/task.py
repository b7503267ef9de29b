"""What a generated DAG's task calls: rebuild the plan step from the file's literal data and run it.

The literal data is `step_data` of the step, read back with `step_from_data`: the form every executor
passes steps in, validated, with no default of its own here. A file written by another datakit version
fails its task with a message saying to recompile (and `datakit airflow check` reports it as stale).

The work is `run_step_here`, the same step functions the local executor runs in its child processes,
so a step does exactly the same thing under both executors. Only the failure policy is translated:
datakit retries transient errors only (connection loss, serialization failures, HTTP 429/5xx,
timeouts — `orchestrate.retry.is_transient`), so a terminal error is raised as Airflow's
`AirflowFailException`, which fails the task at once whatever its `retries`; a transient one is
re-raised as it is and Airflow retries it per the task's retry settings.

A task writes nothing inside the project (`_outside_the_project`): a DAG bundle may be read-only.

A DAG run triggered with `full_refresh` in the `prod` environment also needs `confirm_full_refresh`
(the CLI's `--yes`, serve's second tick): without it every task fails at once, before it touches data.

A load step is run as a step of its DAG run (`airflow:<dag id>:<run id>`): its load record names that
run, so a retry whose earlier try committed the load before it failed (or was killed) does not load it
again; it reports the committed load's rows. A new DAG run loads anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datakit.orchestrate.stepkinds import step_from_data

CONFIRM_IN_DAG = "trigger the DAG with the param confirm_full_refresh true as well, if that is what you want"


def run_step(
    project_root: str,
    environment: str,
    step: Mapping[str, Any],
    *,
    full_refresh: bool = False,
    confirmed: bool = False,
) -> dict[str, Any]:
    """Run one step in this (the Airflow task's) process, recorded in run history; its row counts
    become the task's one XCom. A full refresh in prod needs `confirmed` (`refuse_full_refresh`).

    datakit's logging goes through Airflow's (`datakit.log.host`): progress at INFO, warnings as
    warnings, each dbt line once — not as stderr, which Airflow shows as ERROR.
    """
    if full_refresh and not confirmed:
        _refuse_unconfirmed(project_root, environment, step.get("id"))
    from datakit import log
    from datakit.integrations.airflow.history import recorded_attempt
    from datakit.orchestrate.retry import is_transient

    log.host()
    _outside_the_project()
    from datakit.orchestrate.steps import run_step_here

    step_id = step.get("id")
    try:
        plan_step = step_from_data(step)  # a file of another datakit version fails here, terminally
        with recorded_attempt(project_root, environment, plan_step) as attempt:  # in run history
            attempt.output = output = run_step_here(
                Path(project_root), environment, plan_step, full_refresh=full_refresh, runs=_dag_run()
            )
    except Exception as exc:
        if is_transient(exc):
            raise  # Airflow retries it (retries, retry_delay, backoff of the task)
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"step {step_id} failed (terminal, not retried): {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        from datakit.transform import release_dbt

        release_dbt()  # the task process ends with os._exit: no "leaked semaphore" warning on stderr
    return {"step": plan_step.id, "rows": dict(output.rows)}


def _refuse_unconfirmed(project_root: str, environment: str, step_id: object) -> None:
    """An unconfirmed full refresh in prod fails the task terminally (retrying cannot confirm it)."""
    from datakit.config import load_project
    from datakit.errors import UsageError
    from datakit.orchestrate.run import refuse_full_refresh

    try:
        refuse_full_refresh(load_project(Path(project_root), environment=environment), False, CONFIRM_IN_DAG)
    except UsageError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"step {step_id}: {exc}") from exc


def _dag_run() -> tuple[str, ...]:
    """The key of the task's DAG run (none outside a running task)."""
    from airflow.sdk import get_current_context

    try:
        context = get_current_context()
    except RuntimeError:  # not in a task (called directly): the load is no run's step
        return ()
    return (f"airflow:{context['dag'].dag_id}:{context['run_id']}",)


def _outside_the_project() -> None:
    """Nothing a task generates goes into the project (a DAG bundle may be read-only and versioned):
    dbt's files go under DATAKIT_HOME (a cache folder unless the deployment names one); the project's
    datakits are imported without writing bytecode next to them (`datakit.datakits.importer`)."""
    import os

    from datakit.config.home import HOME_VAR, default_cache_home

    if not os.environ.get(HOME_VAR):
        os.environ[HOME_VAR] = str(default_cache_home())
