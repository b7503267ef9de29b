"""Retention: old runs go with their steps, attempts and logs; what the history still needs stays; ticks
and delivery ids are forgotten once they cannot be replayed — on the SQLite and PostgreSQL stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from datakit.errors import DatakitError
from datakit.orchestrate.retention import prune, stale_ticks, summary
from datakit.orchestrate.store import RunStatus, StateStore, TickFired
from datakit.orchestrate.store.prune import Limits, Policy, all_ticks, delete_runs
from datakit.orchestrate.triggers import schedule_key
from tests.orchestrate.conftest import FakeClock

DAY = 86400.0


def record_run(
    store: StateStore,
    clock: FakeClock,
    job: str = "daily",
    *,
    status: RunStatus = RunStatus.SUCCEEDED,
    warehouse: str | None = None,
    resumed_from: int | None = None,
    tick_key: str | None = None,
    log: str = "loaded 10 rows\n",
) -> int:
    """A finished run with two steps, one attempt each, with a log; the clock moves on an hour."""
    run_id = store.start_run(
        job, "{}", warehouse=warehouse, resumed_from=resumed_from, tick_key=tick_key, allow_concurrent=True
    )
    store.add_steps(run_id, ["a", "b"])
    for step in ("a", "b"):
        store.attempt_started(run_id, step, 1)
        store.attempt_finished(run_id, step, 1, log=log, rows={"rows_loaded": 10})
    store.finish_run(run_id, status)
    clock.advance(3600)
    return run_id


def run_ids(store: StateStore) -> list[int]:
    return sorted(run.id for run in store.list_runs(limit=10_000))


def keep(max_runs: int | None = None, max_age: float | None = None) -> Policy:
    return Policy(Limits(max_age=max_age, max_runs=max_runs))


def test_runs_beyond_the_newest_n_go_with_their_steps_attempts_and_logs(
    any_store: StateStore, clock: FakeClock
) -> None:
    runs = [record_run(any_store, clock, log="x" * 1000) for _ in range(5)]
    other = record_run(any_store, clock, "hourly")

    report = prune(any_store, keep(max_runs=2))

    assert [run.id for run in report.runs] == runs[:3]
    assert {run.reason for run in report.runs} == {"beyond max_runs"}
    assert (report.removed.runs, report.removed.steps, report.removed.attempts) == (3, 6, 6)
    assert report.removed.log_bytes >= 6 * 1000
    assert run_ids(any_store) == sorted([*runs[3:], other])
    for gone in runs[:3]:
        with pytest.raises(DatakitError, match=f"no run {gone}"):
            any_store.get_run(gone)
    kept = any_store.get_run(runs[4])
    assert [a.log for s in kept.steps for a in s.attempt_records] == ["x" * 1000] * 2
    assert any_store.step_counts(runs) == {runs[3]: (2, 2), runs[4]: (2, 2)}  # no step row left behind


def test_old_runs_go_but_the_newest_of_each_job_and_warehouse_stays(
    any_store: StateStore, clock: FakeClock
) -> None:
    daily = [record_run(any_store, clock) for _ in range(3)]
    acme = record_run(any_store, clock, warehouse="acme")
    clock.advance(40 * DAY)

    report = prune(any_store, keep(max_age=30 * DAY))

    # every run is older than 30 days; the newest of `daily` and the only one of acme's `daily` stay
    assert [run.id for run in report.runs] == daily[:2]
    assert {run.reason for run in report.runs} == {"older than max_age"}
    assert run_ids(any_store) == [daily[2], acme]


def test_active_runs_stay_however_old(any_store: StateStore, clock: FakeClock) -> None:
    any_store.stale_after = 1000 * DAY  # the clock jumps by days: the running run's heartbeat is fine
    running = any_store.start_run("daily", "{}", allow_concurrent=True)
    finished = [record_run(any_store, clock) for _ in range(2)]
    clock.advance(40 * DAY)

    report = prune(any_store, keep(max_runs=1, max_age=DAY))

    assert [run.id for run in report.runs] == finished[:1]
    assert run_ids(any_store) == [running, finished[1]]
    assert any_store.get_run(running).status == "running"


def test_runs_that_a_kept_run_resumes_stay(any_store: StateStore, clock: FakeClock) -> None:
    first = record_run(any_store, clock, status=RunStatus.FAILED)
    second = record_run(any_store, clock, status=RunStatus.FAILED, resumed_from=first)
    third = record_run(any_store, clock, resumed_from=second)

    assert prune(any_store, keep(max_runs=1)).nothing  # the newest resumes the other two
    assert run_ids(any_store) == [first, second, third]

    fresh = record_run(any_store, clock)
    report = prune(any_store, keep(max_runs=1))
    assert [run.id for run in report.runs] == [first, second, third]
    assert run_ids(any_store) == [fresh]


def test_a_batch_skips_a_run_that_another_run_has_started_to_resume(
    any_store: StateStore, clock: FakeClock
) -> None:
    failed = record_run(any_store, clock, status=RunStatus.FAILED)
    resuming = any_store.start_run("daily", "{}", resumed_from=failed)  # began after the prune chose

    removed = delete_runs(any_store, [failed])

    assert removed.runs == 0 and run_ids(any_store) == [failed, resuming]


def test_a_dry_run_counts_and_removes_nothing(any_store: StateStore, clock: FakeClock) -> None:
    runs = [record_run(any_store, clock) for _ in range(4)]
    any_store.add_delivery("hook/delivery:d-1", clock() - 1)

    report = prune(any_store, keep(max_runs=1), dry_run=True)

    assert report.dry_run and [run.id for run in report.runs] == runs[:3]
    assert (report.removed.runs, report.removed.steps, report.removed.attempts) == (3, 6, 6)
    assert report.deliveries == 1
    assert run_ids(any_store) == runs
    assert prune(any_store, keep(max_runs=1), dry_run=True) == report  # nothing was removed
    assert summary(report).startswith("would remove 3 run(s) (6 steps, 6 attempts,")


def test_limits_per_job(any_store: StateStore, clock: FakeClock) -> None:
    daily = [record_run(any_store, clock) for _ in range(4)]
    audited = [record_run(any_store, clock, "audited") for _ in range(4)]
    policy = Policy(Limits(max_runs=2), {"audited": Limits(max_runs=None)})

    report = prune(any_store, policy)

    assert [run.id for run in report.runs] == daily[:2]
    assert run_ids(any_store) == sorted(daily[2:] + audited)


def test_only_the_jobs_asked_for(any_store: StateStore, clock: FakeClock) -> None:
    daily = [record_run(any_store, clock) for _ in range(3)]
    hourly = [record_run(any_store, clock, "hourly") for _ in range(3)]

    prune(any_store, keep(max_runs=1), jobs=["hourly"])

    assert run_ids(any_store) == [*daily, hourly[2]]


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_scheduled_ticks_are_forgotten_once_the_cursor_passed_them(
    any_store: StateStore, clock: FakeClock
) -> None:
    times = [datetime(2027, 1, 1, hour, tzinfo=UTC) for hour in (1, 2, 3)]
    keys = [schedule_key("nightly", at) for at in times]
    for key in keys:
        record_run(any_store, clock, tick_key=key)
    any_store.set_cursor("nightly", times[1].timestamp())  # the scheduler has handled 01:00 and 02:00

    assert stale_ticks(any_store, clock(), None) == keys[:2]  # the scheduler computes ticks after 02:00
    # the newest tick of a trigger always stays (the triggers page shows it), whatever the cursor
    any_store.set_cursor("nightly", times[2].timestamp())
    assert stale_ticks(any_store, clock(), None) == keys[:2]

    report = prune(any_store, keep())
    assert report.ticks == 2 and report.removed.runs == 0
    with pytest.raises(TickFired):  # the kept tick still refuses a second run
        any_store.start_run("daily", "{}", tick_key=keys[2])


def test_a_tick_after_the_cursor_is_kept(any_store: StateStore, clock: FakeClock) -> None:
    early, late = datetime(2027, 1, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, 5, tzinfo=UTC)
    record_run(any_store, clock, tick_key=schedule_key("nightly", early))
    record_run(any_store, clock, tick_key=schedule_key("nightly", late))
    record_run(any_store, clock, tick_key=schedule_key("other", late))
    # killed between the runs' commits and the cursor's move: the cursor is still before 01:00
    any_store.set_cursor("nightly", early.timestamp() - 3600)
    any_store.set_cursor("other", late.timestamp())

    assert stale_ticks(any_store, clock(), None) == []


def test_job_event_ticks_are_forgotten_once_their_upstream_run_cannot_fire_again(
    any_store: StateStore, clock: FakeClock
) -> None:
    upstream = [record_run(any_store, clock, "load") for _ in range(3)]
    keys = [f"after_load@run:{run}" for run in upstream]
    for key in keys:
        record_run(any_store, clock, "report", tick_key=key)
    ends = {run.id: run.finished_at for run in any_store.list_runs(job="load")}
    any_store.set_cursor("after_load", ends[upstream[0]] or 0.0)

    # the first upstream run ended at the cursor: done; the second ended after it: may fire again
    assert stale_ticks(any_store, clock(), None) == [keys[0]]
    assert prune(any_store, keep(max_runs=1), jobs=["load"], dry_run=True).ticks == 2
    report = prune(any_store, keep(max_runs=1), jobs=["load"])  # upstream runs 1 and 2 go, with their ticks
    assert report.removed.runs == 2 and report.ticks == 2
    assert [tick.key for tick in all_ticks(any_store)] == keys[2:]


def test_file_ticks_are_kept_while_their_file_is_there_unchanged(
    any_store: StateStore, clock: FakeClock, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    keys = {}
    for name in ("a.csv", "b.csv", "c:d.csv", "e.csv"):
        path = inbox / name
        path.write_text(name)
        info = path.stat()
        keys[name] = f"drops@file:inbox/{name}:{info.st_size}:{info.st_mtime_ns}"
        record_run(any_store, clock, "ingest", tick_key=keys[name])
    (inbox / "a.csv").unlink()  # loaded and removed: cannot fire again
    (inbox / "b.csv").write_text("rewritten, longer")  # a new state fires a new tick; the old one is done

    report = prune(any_store, keep(), root=tmp_path)

    assert report.ticks == 2
    remaining = [tick.key for tick in all_ticks(any_store)]
    assert remaining == [keys["c:d.csv"], keys["e.csv"]]  # a colon in a file's name is no trouble


def test_webhook_ticks_and_delivery_ids_are_forgotten_after_the_replay_window(
    any_store: StateStore, clock: FakeClock
) -> None:
    old = record_run(any_store, clock, tick_key="hook@delivery:d-1")
    record_run(any_store, clock, tick_key="hook@delivery:d-2")
    any_store.add_delivery("hook/delivery:d-1", clock() + 7 * DAY)
    any_store.add_delivery("hook/signature:abc", clock() + 300)

    assert stale_ticks(any_store, clock(), None) == []
    clock.advance(8 * DAY)
    record_run(any_store, clock, tick_key="hook@delivery:d-3")

    report = prune(any_store, keep(max_runs=1))

    assert report.ticks == 2 and report.deliveries == 2  # d-3 is the newest: kept
    assert any_store.add_delivery("hook/delivery:d-1", clock() + 60)  # a new delivery now
    assert old not in run_ids(any_store)


def test_live_logs_left_by_a_killed_process_go_after_an_hour(
    any_store: StateStore, clock: FakeClock, tmp_path: Path
) -> None:
    import os

    from datakit.orchestrate.livelog import live_log_path

    any_store.stale_after = 1000 * DAY
    finished = any_store.get_run(record_run(any_store, clock))
    running = any_store.get_run(any_store.start_run("hourly", "{}"))
    recent = any_store.get_run(record_run(any_store, clock, "other"))
    paths = {}
    for name, run in (("finished", finished), ("running", running), ("recent", recent)):
        assert run.key is not None
        paths[name] = live_log_path(tmp_path, run.key, "shop_bronze.orders")
        paths[name].parent.mkdir(parents=True)
        paths[name].write_text("a step's output\n")
    for name in ("finished", "running"):  # untouched for two hours (the clock is the store's)
        old = clock() - 7200
        os.utime(paths[name], (old, old))
        os.utime(paths[name].parent, (old, old))
    os.utime(paths["recent"], (clock(), clock()))
    os.utime(paths["recent"].parent, (clock(), clock()))

    assert prune(any_store, keep(), root=tmp_path, dry_run=True).live_logs == 1
    report = prune(any_store, keep(), root=tmp_path)

    assert report.live_logs == 1 and "1 leftover live log folder(s)" in summary(report)
    assert not paths["finished"].parent.exists()
    assert paths["running"].exists() and paths["recent"].exists()  # an active run's; a fresh one


def test_audit_entries_older_than_the_audit_limit_go(any_store: StateStore, clock: FakeClock) -> None:
    old = [any_store.record_audit("alice", "start", f"job daily #{i}") for i in range(3)]
    clock.advance(100 * DAY)
    recent = any_store.record_audit("bob", "cancel", "run 7", outcome="refused", detail="not running")
    policy = Policy(Limits(), audit_max_age=90 * DAY)

    dry = prune(any_store, policy, dry_run=True)
    assert (dry.audit, dry.audit_max_age) == (3, 90 * DAY)
    assert "3 audit log entries older than 90d" in summary(dry)
    assert [entry.id for entry in any_store.list_audit()] == [recent, *old[::-1]]  # nothing removed yet

    done = prune(any_store, policy)
    assert done.audit == 3 and not done.nothing
    assert [(e.id, e.actor, e.outcome) for e in any_store.list_audit()] == [(recent, "bob", "refused")]
    assert prune(any_store, policy).nothing
    assert prune(any_store, Policy(Limits())).audit == 0  # no audit limit: kept for ever
    assert [entry.id for entry in any_store.list_audit()] == [recent]
