"""The scheduler fires each tick exactly once: across polls, restarts, kills between its two writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.orchestrate.store import StateStore
from datakit.orchestrate.store.sql import sqlite_url
from datakit.orchestrate.triggers import Tick
from datakit.server.scheduler import Scheduler

START = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _project(tmp_path: Path, triggers: dict[str, str]) -> Path:
    root = tmp_path / "shop"
    if not root.exists():
        init_project(root)
    folder = root / "config" / "triggers"
    for old in folder.iterdir():
        old.unlink()
    for name, text in triggers.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


HOURLY = """\
trigger:
  name: hourly
  type: cron
  job: daily
  schedule: {{cron: "0 * * * *", timezone: Europe/Paris, catchup: {catchup}, max_catchup: 5}}
"""


def _launcher(
    store: StateStore, crash_after_commit: set[str] | None = None
) -> Callable[[Tick, str | None], int]:
    """Starts (and at once finishes) a run per tick, as the daemon's launcher does, with the tick key."""

    def launch(tick: Tick, warehouse: str | None) -> int:
        run_id = store.start_run(
            tick.job, "{}", allow_concurrent=True, tick_key=tick.key, warehouse=warehouse
        )
        from datakit.orchestrate.store import RunStatus

        store.finish_run(run_id, RunStatus.SUCCEEDED)
        if crash_after_commit is not None and tick.key in crash_after_commit:
            crash_after_commit.discard(tick.key)
            raise KeyboardInterrupt("killed after the run committed, before the cursor moved")
        return run_id

    return launch


def _tick_keys(store: StateStore) -> list[str]:
    from sqlalchemy import select

    with store.engine.connect() as conn:
        return sorted(row.key for row in conn.execute(select(store.ticks.c.key)))


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    return StateStore(sqlite_url(tmp_path / "state.db"))


@pytest.mark.parametrize(("catchup", "expected"), [("false", 1), ("true", 3)])
def test_downtime_is_caught_up_or_not(tmp_path: Path, state: StateStore, catchup: str, expected: int) -> None:
    project = load_project(_project(tmp_path, {"hourly": HOURLY.format(catchup=catchup)}))
    clock = Clock()
    scheduler = Scheduler(project, state, _launcher(state), clock=clock)
    assert scheduler.poll() == []  # first seen: the schedule starts now, history is not replayed
    clock.advance(hours=3, minutes=10)  # 00:00, 01:00, 02:00 UTC passed while "down"
    fired = scheduler.poll()
    assert len(fired) == expected and all(f.run_id is not None for f in fired)
    assert fired[-1].tick.key == "hourly@2026-03-29T02:00:00Z"
    assert scheduler.poll() == []  # nothing new until the next hour


def test_a_restart_fires_nothing_twice_and_loses_nothing(tmp_path: Path, state: StateStore) -> None:
    root = _project(tmp_path, {"hourly": HOURLY.format(catchup="true")})
    clock = Clock()
    crash = {"hourly@2026-03-29T01:00:00Z"}
    Scheduler(load_project(root), state, _launcher(state, crash), clock=clock).poll()
    clock.advance(hours=2, minutes=5)
    with pytest.raises(KeyboardInterrupt):  # the 01:00 run is committed; its cursor never moved
        Scheduler(load_project(root), state, _launcher(state, crash), clock=clock).poll()
    clock.advance(hours=1)
    restarted = Scheduler(load_project(root), state, _launcher(state), clock=clock).poll()
    assert [(f.tick.key, f.skipped) for f in restarted] == [
        ("hourly@2026-03-29T01:00:00Z", "already fired"),
        ("hourly@2026-03-29T02:00:00Z", None),
    ]
    assert _tick_keys(state) == [
        "hourly@2026-03-29T00:00:00Z",
        "hourly@2026-03-29T01:00:00Z",
        "hourly@2026-03-29T02:00:00Z",
    ]
    assert len(state.list_runs(limit=100)) == 3


def test_job_events_fire_once_per_upstream_run_also_after_restart(tmp_path: Path, state: StateStore) -> None:
    from datakit.orchestrate.store import RunStatus

    after = (
        "trigger:\n  name: after_daily\n  type: event\n  job: daily\n"
        "  event: {type: job_failed, job: daily}\n"
    )
    root = _project(tmp_path, {"after_daily": after})
    clock = Clock()
    Scheduler(load_project(root), state, _launcher(state), clock=clock).poll()
    ok = state.start_run("daily", "{}")
    state.finish_run(ok, RunStatus.SUCCEEDED)
    failed = state.start_run("daily", "{}")
    state.finish_run(failed, RunStatus.FAILED, "boom")
    clock.now = datetime.now(UTC)
    fired = Scheduler(load_project(root), state, _launcher(state), clock=clock).poll()
    assert [f.tick.key for f in fired] == [f"after_daily@run:{failed}"]
    # the triggered run (which succeeded) does not fire it again, nor does a restart
    assert Scheduler(load_project(root), state, _launcher(state), clock=clock).poll() == []


