"""Deployment specs -> what Prefect's client sends to create or update them (no RunnerDeployment).

`deploy` used `RunnerDeployment.from_flow(...).aapply()` per deployment: each built a Prefect flow (a
file hash, two parameter schemas), ran git to infer the version, opened a client of its own and looked
the deployment up by name — about 2 s per deployment with four at a time against a SQLite-backed
server, most of it waiting on the server. Here the parts every deployment shares are made once
(`Shared`: the job flows' parameter schema — one signature for all — and the version), each distinct
schedule is validated once (Prefect's schedule models scan the time-zone database on every
validation), and the payloads are those `RunnerDeployment` sends: `create` for a new deployment,
`update` (its PATCH) for an existing one, so a deployment ends up the same either way — and none
for one that already is what the PATCH would make of it (`unchanged`: deploying again costs reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from datakit.integrations.prefect.deployments import CronSpec, DeploymentSpec, IntervalSpec
from datakit.integrations.prefect.flows import job_flow

if TYPE_CHECKING:
    from prefect.client.schemas.actions import DeploymentScheduleCreate, DeploymentUpdate
    from prefect.client.schemas.objects import DeploymentSchedule, VersionInfo
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.events import DeploymentEventTrigger

CONCURRENCY_LIMIT = 1
"""One active run of a job per warehouse, as everywhere in datakit."""
ENFORCE_PARAMETER_SCHEMA = True
"""`RunnerDeployment.from_flow`'s default: a run's parameters are checked against the flow's."""


@dataclass(frozen=True)
class Shared:
    """What every deployment of one `deploy` has in common."""

    parameter_schema: dict[str, Any]
    version: str
    version_info: VersionInfo


async def shared(spec: DeploymentSpec) -> Shared:
    """The parameter schema and version of the job flows (one signature, one source file: the same
    for all), with the version Prefect infers from the environment (git, a CI's variables) when it can,
    as `RunnerDeployment.aapply` does."""
    from prefect.client.schemas.objects import VersionInfo
    from prefect.utilities.callables import parameter_schema

    flow = job_flow(spec.warehouse, spec.job, spec.description)
    schema = parameter_schema(flow).model_dump(exclude_unset=True)
    inferred = await _inferred_version()
    if inferred is not None:
        return Shared(schema, inferred.version, inferred)
    version = flow.version or ""
    return Shared(schema, version, VersionInfo(version=version, type="prefect:simple"))


async def _inferred_version() -> VersionInfo | None:
    """Prefect's own inference (its internal module: without it, the flow's version is the version)."""
    try:
        from prefect._internal.versioning import get_inferred_version_info
    except ImportError:  # pragma: no cover - a Prefect that moved it
        return None
    return await get_inferred_version_info(None)


def schedules(spec: DeploymentSpec) -> list[DeploymentScheduleCreate]:
    """The deployment's schedules: its crons, then its intervals."""
    return [_cron(c) for c in spec.crons] + [_interval(i) for i in spec.intervals]


@cache
def _cron(spec: CronSpec) -> DeploymentScheduleCreate:
    from prefect.deployments.schedules import create_deployment_schedule_create
    from prefect.schedules import Cron

    return create_deployment_schedule_create(Cron(spec.cron, timezone=spec.timezone))


@cache
def _interval(spec: IntervalSpec) -> DeploymentScheduleCreate:
    from prefect.deployments.schedules import create_deployment_schedule_create
    from prefect.schedules import Interval

    anchor = datetime.fromisoformat(spec.anchor) if spec.anchor else None
    interval = Interval(timedelta(seconds=spec.seconds), anchor_date=anchor, timezone="UTC")
    return create_deployment_schedule_create(interval)


def triggers(spec: DeploymentSpec) -> list[DeploymentEventTrigger]:
    """The deployment's event triggers (automations once given the deployment's id)."""
    from prefect.events import DeploymentEventTrigger

    return [
        DeploymentEventTrigger(
            name=f"{e.trigger}: after {e.upstream_flow}",
            expect=set(e.events),
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": e.upstream_flow},
        )
        for e in spec.events
    ]


def create(spec: DeploymentSpec, common: Shared, flow_id: UUID) -> dict[str, Any]:
    """Keyword arguments of `PrefectClient.create_deployment` for a new deployment."""
    return {
        "flow_id": flow_id,
        "name": spec.name,
        "version": common.version,
        "version_info": common.version_info,
        "paused": False,
        "schedules": schedules(spec),
        "concurrency_limit": CONCURRENCY_LIMIT,
        "concurrency_options": None,
        "parameters": spec.parameters,
        "description": spec.description,
        "tags": list(spec.tags),
        "path": None,
        "entrypoint": spec.entrypoint,
        "storage_document_id": None,
        "infrastructure_document_id": None,
        "parameter_openapi_schema": common.parameter_schema,
        "enforce_parameter_schema": ENFORCE_PARAMETER_SCHEMA,
    }


def update(spec: DeploymentSpec, common: Shared) -> DeploymentUpdate:
    """The PATCH of an existing deployment: the fields `RunnerDeployment` sets (work pool, queue and
    path are left as they are)."""
    from prefect.client.schemas.actions import DeploymentUpdate

    return DeploymentUpdate(
        version=common.version,
        version_info=common.version_info,
        description=spec.description,
        tags=list(spec.tags),
        schedules=[s.model_dump(mode="json", exclude_unset=True) for s in schedules(spec)],  # type: ignore[misc]
        concurrency_limit=CONCURRENCY_LIMIT,
        concurrency_options=None,
        paused=False,
        parameters=spec.parameters,
        entrypoint=spec.entrypoint,
        enforce_parameter_schema=ENFORCE_PARAMETER_SCHEMA,
        job_variables={},
        pull_steps=None,
        parameter_openapi_schema=common.parameter_schema,
    )


def unchanged(spec: DeploymentSpec, common: Shared, existing: DeploymentResponse) -> bool:
    """Whether `existing` already is what `update` would make of it (its PATCH would change nothing).
    Triggers are not compared: a deployment with triggers is always written (its automations remade)."""
    limit = existing.global_concurrency_limit
    info = existing.version_info  # None from a server that does not keep it (Prefect's own, 3.7)
    return (
        not spec.events
        and existing.version == common.version
        and (info is None or info.model_dump(mode="json") == common.version_info.model_dump(mode="json"))
        and existing.description == spec.description
        and existing.tags == list(spec.tags)
        and existing.parameters == spec.parameters
        and existing.entrypoint == spec.entrypoint
        and existing.paused is False
        and existing.enforce_parameter_schema is ENFORCE_PARAMETER_SCHEMA
        and existing.job_variables == {}
        and not existing.pull_steps  # the PATCH's None is kept as []
        and existing.concurrency_options is None
        and limit is not None
        and limit.limit == CONCURRENCY_LIMIT
        and existing.parameter_openapi_schema == common.parameter_schema
        and sorted(map(_schedule, existing.schedules)) == sorted(map(_schedule, schedules(spec)))
    )


def _schedule(schedule: DeploymentSchedule | DeploymentScheduleCreate) -> str:
    """A schedule's fields that `update` sets, comparable between the server's and ours (as JSON: the
    server lists a deployment's schedules in an order of its own)."""
    fields = (schedule.active, schedule.max_scheduled_runs, schedule.parameters, schedule.slug)
    return json.dumps([schedule.schedule.model_dump(mode="json"), *fields], sort_keys=True)
