"""Triggers: when a job should start — pure functions of a trigger, a cursor and a clock reading.

Nothing here sleeps, reads the clock or writes state; the scheduler daemon passes `now` and keeps the
state. That makes every DST edge and every downtime a unit test with an injected clock.

The exactly-once contract. Every firing is a `Tick` with a stable `key`:
- scheduled ticks (cron, interval): `<trigger>@<scheduled time, ISO UTC>` (`nightly@2026-03-29T01:00:00Z`);
- job events: `<trigger>@run:<upstream run id>`;
- file arrivals: `<trigger>@file:<path>:<size>:<mtime_ns>`;
- webhooks (`datakit.orchestrate.webhooks`): `<trigger>@delivery:<delivery id>`.
The key depends only on what the tick is, never on when it was computed, so `due(trigger, last_tick,
now)` may be called as often as the caller likes, by several processes, before and after a restart: the
caller starts a run only when its insert-if-absent of the key into the state store succeeds (in the same
transaction as the run row), which makes each tick fire exactly once. A poll loop:

    ticks = due_all(triggers, cursors, now)           # pure
    for tick in ticks:
        if store.insert_tick_if_absent(tick.key):       # the one place exactly-once is decided
            start_run(tick.job, cause=tick)
        cursors[tick.trigger] = tick.at                # persisted: it is the last recorded tick

The cron DST rule is in `datakit.orchestrate.triggers.cron`.
"""

from datakit.orchestrate.triggers.events import job_event_ticks
from datakit.orchestrate.triggers.files import FileStamp, FileWatch, file_ticks, scan
from datakit.orchestrate.triggers.schedule import due, due_all, next_fire_time
from datakit.orchestrate.triggers.ticks import Tick, iso_utc, schedule_key

__all__ = [
    "FileStamp",
    "FileWatch",
    "Tick",
    "due",
    "due_all",
    "file_ticks",
    "iso_utc",
    "job_event_ticks",
    "next_fire_time",
    "scan",
    "schedule_key",
]
