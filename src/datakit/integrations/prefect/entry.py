"""Where Prefect processes import datakit's flows from: `datakit.integrations.prefect.entry:flows.<w>.<job>`.

A deployment names its flow by an import path, and Prefect's runner (`datakit prefect serve`) and workers
import it in a fresh process to run a flow run. datakit's flows are made from the project's jobs, not
written in a module, so `flows` makes them on attribute access: `flows.acme.daily` is the flow of job
`daily` for warehouse `acme`, `flows._project.daily` the project's own (see `flows.entrypoint`). Which
project and environment it runs are the flow run's parameters, baked into each deployment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect import Flow


class _Warehouse:
    def __init__(self, warehouse: str | None) -> None:
        self._warehouse = warehouse

    def __getattr__(self, job: str) -> Flow[..., dict[str, str]]:
        if job.startswith("__"):
            raise AttributeError(job)
        return _flow(self._warehouse, job)


class _Flows:
    def __getattr__(self, warehouse: str) -> Any:
        from datakit.integrations.prefect.flows import PROJECT_SCOPE

        if warehouse.startswith("__"):
            raise AttributeError(warehouse)
        return _Warehouse(None if warehouse == PROJECT_SCOPE else warehouse)


@cache
def _flow(warehouse: str | None, job: str) -> Flow[..., dict[str, str]]:
    from datakit.integrations.prefect.flows import job_flow

    return job_flow(warehouse, job)


flows = _Flows()
