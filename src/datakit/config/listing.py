"""A structured description of a project, for `datakit list` (text and JSON) and for Python callers."""

from __future__ import annotations

from typing import Any

from datakit.config.models import Job
from datakit.config.models.common import format_duration
from datakit.config.models.triggers import CronTrigger, EventTrigger, IntervalTrigger, WebhookTrigger
from datakit.config.project import Project
from datakit.config.references import referenced_secrets
from datakit.errors import display_path


def describe_project(project: Project) -> dict[str, Any]:
    """Every object of the project with the facts a listing shows; plain JSON-ready data."""
    return {
        "project": project.config.name,
        "environment": project.environment,
        "root": str(project.root),
        "sources": [
            {
                "name": s.name,
                "type": s.type,
                "resources": [r.name for r in s.resources],
                "file": _file(project, "source", s.name),
            }
            for s in project.sources.values()
        ],
        "destinations": [
            {
                "name": d.name,
                "type": d.type,
                "target": d.target(),
                "file": _file(project, "destination", d.name),
            }
            for d in project.destinations.values()
        ],
        "pipelines": [
            {
                "name": p.name,
                "source": project.resolve_name("source", p.source.ref) or p.source.ref,
                "destination": project.resolve_name("destination", p.destination.ref) or p.destination.ref,
                "layer": p.destination.layer,
                "resources": list(p.source.resources) or "all",
                "file": _file(project, "pipeline", p.name),
            }
            for p in project.pipelines.values()
        ],
        "jobs": [_job(project, j) for j in project.jobs.values()],
        "triggers": [
            {
                "name": t.name,
                "type": t.type,
                "enabled": t.enabled,
                "job": project.resolve_name("job", t.job) or t.job,
                "schedule": _schedule(t),
                "file": _file(project, "trigger", t.name),
            }
            for t in project.triggers.values()
        ],
        "warehouses": [
            {
                "name": w.name,
                "destinations": [project.resolve_name("destination", d) or d for d in w.destinations],
                "jobs": [project.resolve_name("job", j) or j for j in w.jobs],
                "schema_prefix": w.schema_prefix or "",
                "state_schema": (w.schema_prefix or "") + "_datakit",
                "variables": dict(w.variables),
                "secrets": dict(w.secrets),  # key names only: which key the tenant uses for which
                "schedules": {
                    trigger: override.model_dump(mode="json", exclude_none=True)
                    for trigger, override in w.schedules.items()
                },
                "file": _file(project, "warehouse", w.name),
            }
            for w in project.warehouses.values()
        ],
        "check_suites": [
            {
                "name": c.name,
                "destination": project.resolve_name("destination", c.destination) or c.destination,
                "severity": c.severity,
                "tables": list(c.tables),
                "checks": sum(len(check.labels()) for _, check in c.checks()),
                "file": _file(project, "checks", c.name),
            }
            for c in project.check_suites.values()
        ],
        "targets": [
            {
                "name": t.name,
                "table": f"{t.datakit}.{t.table}",
                "provenance": t.provenance,
                "key_collisions": t.key_collisions,
                "pipelines": [project.resolve_name("pipeline", p) or p for p in t.pipelines],
                "file": _file(project, "target", t.name),
            }
            for t in project.targets.values()
        ],
        "secrets": [
            {
                "key": key,
                "env_var": spec.env_var_for(project.environment),
                "required": spec.required,
                "used_by": [f"{kind} {name}" for kind, name in referenced_secrets(project).get(key, [])],
            }
            for key, spec in sorted(project.secrets.items())
        ],
    }


def _job(project: Project, job: Job) -> dict[str, Any]:
    return {
        "name": job.name,
        "mode": job.execution.mode,
        "max_parallelism": job.execution.max_parallelism,
        "pipelines": [p.name for p in job.enabled_pipelines],
        "steps": [s.step_name for s in job.enabled_steps],
        "file": _file(project, "job", job.name),
    }


def _schedule(trigger: Any) -> str | None:
    if isinstance(trigger, CronTrigger):
        return f"{trigger.schedule.cron} ({trigger.schedule.timezone})"
    if isinstance(trigger, IntervalTrigger):
        return f"every {format_duration(trigger.schedule.every)}"
    if isinstance(trigger, EventTrigger):
        event = trigger.event
        return f"on {event.type} of {event.job}" if hasattr(event, "job") else f"on file in {event.path}"
    if isinstance(trigger, WebhookTrigger):
        return f"POST /hooks/{trigger.name}"
    return None


def _file(project: Project, kind: str, name: str) -> str:
    return display_path(project.origins[(kind, name)].file)
