"""The scheduler: each poll turns due trigger ticks into runs, each tick exactly once across restarts.

The trigger logic is pure (`datakit.orchestrate.triggers`); this module adds the state it needs, kept in
the state store so that a killed scheduler resumes where it stopped:

- a **cursor** per trigger (`cursors` table): the scheduled time of the latest tick handled (cron,
  interval), or the end of the latest upstream run looked at (job events). A trigger seen for the first
  time gets the current time, so a new schedule starts from now instead of replaying history; after
  downtime the cursor is old, and `catchup` decides what the missed ticks become.
- the **tick key** (`ticks` table), recorded in the transaction that creates the run: a tick the store
  already has raises `TickFired` and starts nothing.

The order of the two writes is what makes a kill harmless: the run (with its tick) is committed first,
then the cursor moves. Killed in between, the restarted scheduler computes the same tick again, its key
is already there, and only the cursor moves. Killed before the run commits, the cursor has not moved
and the tick is computed again. No tick is lost and none is doubled.

Paused triggers (`datakit trigger pause`, the triggers page; kept in the store) start nothing: a paused
clock or job-event trigger's ticks pass (its cursor moves), so unpausing does not replay the pause as a
catch-up; a paused file trigger is not polled, so the files that arrived meanwhile fire once it is
unpaused. Pausing `nightly` pauses each tenant's `nightly.<warehouse>` too.

File arrivals need no cursor: every present file is offered on each poll and the tick key (path, size,
mtime) drops the ones already fired. Webhooks are not polled; `hooks.py` starts their runs directly.

Tenants. A trigger of a job that warehouses list fires once per such tenant, as the tenant runs it (its
`schedules:` override applied, or turned off): trigger `nightly` becomes `nightly.acme` and
`nightly.globex` (a dot, which names cannot contain), each with its own cursor and tick keys
(`nightly.acme@2026-03-29T01:00:00Z`) and each run recorded for its warehouse. A job event fires in the
tenant whose upstream run ended (or in every tenant, for a run without one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from datakit.config.models.triggers import (
    CronTrigger,
    EventTrigger,
    FileEvent,
    IntervalTrigger,
    JobEvent,
    Trigger,
)
from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.store import AlreadyRunning, StateStore, TickFired
from datakit.orchestrate.triggers import FileWatch, Tick, due_all, job_event_ticks

log = get_logger(__name__)

Launch = Callable[[Tick, str | None], int]
"""Starts the tick's job (for a warehouse, or None) and returns the run id once the run and its tick key
are committed; raises TickFired or AlreadyRunning when it started nothing. The run goes on in the
background."""


def tenant_triggers(project: Project) -> dict[str, tuple[Trigger, str | None]]:
    """Every trigger as it fires: by its firing name, the trigger (tenant overrides applied) and the
    warehouse it runs for (None for a job no warehouse lists)."""
    from datakit.config.tenancy import tenant_context, tenants_running

    found: dict[str, tuple[Trigger, str | None]] = {}
    for trigger in project.triggers.values():
        job = project.resolve_name("job", trigger.job)
        tenants = tenants_running(project, job) if job is not None else []
        if not tenants:
            found[trigger.name] = (trigger, None)
        for warehouse in tenants:
            effective = tenant_context(project, warehouse).trigger(trigger)
            if effective is not None:
                name = f"{trigger.name}.{warehouse}"
                found[name] = (effective.model_copy(update={"name": name}), warehouse)
    return found


def is_paused(firing: str, paused: set[str]) -> bool:
    """Whether trigger `firing` (`nightly`, or a tenant's `nightly.acme`) is paused, itself or its base."""
    return firing in paused or firing.split(".", 1)[0] in paused


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Fired:
    """What one tick became: a run, or the reason it started none."""

    tick: Tick
    run_id: int | None
    skipped: str | None = None


@dataclass
class Scheduler:
    """Polls the project's triggers; `poll()` once per tick of the daemon's loop (`run_forever`)."""

    project: Project
    store: StateStore
    launch: Launch
    clock: Callable[[], datetime] = utc_now
    _watches: dict[str, FileWatch] = field(default_factory=dict, init=False)
    _targets: dict[str, tuple[Trigger, str | None]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._targets = tenant_triggers(self.project)
        for name, (trigger, _) in self._targets.items():
            if isinstance(trigger, EventTrigger) and isinstance(trigger.event, FileEvent):
                self._watches[name] = FileWatch(trigger, self.project.root)

    def poll(self) -> list[Fired]:
        """Fire every tick due now; returns what each became (for logs and tests)."""
        now = self.clock()
        cursors = self._cursors(now)
        paused = set(self.store.paused_triggers())
        fired = []
        for tick in due_all(self._clocked(), cursors, now):
            fired.append(Fired(tick, None, "paused") if is_paused(tick.trigger, paused) else self._fire(tick))
            self.store.set_cursor(tick.trigger, tick.at.timestamp())
        fired.extend(self._job_events(cursors, paused))
        for name, watch in self._watches.items():
            if not is_paused(name, paused):
                fired.extend(self._fire(tick) for tick in watch.poll(now))
        return fired

    def run_forever(self, stop: threading.Event, every: float = 1.0) -> None:
        """Poll until `stop` is set; an error in one poll is logged and the next poll tries again."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the daemon outlives a bad poll (a locked store, a vanished folder)
                log.error("scheduler poll failed: %s", exc)
            stop.wait(every)

    def _clocked(self) -> list[Trigger]:
        return [t for t, _ in self._targets.values() if isinstance(t, CronTrigger | IntervalTrigger)]

    def _job_triggers(self) -> list[EventTrigger]:
        return [
            t
            for t, _ in self._targets.values()
            if isinstance(t, EventTrigger) and isinstance(t.event, JobEvent) and t.enabled
        ]

    def _cursors(self, now: datetime) -> dict[str, datetime]:
        """Every polled trigger's cursor; a trigger seen for the first time starts at `now`."""
        stored = self.store.get_cursors()
        cursors = {}
        for trigger in [*self._clocked(), *self._job_triggers()]:
            if trigger.name not in stored:
                self.store.set_cursor(trigger.name, now.timestamp())
                stored[trigger.name] = now.timestamp()
            cursors[trigger.name] = datetime.fromtimestamp(stored[trigger.name], UTC)
        return cursors

    def _job_events(self, cursors: dict[str, datetime], paused: set[str]) -> list[Fired]:
        """Runs that ended since each job-event trigger's cursor fire it (from any process's runs)."""
        triggers = self._job_triggers()
        if not triggers:
            return []
        fired: list[Fired] = []
        oldest = min(cursors[t.name] for t in triggers)
        for run in self.store.finished_since(oldest.timestamp()):
            assert run.finished_at is not None
            ended = datetime.fromtimestamp(run.finished_at, UTC)
            for trigger in triggers:
                if ended <= cursors[trigger.name]:
                    continue
                warehouse = self._targets[trigger.name][1]
                # a tenant's run fires its own tenant's followers only
                if run.warehouse is None or warehouse == run.warehouse:
                    ticks = job_event_ticks([trigger], run.job, run.status, run.id, ended, self._resolve_job)
                    if is_paused(trigger.name, paused):
                        fired.extend(Fired(tick, None, "paused") for tick in ticks)
                    else:
                        fired.extend(self._fire(tick) for tick in ticks)
                self.store.set_cursor(trigger.name, run.finished_at)
                cursors[trigger.name] = ended
        return fired

    def _resolve_job(self, ref: str) -> str | None:
        return self.project.resolve_name("job", ref)

    def _fire(self, tick: Tick) -> Fired:
        try:
            run_id = self.launch(tick, self._targets.get(tick.trigger, (None, None))[1])
        except TickFired:
            return Fired(tick, None, "already fired")
        except AlreadyRunning as exc:
            log.warning(
                "trigger %s: job %s is already running (run %d); tick %s skipped",
                tick.trigger,
                tick.job,
                exc.run_id,
                tick.key,
            )
            return Fired(tick, None, f"already running: run {exc.run_id}")
        except DatakitError as exc:  # a broken job (config, plan) must not stop the other triggers
            log.error("trigger %s could not start job %s: %s", tick.trigger, tick.job, exc)
            return Fired(tick, None, f"failed to start: {exc}")
        # any other error (the store unreachable, say) propagates: the cursor does not move, and the
        # next poll offers the tick again
        log.info("trigger %s started run %d of job %s (%s)", tick.trigger, run_id, tick.job, tick.key)
        return Fired(tick, run_id)
