"""`airflow:` blocks — how a project's compiled DAGs share an Airflow deployment (pools, priority, queue).

Airflow runs every tenant's DAGs on one scheduler: without limits, 100 tenants' loads into one
PostgreSQL warehouse would open 100 sessions at once. So each task runs in the *pool of the destination
it works in* (`datakit__<destination>` unless the destination names a pool of its own: destinations on
one server can share one), with the priority and queue of its job, overridden by its warehouse (a
tenant's operator decides over the job's defaults, as a warehouse's `schedules:` do for triggers).

    # datakit.yaml                     # a destination             # a job or a warehouse
    airflow:                           airflow:                    airflow:
      pool_per_destination: true         pool: shared_pg             priority_weight: 10
      pool_slots: 4                      pool_slots: 8               queue: heavy

`datakit airflow pools` writes the pools for `airflow pools import` (Airflow does not schedule a task
whose pool does not exist).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from datakit.config.models.common import StrictModel

POOL_PATTERN = r"^[A-Za-z0-9_.-]+$"
PoolName = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=POOL_PATTERN, description="An Airflow pool's name."),
]
Slots = Annotated[int, Field(ge=1, le=100_000, description="How many tasks the pool runs at once.")]


class AirflowTasks(StrictModel):
    """Airflow's scheduling of a job's tasks (in a job or a warehouse: the warehouse's value wins)."""

    priority_weight: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="Airflow's priority_weight of each task (higher runs first when slots are short)."
    )
    queue: str | None = Field(
        None, min_length=1, max_length=256, description="The Celery queue (the workers) the tasks go to."
    )


class AirflowDestination(StrictModel):
    """The pool tasks working in this destination share."""

    pool: PoolName | None = Field(
        None,
        description="Pool name (default `datakit__<destination>`); name one pool on several to share it.",
    )
    pool_slots: Slots | None = Field(
        None, description="Size of the pool (default: the project's pool_slots)."
    )


class AirflowProject(AirflowTasks):
    """Defaults of the project's compiled DAGs (`datakit.yaml`)."""

    pool_per_destination: bool = Field(
        True, description="Run each task in its destination's pool (false: Airflow's default_pool)."
    )
    pool_slots: Slots = 4
    executor: str | None = Field(
        None,
        min_length=1,
        description="The Airflow executor the DAGs run on (e.g. CeleryExecutor); one whose workers are on "
        "several hosts makes compile warn about DuckDB destinations (default: $AIRFLOW__CORE__EXECUTOR).",
    )
