"""Cancelling a run that another engine executes, for `datakit runs cancel` (`actions.cancel_run`).

Prefect: its API is asked to cancel the flow run (`prefect/cancel.py`). Airflow: datakit holds no
credentials for Airflow's API, so the error says how to stop the DAG run in Airflow itself (its tasks,
being detached, then end the datakit run as failed or the sweep marks it abandoned).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.orchestrate.store import RunRecord


def cancel_in_engine(run: RunRecord, actor: str) -> None:
    """Ask the run's engine to cancel it for `actor`; a DatakitError saying how, when datakit cannot."""
    if run.engine == "prefect":
        from datakit.integrations.prefect.cancel import cancel_flow_run

        cancel_flow_run(run, actor)
        return
    if run.engine == "airflow":
        raise DatakitError(
            f"run {run.id} is an Airflow DAG run: datakit cannot cancel it", hint=_airflow_how(run)
        )
    raise DatakitError(
        f"run {run.id} is executed by {run.engine}, which datakit cannot cancel: stop it there"
    )


def _airflow_how(run: RunRecord) -> str:
    """Where to stop the DAG run: its page, or the REST call (`airflow:<dag id>:<run id>`)."""
    _, dag_id, dag_run = (run.external_id or "airflow:?:?").split(":", 2)
    where = f" ({run.external_url})" if run.external_url else ""
    return (
        f"in Airflow's UI, mark DAG run {dag_run} of DAG {dag_id} as failed{where}, or PATCH "
        f'/api/v2/dags/{dag_id}/dagRuns/{dag_run} with {{"state": "failed"}} on its API server'
    )
