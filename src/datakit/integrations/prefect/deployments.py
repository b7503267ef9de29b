"""The project's jobs -> Prefect deployments, as plain data (no Prefect import: fast, and testable alone).

One deployment per (warehouse, job), named `<project>-<environment>` under its flow
(`datakit__<warehouse>__<job>`), so several projects and environments share one Prefect server. From the
job's enabled triggers (with the warehouse's `schedules:` overrides):

* each cron trigger is a cron schedule in its time zone, each interval trigger an interval schedule
  anchored at its `start_at` (Prefect takes several schedules per deployment: none is dropped);
* a job event (`job_succeeded` / `job_failed` / `job_finished` of another job) is a deployment trigger
  on the upstream flow's run events (`prefect.flow-run.Completed`, `.Failed`/`.Crashed`, any end), in
  the same warehouse, as `datakit serve` fires them;
* a manual trigger needs nothing (any deployment can be run by hand); webhooks and file arrivals are
  `datakit serve`'s: they are not deployed, and a warning says so, as does `catchup` (Prefect runs the
  runs that became late while no runner was up, all of them).

Tags (`datakit`, `datakit-project:<name>`, `datakit-env:<environment>`, the warehouse, the job's and its
triggers' tags) are how `deploy` knows which deployments it made: only those are ever removed.
Parameters: where the project is and which environment (`project_root`, `environment`), and what a run
of the job takes (`full_refresh`, `resume`, and a selection given to `deploy --select/--exclude`; a run
started from Prefect's UI may set those and a backfill window too: `plans.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.config.models.triggers import (
    CronTrigger,
    EventTrigger,
    FileEvent,
    IntervalTrigger,
    WebhookTrigger,
)
from datakit.config.tenancy import (
    ALL,
    tenant_context,
    tenants_running,
    warehouse_jobs,
    warehouse_variables_used,
)
from datakit.integrations.prefect.flows import entrypoint, flow_name

if TYPE_CHECKING:
    from datakit.config.models.triggers import Trigger
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant
    from datakit.integrations.prefect.plans import FlowOptions

EVENTS = {
    "job_succeeded": ("prefect.flow-run.Completed",),
    "job_failed": ("prefect.flow-run.Failed", "prefect.flow-run.Crashed"),
    "job_finished": (
        "prefect.flow-run.Completed",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Crashed",
        "prefect.flow-run.Cancelled",
    ),
}
"""Prefect's flow-run events for each kind of datakit job event."""


@dataclass(frozen=True)
class CronSpec:
    cron: str
    timezone: str


@dataclass(frozen=True)
class IntervalSpec:
    seconds: float
    anchor: str | None
    """ISO timestamp of a tick (the trigger's `start_at`), or None: Prefect anchors at its own default."""


@dataclass(frozen=True)
class EventSpec:
    trigger: str
    upstream_flow: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment, as `deploy` will create or update it."""

    warehouse: str | None
    job: str
    flow: str
    name: str
    entrypoint: str
    description: str
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    crons: tuple[CronSpec, ...] = ()
    intervals: tuple[IntervalSpec, ...] = ()
    events: tuple[EventSpec, ...] = ()
    triggers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def full_name(self) -> str:
        """`<flow>/<deployment>`: how Prefect's CLI and UI name it."""
        return f"{self.flow}/{self.name}"


def deployment_name(project: Project) -> str:
    return f"{project.config.name}-{project.environment}"


def ownership_tags(project: Project) -> tuple[str, ...]:
    """The tags every deployment of this project and environment carries (and `prune` looks for)."""
    return ("datakit", f"datakit-project:{project.config.name}", f"datakit-env:{project.environment}")


def deployment_specs(
    project: Project,
    *,
    warehouse: str = ALL,
    job: str | None = None,
    project_root: Path | None = None,
    chosen: FlowOptions | None = None,
) -> list[DeploymentSpec]:
    """The deployments of `warehouse_jobs(project, warehouse, job)`; `project_root`: the project's path as the
    runner sees it (default: this one's, absolute); `chosen`: a selection each deployment's runs make
    (its parameters' defaults, `plans.py`)."""
    root = str(project_root or project.root.resolve())
    given = chosen.parameters() if chosen is not None else {}
    return [_spec(project, w, j, root, given) for w, j in warehouse_jobs(project, warehouse, job)]


