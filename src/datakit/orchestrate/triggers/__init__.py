"""Triggers: when a job should start — functions of a trigger, a cursor and a clock reading.

Nothing here sleeps, reads the clock or writes state: the scheduler (`datakit.server.scheduler`) passes
`now` and keeps the cursors in the state store, so every DST edge and every downtime is a unit test
with an injected clock. The one exception is `FileWatch`, which reads the watched folder (`scan`) and
remembers in memory which file states it has fired (an optimisation: the tick keys are the guarantee).

The exactly-once contract. Every firing is a `Tick` with a stable `key`:
- scheduled ticks (cron, interval): `<trigger>@<scheduled time, ISO UTC>` (`nightly@2026-03-29T01:00:00Z`);
- job events: `<trigger>@run:<upstream run id>`;
- file arrivals: `<trigger>@file:<path>:<size>:<mtime_ns>`;
- webhooks (`datakit.orchestrate.webhooks`): `<trigger>@delivery:<delivery id>`.
(A trigger a warehouse runs fires under the name `<trigger>.<warehouse>`.) The key depends only on what
the tick is, never on when it was computed, so `due(trigger, last_tick, now)` may be called as often as
the caller likes, by several processes, before and after a restart: the run starts only if the state
store records the key in the transaction that creates the run, which makes each tick fire exactly once.
The scheduler's poll, in short:

    for tick in due_all(triggers, cursors, now):        # pure
        try:
            store.start_run(job, plan, tick_key=tick.key)  # the one place exactly-once is decided
        except TickFired:
            pass                                         # this tick started a run already
        store.set_cursor(tick.trigger, tick.at)          # after the run: a kill in between is harmless

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
