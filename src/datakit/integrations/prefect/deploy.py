"""Create, update, prune and serve the project's Prefect deployments (`datakit prefect deploy|serve`).

`apply` creates or updates every deployment of `deployments.deployment_specs` through the configured
Prefect API, many at once (each is a few API calls; 1,000 take seconds, not minutes), and `prune`
deletes the deployments this project and environment made before that no longer exist in the YAML —
found by their ownership tags, so nothing another project (or a person) made is touched. `serve` does
both, then runs Prefect's runner in this process: it executes the deployments' scheduled, triggered and
manual runs, each in a fresh process importing its flow from `entry`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from datakit.integrations.prefect.deployments import DeploymentSpec
from datakit.integrations.prefect.flows import job_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

PARALLEL = 4
"""Deployments applied at once (each waits on the API; more only queue on a SQLite-backed server)."""
BUSY_RETRIES = 8


@dataclass(frozen=True)
class Applied:
    """What `deploy` did: deployment ids by full name, and the names it removed."""

    ids: dict[str, str]
    removed: tuple[str, ...]


def runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    """`spec` as Prefect's RunnerDeployment (not applied yet)."""
    from prefect.deployments.runner import RunnerDeployment
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

    schedules: list[Any] = [Cron(c.cron, timezone=c.timezone) for c in spec.crons]
    schedules += [
        Interval(
            timedelta(seconds=i.seconds),
            anchor_date=datetime.fromisoformat(i.anchor) if i.anchor else None,
            timezone="UTC",
        )
        for i in spec.intervals
    ]
    triggers = [
        DeploymentEventTrigger(
            name=f"{e.trigger}: after {e.upstream_flow}",
            expect=set(e.events),
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": e.upstream_flow},
        )
        for e in spec.events
    ]
    flow = job_flow(spec.warehouse, spec.job, spec.description)
    deployment = RunnerDeployment.from_flow(
        flow,
        name=spec.name,
        schedules=schedules,
        triggers=triggers,  # type: ignore[arg-type]
        parameters=spec.parameters,
        description=spec.description,
        tags=list(spec.tags),
        concurrency_limit=1,  # one active run of a job per warehouse, as everywhere in datakit
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    deployment.entrypoint = spec.entrypoint
    return deployment


def apply(specs: list[DeploymentSpec], *, prune_tags: tuple[str, ...] | None = None) -> Applied:
    """Create or update each deployment; with `prune_tags`, also delete the deployments carrying those
    tags that `specs` no longer holds (only when `specs` is the whole project)."""
    return asyncio.run(_apply(specs, prune_tags))


async def _apply(specs: list[DeploymentSpec], prune_tags: tuple[str, ...] | None) -> Applied:
    gate = asyncio.Semaphore(PARALLEL)

    async def one(spec: DeploymentSpec) -> tuple[str, str]:
        async with gate:
            deployment = runner_deployment(spec)
            return spec.full_name, await _apply_one(deployment)

    ids = dict(await asyncio.gather(*(one(spec) for spec in specs)))
    removed: tuple[str, ...] = ()
    if prune_tags is not None:
        removed = await _prune(prune_tags, set(ids.values()))
    return Applied(ids, removed)


async def _apply_one(deployment: RunnerDeployment) -> str:
    """Apply one deployment, again after a pause when the server is busy (`server_busy`)."""
    for attempt in range(1, BUSY_RETRIES + 1):
        try:
            return str(await deployment.aapply())
        except Exception as exc:
            if not server_busy(exc) or attempt == BUSY_RETRIES:
                raise
            await asyncio.sleep(0.5 * attempt)  # applying again is idempotent: create-or-update
    raise AssertionError("unreachable")


def server_busy(exc: BaseException) -> bool:
    """Whether `exc` says the server was too busy to answer, so the same request may be sent again: a
    SQLite-backed Prefect server answers 503 while its database is locked by another write, and on a
    loaded machine a request can outlast the client's timeout (`PREFECT_API_REQUEST_TIMEOUT`) —
    Prefect wraps both in `DeploymentApplyError`, the timeout as its cause."""
    import httpx
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, httpx.TimeoutException):
        return True
    if isinstance(exc, DeploymentApplyError | PrefectHTTPStatusError):
        return "503" in str(exc) or (exc.__cause__ is not None and server_busy(exc.__cause__))
    return False


async def _prune(tags: tuple[str, ...], keep: set[str]) -> tuple[str, ...]:
    """Delete the deployments tagged with all of `tags` whose id is not in `keep`."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    removed: list[str] = []
    async with get_client() as client:
        wanted = DeploymentFilter(tags=DeploymentFilterTags(all_=list(tags)))
        offset, page = 0, 200
        found: list[Any] = []
        while True:
            batch = await client.read_deployments(deployment_filter=wanted, limit=page, offset=offset)
            found.extend(batch)
            if len(batch) < page:
                break
            offset += page
        for deployment in found:
            if str(deployment.id) in keep:
                continue
            flow = await client.read_flow(deployment.flow_id)
            await client.delete_deployment(deployment.id)
            removed.append(f"{flow.name}/{deployment.name}")
    return tuple(sorted(removed))


def serve(
    specs: list[DeploymentSpec], *, prune_tags: tuple[str, ...] | None = None, limit: int | None = None
) -> None:
    """Apply (and prune), then run the deployments' runs from this process until stopped (Ctrl-C)."""
    from prefect import serve as prefect_serve

    apply(specs, prune_tags=prune_tags)
    prefect_serve(*(runner_deployment(spec) for spec in specs), limit=limit)
