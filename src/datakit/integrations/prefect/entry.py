"""Where Prefect processes import datakit's flows from: `datakit.integrations.prefect.entry.<w>@<job>`.

A deployment names its flow by an import path, and Prefect's runner (`datakit prefect serve`) and workers
import it in a fresh process to run a flow run. datakit's flows are made from the project's jobs, not
written in a module, so this module makes them on attribute access (PEP 562): `acme@daily` is the flow of
job `daily` for warehouse `acme`, `@daily` the project's own (`flows.entrypoint`). `@` cannot occur in a
name, so the split is unambiguous, and the path has no `:` — Prefect imports such a "module path"
entrypoint as it is, without looking for the flow's code in a storage folder. Which project and
environment a run is for are the flow run's parameters, baked into each deployment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect import Flow


def __getattr__(name: str) -> Flow[..., dict[str, str]]:
    warehouse, at, job = name.partition("@")
    if not at or not job:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _flow(warehouse or None, job)


@cache
def _flow(warehouse: str | None, job: str) -> Flow[..., dict[str, str]]:
    from datakit.integrations.prefect.flows import job_flow

    return job_flow(warehouse, job)
