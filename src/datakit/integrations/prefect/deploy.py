"""Create, update, prune and serve the project's Prefect deployments (`datakit prefect deploy|serve`).

`apply` creates or updates every deployment of `deployments.deployment_specs` through the configured
Prefect API with one client: it reads which flows and deployments the server has (a few paged reads),
then writes each deployment with the calls `RunnerDeployment.aapply` would make, less its look-ups
(`payloads.py`), two at a time — a SQLite-backed server runs one request at a time and answers 503
when two writes collide, so more lanes only waste its work; a Prefect server's time per new deployment
(tens of ms, most of it validating the schedule) is then what a deploy costs. `prune`
deletes the deployments this project and environment made before that no longer exist in the YAML —
found by their ownership tags, so nothing another project (or a person) made is touched. `serve` does
both, then runs Prefect's runner in this process: it executes the deployments' scheduled, triggered and
manual runs, each in a fresh process importing its flow from `entry`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from datakit.integrations.prefect import payloads
from datakit.integrations.prefect.deployments import DeploymentSpec
from datakit.integrations.prefect.flows import job_flow

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.deployments.runner import RunnerDeployment

PARALLEL = 2
"""Deployments written at once: the next is sent while the server answers one (more only collide)."""
BUSY_PATIENCE = 180.0
"""Seconds a request is sent again while the server says it is busy: a SQLite-backed server can stay
locked for tens of seconds while its services flush a burst of events."""
MAX_PAUSE = 2.0
PAGE = 200
"""Rows per read: the most a Prefect server returns at once by default."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class Applied:
    """What `deploy` did: deployment ids by full name, and the names it removed."""

    ids: dict[str, str]
    removed: tuple[str, ...]


def runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    """`spec` as Prefect's RunnerDeployment (not applied yet)."""
    from prefect.deployments.runner import RunnerDeployment
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
    triggers = payloads.triggers(spec)
    flow = job_flow(spec.warehouse, spec.job, spec.description)
    deployment = RunnerDeployment.from_flow(
        flow,
        name=spec.name,
        schedules=schedules,
        triggers=triggers,  # type: ignore[arg-type]
        parameters=spec.parameters,
        description=spec.description,
        tags=list(spec.tags),
        concurrency_limit=payloads.CONCURRENCY_LIMIT,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    deployment.entrypoint = spec.entrypoint
    return deployment


def apply(specs: list[DeploymentSpec], *, prune_tags: tuple[str, ...] | None = None) -> Applied:
    """Create or update each deployment; with `prune_tags`, also delete the deployments carrying those
    tags that `specs` no longer holds (only when `specs` is the whole project)."""
    return asyncio.run(_apply(specs, prune_tags))


async def _apply(specs: list[DeploymentSpec], prune_tags: tuple[str, ...] | None) -> Applied:
    """One client for all: the flows and deployments the server has are read once (`_known`), then
    each deployment is written (`_write`), a few at a time, each request sent again when the server
    was busy (`_again`: Prefect's client's own retries are off meanwhile — it waits 2 s and more, and
    a SQLite-backed server, whose services write too, answers 503 often while 1,000 are written)."""
    from prefect import get_client
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    ids: dict[str, str] = {}
    with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}):
        async with get_client() as client:
            if specs:
                known = await _known(client, specs)
                common = await payloads.shared(specs[0])
                gate = asyncio.Semaphore(PARALLEL)

                async def one(spec: DeploymentSpec) -> None:
                    async with gate:
                        written = await _again(partial(_write, client, spec, common, known))
                        ids[spec.full_name] = str(written)

                await asyncio.gather(*(one(spec) for spec in specs))
            removed: tuple[str, ...] = ()
            if prune_tags is not None:
                removed = await _prune(client, prune_tags, set(ids.values()))
    return Applied({spec.full_name: ids[spec.full_name] for spec in specs}, removed)


@dataclass
class _Known:
    """What the server has of `specs` before applying: flow ids by name, deployments by full name, and
    the deployments some automation runs (a superset of those owning automations: the server does not
    tell which it owns)."""

    flows: dict[str, UUID]
    deployments: dict[str, DeploymentResponse]
    automated: set[UUID]


