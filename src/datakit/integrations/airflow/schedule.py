"""A job's triggers -> the schedule of its Airflow DAG, as Python source for the generated file.

Airflow has one `schedule` per DAG, so the enabled triggers of a job (with a tenant's overrides) are
folded into one: a cron trigger becomes a `CronTriggerTimetable` in its time zone (several crons in one
zone a `MultipleCronTriggerTimetable`), an interval trigger a `DeltaTriggerTimetable`, a
`job_succeeded` event the upstream DAG's asset (`datakit://<warehouse>/<job>`, emitted when that DAG
succeeds), and time plus assets an `AssetOrTimeSchedule`. Manual triggers need nothing (any DAG can be
triggered by hand). What Airflow cannot express — file arrivals, webhooks, `job_failed` /
`job_finished` events — is reported as a warning and written as a comment in the file, never silently
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datakit.config.models.triggers import (
    CronTrigger,
    EventTrigger,
    FileEvent,
    IntervalTrigger,
    ManualTrigger,
    WebhookTrigger,
)
from datakit.config.tenancy import tenants_running

if TYPE_CHECKING:
    from datakit.config.models.triggers import Trigger
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant


@dataclass(frozen=True)
class DagSchedule:
    """What the generated DAG's `schedule=`, `catchup=` and `start_date=` say, and what was left out."""

    expression: str
    """Python source of the `schedule=` argument (`None` for manual-only DAGs)."""
    names: tuple[str, ...] = ()
    """Names it needs from `airflow.sdk` (timetables, `Asset`, `AssetAny`...)."""
    catchup: bool = False
    start_date: str | None = None
    """ISO timestamp of the first interval tick (an interval trigger's `start_at`)."""
    unsupported: tuple[str, ...] = ()
    """One sentence per trigger (or setting) Airflow compile cannot express."""
    triggers: tuple[str, ...] = field(default=())
    """The names of the triggers folded in, for the file's header."""


def asset_uri(namespace: str, job: str) -> str:
    """The asset a DAG emits when its run succeeds; DAGs of dependent jobs are scheduled on it."""
    return f"datakit://{namespace}/{job}"


def job_triggers(project: Project, job: str, tenant: Tenant) -> list[Trigger]:
    """The enabled triggers of `job`, with the tenant's schedule overrides applied."""
    found: list[Trigger] = []
    for trigger in project.triggers.values():
        if (project.resolve_name("job", trigger.job) or trigger.job) != job:
            continue
        effective = tenant.trigger(trigger)
        if effective is not None:
            found.append(effective)
    return found


def dag_schedule(project: Project, job: str, tenant: Tenant, namespace: str) -> DagSchedule:
    """Fold the job's triggers into one Airflow schedule (see the module docstring)."""
    triggers = job_triggers(project, job, tenant)
    crons = [t for t in triggers if isinstance(t, CronTrigger)]
    intervals = [t for t in triggers if isinstance(t, IntervalTrigger)]
    unsupported: list[str] = []
    assets: list[str] = []
    for trigger in triggers:
        if isinstance(trigger, WebhookTrigger):
            unsupported.append(
                f"trigger {trigger.name!r} (webhook) is not supported by Airflow compile: "
                "trigger the DAG through Airflow's REST API instead"
            )
        elif isinstance(trigger, EventTrigger) and isinstance(trigger.event, FileEvent):
            unsupported.append(
                f"trigger {trigger.name!r} (file_arrived) is not supported by Airflow compile: "
                "use an Airflow sensor or asset watcher in a DAG of your own"
            )
        elif isinstance(trigger, EventTrigger):
            event = trigger.event
            assert not isinstance(event, FileEvent)
            upstream = project.resolve_name("job", event.job) or event.job
            if event.type != "job_succeeded":
                unsupported.append(
                    f"trigger {trigger.name!r} ({event.type}) is not supported by Airflow compile: "
                    "Airflow assets are emitted on success only"
                )
            elif tenant.name is not None and upstream not in tenant.jobs:
                unsupported.append(
                    f"trigger {trigger.name!r}: warehouse {tenant.name!r} does not run job {upstream!r}, "
                    "so its asset is never emitted"
                )
            elif tenant.name is None and tenants_running(project, upstream):
                unsupported.append(
                    f"trigger {trigger.name!r}: job {upstream!r} runs only in warehouses "
                    f"({', '.join(tenants_running(project, upstream))}), so the project's own asset "
                    f"{asset_uri(namespace, upstream)} is never emitted"
                )
            else:
                assets.append(asset_uri(namespace, upstream))
        else:
            assert isinstance(trigger, CronTrigger | IntervalTrigger | ManualTrigger)

    names: set[str] = set()
    timetable, start_date = _timetable(crons, intervals, names, unsupported)
    catchup = any(t.schedule.catchup for t in crons) or any(t.schedule.catchup for t in intervals)
    if catchup:
        unsupported.append("max_catchup has no Airflow equivalent: Airflow catches up every missed run")
    expression = _combine(timetable, sorted(set(assets)), names)
    return DagSchedule(
        expression=expression,
        names=tuple(sorted(names)),
        catchup=catchup,
        start_date=start_date,
        unsupported=tuple(unsupported),
        triggers=tuple(sorted(t.name for t in triggers)),
    )


def _timetable(
    crons: list[CronTrigger], intervals: list[IntervalTrigger], names: set[str], unsupported: list[str]
) -> tuple[str | None, str | None]:
    """Source of the timetable for the time-based triggers, and the start date it needs."""
    if crons and intervals:
        unsupported.extend(
            f"trigger {t.name!r} (interval) is ignored: Airflow has one timetable per DAG and "
            "this job also has a cron trigger"
            for t in intervals
        )
        intervals = []
    if crons:
        zones = {t.schedule.timezone for t in crons}
        if len(zones) > 1:
            first = crons[0].schedule.timezone
            unsupported.extend(
                f"trigger {t.name!r} is ignored: its time zone differs from {first!r} "
                "(Airflow needs one time zone per DAG)"
                for t in crons
                if t.schedule.timezone != first
            )
            crons = [t for t in crons if t.schedule.timezone == first]
        zone = crons[0].schedule.timezone
        if len(crons) == 1:
            names.add("CronTriggerTimetable")
            return f"CronTriggerTimetable({crons[0].schedule.cron!r}, timezone={zone!r})", None
        names.add("MultipleCronTriggerTimetable")
        expressions = ", ".join(repr(t.schedule.cron) for t in crons)
        return f"MultipleCronTriggerTimetable({expressions}, timezone={zone!r})", None
    if intervals:
        unsupported.extend(
            f"trigger {t.name!r} (interval) is ignored: Airflow has one timetable per DAG"
            for t in intervals[1:]
        )
        schedule = intervals[0].schedule
        names.add("DeltaTriggerTimetable")
        start = schedule.start_at.isoformat() if schedule.start_at is not None else None
        return f"DeltaTriggerTimetable(timedelta(seconds={schedule.every.total_seconds()!r}))", start
    return None, None


def _combine(timetable: str | None, assets: list[str], names: set[str]) -> str:
    if not assets:
        return timetable or "None"
    names.add("Asset")
    listed = ", ".join(f"Asset(uri={uri!r})" for uri in assets)
    if len(assets) > 1:  # datakit fires on each event: OR, not Airflow's default AND of a list
        names.add("AssetAny")
        condition = f"AssetAny({listed})"
    else:
        condition = f"[{listed}]"
    if timetable is None:
        return condition
    names.add("AssetOrTimeSchedule")
    return f"AssetOrTimeSchedule(timetable={timetable}, assets={condition})"
