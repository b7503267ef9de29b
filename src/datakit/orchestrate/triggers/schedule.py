"""Which scheduled ticks are due: pure functions of (trigger, cursor, now), the scheduler's whole logic.

The cursor (`last_tick`) is the scheduled time of the trigger's latest recorded tick — or, before its
first, the time the scheduler first saw the trigger (record it: it anchors catch-up and the interval
grid). `due` returns the ticks in (last_tick, now], and after recording them the cursor becomes
`ticks[-1].at`. After downtime, `catchup: false` returns only the most recent missed tick and
`catchup: true` the `max_catchup` most recent ones; older missed ticks are skipped for good, because
the cursor moves past them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from datakit.config.models.triggers import CronTrigger, IntervalTrigger, Trigger
from datakit.orchestrate.triggers import cron, interval
from datakit.orchestrate.triggers.ticks import Cause, Tick, require_aware, schedule_key


def due(trigger: Trigger, last_tick: datetime | None, now: datetime) -> list[Tick]:
    """The ticks of `trigger` in (last_tick, now], oldest first; `[]` for unscheduled kinds.

    `last_tick=None` means "first seen now": nothing is due yet. Same inputs, same ticks and keys.
    """
    now = require_aware(now, "now")
    cursor = now if last_tick is None else require_aware(last_tick, "last_tick")
    if not trigger.enabled or cursor >= now:
        return []
    cause: Cause
    if isinstance(trigger, CronTrigger):
        spec = trigger.schedule
        upcoming = cron.next_after(spec.cron, spec.timezone, cursor)  # cached: the usual answer is "not yet"
        if upcoming is None or upcoming > now:
            return []
        limit = spec.max_catchup if spec.catchup else 1
        times = cron.latest(spec.cron, spec.timezone, now, cursor, limit)
        cause = "cron"
    elif isinstance(trigger, IntervalTrigger):
        every = trigger.schedule
        anchor = interval.anchor_of(every.start_at) or cursor
        limit = every.max_catchup if every.catchup else 1
        times = interval.latest(anchor, every.every, now, cursor, limit)
        cause = "interval"
    else:  # manual, event and webhook triggers fire on request, not on a clock
        return []
    return [Tick(trigger.name, trigger.job, at, schedule_key(trigger.name, at), cause) for at in times]


def due_all(triggers: Iterable[Trigger], last_ticks: Mapping[str, datetime], now: datetime) -> list[Tick]:
    """`due` for many triggers at once (one scheduler poll), in firing order: by time, then name.

    `last_ticks` maps trigger names to cursors; a trigger missing from it is first seen now.
    """
    ticks = [tick for t in triggers for tick in due(t, last_ticks.get(t.name), now)]
    ticks.sort(key=lambda tick: (tick.at, tick.trigger))
    return ticks


def next_fire_time(trigger: Trigger, now: datetime, last_tick: datetime | None = None) -> datetime | None:
    """When the trigger fires next after `now` (UTC), for the status page; None when no clock drives it.

    Only an interval trigger without `start_at` needs `last_tick` (its grid hangs on the cursor);
    without one its grid starts now.
    """
    now = require_aware(now, "now")
    if not trigger.enabled:
        return None
    if isinstance(trigger, CronTrigger):
        return cron.next_after(trigger.schedule.cron, trigger.schedule.timezone, now)
    if isinstance(trigger, IntervalTrigger):
        cursor = now if last_tick is None else require_aware(last_tick, "last_tick")
        anchor = interval.anchor_of(trigger.schedule.start_at) or cursor
        return interval.first_after(anchor, trigger.schedule.every, now)
    return None
