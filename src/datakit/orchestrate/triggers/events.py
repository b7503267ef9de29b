"""Job events: which triggers a finished run fires (`job_succeeded`, `job_failed`, `job_finished`).

A pure function of the finished run; the tick key names the upstream run (`<trigger>@run:<id>`), so a
scheduler that looks at the same finished run twice — after a restart, say — still starts one run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from datakit.config.models.triggers import EventTrigger, JobEvent, Trigger
from datakit.orchestrate.triggers.ticks import Tick, require_aware

# The run history's `RunStatus` values (a StrEnum, so its members match these strings).
SUCCEEDED = frozenset({"succeeded"})
FAILED = frozenset({"failed", "abandoned"})
"""A run whose process died (abandoned) failed as far as its followers are concerned."""
RUNNING = "running"


def fires_on(event: JobEvent, status: str) -> bool:
    """Whether a run ending with `status` is the kind of ending `event` waits for."""
    if event.type == "job_succeeded":
        return status in SUCCEEDED
    if event.type == "job_failed":
        return status in FAILED
    return status != RUNNING  # job_finished: any end


def job_event_ticks(
    triggers: Iterable[Trigger],
    job: str,
    status: str,
    run_id: str | int,
    finished_at: datetime,
    resolve_job: Callable[[str], str | None] | None = None,
) -> list[Tick]:
    """The ticks a finished run of `job` fires, one per matching enabled event trigger.

    `resolve_job` turns a trigger's job reference (a name, or a file name like `daily.yaml`) into the
    job's name — pass `lambda ref: project.resolve_name("job", ref)`; without it references are names.
    """
    at = require_aware(finished_at, "finished_at")
    resolve = resolve_job or (lambda ref: ref)
    ticks = []
    for trigger in triggers:
        if not (isinstance(trigger, EventTrigger) and trigger.enabled):
            continue
        event = trigger.event
        if isinstance(event, JobEvent) and resolve(event.job) == job and fires_on(event, status):
            key = f"{trigger.name}@run:{run_id}"
            ticks.append(Tick(trigger.name, trigger.job, at, key, event.type, detail=f"{job} run {run_id}"))
    return ticks