async def _known(client: PrefectClient, specs: list[DeploymentSpec]) -> _Known:
    """The flows and deployments of `specs` the server already has (a few paged reads, not one per
    deployment)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowFilter,
        FlowFilterId,
        FlowFilterName,
    )

    names = sorted({spec.flow for spec in specs})
    flows: dict[str, UUID] = {}
    for chunk in _chunks(names, PAGE):
        wanted = FlowFilter(name=FlowFilterName(any_=chunk))
        found = await _again(partial(client.read_flows, flow_filter=wanted, limit=PAGE))
        flows |= {flow.name: flow.id for flow in found}
    by_id = {flow_id: name for name, flow_id in flows.items()}
    deployment_names = sorted({spec.name for spec in specs})
    deployments: dict[str, DeploymentResponse] = {}
    # each flow has at most one deployment of each name: a chunk of flows fits in one page
    for chunk_ids in _chunks(sorted(by_id, key=str), max(1, PAGE // len(deployment_names))):
        of_flows = FlowFilter(id=FlowFilterId(any_=chunk_ids))
        named = DeploymentFilter(name=DeploymentFilterName(any_=deployment_names))
        found_deployments = await _again(
            partial(client.read_deployments, flow_filter=of_flows, deployment_filter=named, limit=PAGE)
        )
        deployments |= {f"{by_id[d.flow_id]}/{d.name}": d for d in found_deployments}
    automated: set[UUID] = set()
    offset = 0
    while deployments:  # automations matter only to deployments that exist
        automations = await _again(partial(client.read_automations, limit=PAGE, offset=offset))
        actions = [action for automation in automations for action in automation.actions]
        automated |= {runs for action in actions if (runs := getattr(action, "deployment_id", None))}
        if len(automations) < PAGE:
            break
        offset += PAGE
    return _Known(flows, deployments, automated)


def _chunks(items: list[_T], size: int) -> list[list[_T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _again(send: Callable[[], Awaitable[_T]]) -> _T:
    """`send()`, sent again after a pause while the server answers that it is busy (`server_busy`), for
    up to `BUSY_PATIENCE` seconds; every request of `deploy` may be sent twice: reads, create-or-update,
    deletes."""
    give_up = time.monotonic() + BUSY_PATIENCE
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except Exception as exc:
            pause = _pause(exc, attempt)
            if not server_busy(exc) or time.monotonic() + pause > give_up:
                raise
            await asyncio.sleep(pause)


async def _write(client: PrefectClient, spec: DeploymentSpec, common: payloads.Shared, known: _Known) -> UUID:
    """The calls `RunnerDeployment.aapply` makes, less the look-ups `_known` made for all at once: a new
    deployment (of a flow created if need be) is created; an existing one is updated. Its triggers'
    automations are replaced: a new deployment without triggers owns none to delete (one with triggers
    may, from an earlier attempt of this write that the server failed after making them)."""
    found = known.deployments.get(spec.full_name)
    existing = found.id if found is not None else None
    if found is not None and _settled(spec, common, found, known):
        return found.id
    if existing is None:
        flow_id = known.flows.get(spec.flow)
        if flow_id is None:
            flow_id = known.flows[spec.flow] = await client.create_flow_from_name(spec.flow)
        deployment_id = await client.create_deployment(**payloads.create(spec, common, flow_id))
    else:
        deployment_id = existing
        await client.update_deployment(existing, payloads.update(spec, common))
    if existing is not None or spec.events:
        await client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
    for trigger in payloads.triggers(spec):
        trigger.set_deployment_id(deployment_id)
        await client.create_automation(trigger.as_automation())
    return deployment_id


def _settled(spec: DeploymentSpec, common: payloads.Shared, found: DeploymentResponse, known: _Known) -> bool:
    """Nothing to write: the PATCH would change nothing and no automation may be to drop."""
    return payloads.unchanged(spec, common, found) and found.id not in known.automated


RETRIED_STATUS = {"408", "429", "502", "503"}
"""The answers Prefect's client sends again (its own retries are off while `deploy` writes: `_apply`)."""


def server_busy(exc: BaseException) -> bool:
    """Whether `exc` says the server was too busy to answer, so the same request may be sent again: a
    SQLite-backed Prefect server answers 503 while its database is locked by another write (its own
    services write too), a rate limit 429, a proxy 502 or 408; and on a loaded machine a request can
    outlast the client's timeout (`PREFECT_API_REQUEST_TIMEOUT`) or lose its connection — the errors
    Prefect's client retries. `RunnerDeployment` wraps them in `DeploymentApplyError`, as its cause."""
    import httpx
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.exceptions import PrefectHTTPStatusError

    dropped = httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError | httpx.LocalProtocolError
    if isinstance(exc, httpx.TimeoutException | dropped):
        return True
    if isinstance(exc, PrefectHTTPStatusError):
        return str(exc.response.status_code) in RETRIED_STATUS
    if isinstance(exc, DeploymentApplyError):
        return "503" in str(exc) or (exc.__cause__ is not None and server_busy(exc.__cause__))
    return False


def _pause(exc: BaseException, attempt: int) -> float:
    """Seconds before sending again: what the server asked for (`Retry-After`), else 0.1 s doubling per
    attempt up to `MAX_PAUSE` — a locked SQLite database is most often free again within milliseconds
    (Prefect's client waits 2 s and more from the first retry)."""
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, PrefectHTTPStatusError) and "Retry-After" in exc.response.headers:
        return float(str(exc.response.headers["Retry-After"]))
    return min(MAX_PAUSE, 0.1 * 2.0 ** (attempt - 1))


async def _prune(client: PrefectClient, tags: tuple[str, ...], keep: set[str]) -> tuple[str, ...]:
    """Delete the deployments tagged with all of `tags` whose id is not in `keep`: the server lists
    only those (not the whole project again), a page at a time until none is left."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, DeploymentFilterTags

    stale = DeploymentFilter(
        tags=DeploymentFilterTags(all_=list(tags)),
        id=DeploymentFilterId(not_any_=[UUID(i) for i in keep]),
    )
    removed: list[str] = []
    while batch := await _again(partial(client.read_deployments, deployment_filter=stale, limit=PAGE)):
        for deployment in batch:
            flow = await _again(partial(client.read_flow, deployment.flow_id))
            await _again(partial(_delete, client, deployment.id))
            removed.append(f"{flow.name}/{deployment.name}")
    return tuple(sorted(removed))


async def _delete(client: PrefectClient, deployment_id: UUID) -> None:
    """Delete a deployment; one already gone (an earlier attempt's delete went through) is deleted."""
    from prefect.exceptions import ObjectNotFound

    with suppress(ObjectNotFound):
        await client.delete_deployment(deployment_id)


def serve(
    specs: list[DeploymentSpec], *, prune_tags: tuple[str, ...] | None = None, limit: int | None = None
) -> None:
    """Apply (and prune), then run the deployments' runs from this process until stopped (Ctrl-C)."""
    from prefect import serve as prefect_serve

    apply(specs, prune_tags=prune_tags)
    prefect_serve(*(runner_deployment(spec) for spec in specs), limit=limit)