def test_a_file_fires_once_until_it_changes(tmp_path: Path, state: StateStore) -> None:
    arrived = (
        "trigger:\n  name: drops\n  type: event\n  job: daily\n"
        "  event: {type: file_arrived, path: inbox, pattern: '*.csv'}\n"
    )
    root = _project(tmp_path, {"drops": arrived})
    (root / "inbox").mkdir()
    (root / "inbox" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (root / "inbox" / "ignored.txt").write_text("x\n", encoding="utf-8")
    clock = Clock(datetime.now(UTC))
    assert [
        f.tick.detail for f in Scheduler(load_project(root), state, _launcher(state), clock=clock).poll()
    ] == ["inbox/a.csv"]
    again = Scheduler(load_project(root), state, _launcher(state), clock=clock)  # a restart
    assert [f.skipped for f in again.poll()] == ["already fired"]
    (root / "inbox" / "a.csv").write_text("x\n1\n2\n", encoding="utf-8")
    assert [f.run_id is not None for f in again.poll()] == [True]


KILLER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from datakit.config import load_project
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from datakit.server.scheduler import Scheduler

root, db = Path(sys.argv[1]), Path(sys.argv[2])
store = StateStore(sqlite_url(db))

def launch(tick, warehouse):
    run_id = store.start_run(tick.job, "{}", allow_concurrent=True, tick_key=tick.key)
    store.finish_run(run_id, RunStatus.SUCCEEDED)
    return run_id

scheduler = Scheduler(load_project(root), store, launch)
print("ready", flush=True)
while True:
    started = [f for f in scheduler.poll() if f.run_id is not None]
    if started:
        print(len(started), flush=True)
    time.sleep(0.01)
"""

EVERY_200MS = """\
trigger:
  name: fast
  type: interval
  job: daily
  schedule: {every: 200ms, start_at: "2026-01-01T00:00:00Z", catchup: true, max_catchup: 10000}
"""


def test_scheduler_killed_and_restarted_loses_and_doubles_no_tick(tmp_path: Path) -> None:
    """kill -9 at arbitrary moments: the ticks recorded form the complete grid, each exactly once."""
    root = _project(tmp_path, {"fast": EVERY_200MS})
    db = tmp_path / "state.db"
    script = tmp_path / "scheduler.py"
    script.write_text(KILLER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for pause, ticks in ((1.3, 4), (0.7, 2), (1.1, 3), (0.9, 1)):  # 10 ticks at least, whatever the speed
        child = subprocess.Popen(
            [sys.executable, str(script), str(root), str(db)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(pause)  # an arbitrary moment...
        fired = 0
        while fired < ticks:  # ...once it has started that many runs (each poll prints how many, committed)
            fired += int(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        time.sleep(0.5)  # downtime: ticks are missed and must be caught up
    store = StateStore(sqlite_url(db))
    keys = _tick_keys(store)
    stamps = sorted(datetime.fromisoformat(k.split("@", 1)[1].replace("Z", "+00:00")) for k in keys)
    assert len(stamps) >= 10
    grid = [stamps[0] + timedelta(milliseconds=200 * i) for i in range(len(stamps))]
    assert stamps == grid  # no gap (lost tick), and keys are unique by construction
    runs = store.list_runs(limit=100_000)
    assert len(runs) == len(keys)  # no tick started two runs
    cursor = datetime.fromtimestamp(store.get_cursors()["fast"], UTC)
    assert cursor in (stamps[-1], stamps[-2])  # the last kill may fall between the run and the cursor
    store.close()


TENANT = """\
warehouse:
  name: {name}
  destinations: [warehouse]
  jobs: [daily]
  schema_prefix: {name}_
  schedules: {schedules}
"""


def test_each_tenant_fires_its_own_ticks_with_its_overrides(tmp_path: Path, state: StateStore) -> None:
    root = _project(tmp_path, {"hourly": HOURLY.format(catchup="false")})
    folder = root / "config" / "warehouses"
    overrides = {
        "acme": "{}",
        "globex": '{hourly: {cron: "30 * * * *"}}',
        "initech": "{hourly: {enabled: false}}",
    }
    for name, schedules in overrides.items():
        (folder / f"{name}.yaml").write_text(TENANT.format(name=name, schedules=schedules), encoding="utf-8")
    clock = Clock()  # 23:30 UTC
    scheduler = Scheduler(load_project(root), state, _launcher(state), clock=clock)
    assert scheduler.poll() == []
    clock.advance(hours=1, minutes=5)  # 00:00 (acme) and 00:30 (globex) passed; initech is off
    fired = scheduler.poll()
    assert sorted(f.tick.key for f in fired) == [
        "hourly.acme@2026-03-29T00:00:00Z",
        "hourly.globex@2026-03-29T00:30:00Z",
    ]
    runs = {r.warehouse: r for r in state.list_runs()}
    assert set(runs) == {"acme", "globex"} and all(r.job == "daily" for r in runs.values())


def test_a_paused_trigger_starts_nothing_and_its_unpause_does_not_replay_the_pause(
    tmp_path: Path, state: StateStore
) -> None:
    project = load_project(_project(tmp_path, {"hourly": HOURLY.format(catchup="true")}))
    clock = Clock()
    scheduler = Scheduler(project, state, _launcher(state), clock=clock)
    scheduler.poll()
    assert state.pause_trigger("hourly", "alice")
    clock.advance(hours=2, minutes=5)
    fired = scheduler.poll()
    assert [(f.tick.key, f.run_id, f.skipped) for f in fired] == [
        ("hourly@2026-03-29T00:00:00Z", None, "paused"),
        ("hourly@2026-03-29T01:00:00Z", None, "paused"),
    ]
    assert state.list_runs() == []
    assert state.unpause_trigger("hourly")
    assert scheduler.poll() == []  # the paused hours are not caught up
    clock.advance(hours=1)
    (after,) = scheduler.poll()
    assert after.tick.key == "hourly@2026-03-29T02:00:00Z" and after.run_id is not None