def _spec(
    project: Project, warehouse: str | None, job: str, root: str, given: dict[str, Any]
) -> DeploymentSpec:
    tenant = tenant_context(project, warehouse)
    config = project.job(job)
    triggers = _job_triggers(project, job, tenant)
    crons: list[CronSpec] = []
    intervals: list[IntervalSpec] = []
    events: list[EventSpec] = []
    warnings: list[str] = []
    tags = [*ownership_tags(project), *([warehouse] if warehouse else []), *config.tags]
    for trigger in triggers:
        tags.extend(trigger.tags)
        if isinstance(trigger, CronTrigger):
            crons.append(CronSpec(trigger.schedule.cron, trigger.schedule.timezone))
        elif isinstance(trigger, IntervalTrigger):
            start = trigger.schedule.start_at
            intervals.append(
                IntervalSpec(trigger.schedule.every.total_seconds(), start.isoformat() if start else None)
            )
        elif isinstance(trigger, WebhookTrigger):
            warnings.append(
                f"trigger {trigger.name!r} (webhook) is not deployed: start runs through Prefect's API "
                "(`prefect deployment run`), or let `datakit serve` receive the webhook"
            )
        elif isinstance(trigger, EventTrigger):
            event = _event(project, tenant, trigger, warnings)
            if event is not None:
                events.append(event)
        if isinstance(trigger, CronTrigger | IntervalTrigger) and trigger.schedule.catchup:
            warnings.append(
                f"trigger {trigger.name!r}: catchup/max_catchup have no Prefect equivalent (a runner "
                "that was down runs every late run when it returns)"
            )
    where = f"warehouse {warehouse}" if warehouse else "the project itself"
    description = f"datakit job {job} for {where} ({project.environment})."
    if config.description:
        description += f" {config.description}"
    name = flow_name(warehouse, job)
    return DeploymentSpec(
        warehouse=warehouse,
        job=job,
        flow=name,
        name=deployment_name(project),
        entrypoint=entrypoint(warehouse, job),
        description=description,
        parameters={
            "project_root": root,
            "environment": project.environment,
            "full_refresh": False,
            "resume": None,
            **given,
        },
        tags=tuple(dict.fromkeys(tags)),
        crons=tuple(crons),
        intervals=tuple(intervals),
        events=tuple(events),
        triggers=tuple(sorted(t.name for t in triggers)),
        warnings=tuple(f"{name}: {w}" for w in warnings),
    )


def _job_triggers(project: Project, job: str, tenant: Tenant) -> list[Trigger]:
    """The enabled triggers of `job`, as the tenant runs them (its `schedules:` overrides applied)."""
    found: list[Trigger] = []
    for trigger in sorted(project.triggers.values(), key=lambda t: t.name):
        if (project.resolve_name("job", trigger.job) or trigger.job) != job:
            continue
        effective = tenant.trigger(trigger)
        if effective is not None:
            found.append(effective)
    return found


def _event(project: Project, tenant: Tenant, trigger: EventTrigger, warnings: list[str]) -> EventSpec | None:
    """A job event as a trigger on the upstream flow (of the same warehouse), or a warning."""
    event = trigger.event
    if isinstance(event, FileEvent):
        warnings.append(
            f"trigger {trigger.name!r} (file_arrived) is not deployed: let `datakit serve` watch the folder, "
            "or start runs from a Prefect automation of your own"
        )
        return None
    upstream = project.resolve_name("job", event.job) or event.job
    if tenant.name is not None and upstream not in tenant.jobs:
        warnings.append(f"trigger {trigger.name!r}: warehouse {tenant.name!r} does not run job {upstream!r}")
        return None
    if tenant.name is None and warehouse_variables_used(project, upstream):
        runners = ", ".join(tenants_running(project, upstream)) or "none"
        warnings.append(f"trigger {trigger.name!r}: job {upstream!r} runs only in warehouses ({runners})")
        return None
    return EventSpec(trigger.name, flow_name(tenant.name, upstream), EVENTS[event.type])
