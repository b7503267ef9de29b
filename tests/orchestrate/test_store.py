"""Run history: one active run per job, abandoned runs, several processes — on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from datakit.orchestrate.store import AlreadyRunning, RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from tests.orchestrate.conftest import FakeClock
from tests.waits import GUARD


def test_second_start_is_refused_until_the_first_finishes(any_store: StateStore) -> None:
    first = any_store.start_run("daily", "{}")
    with pytest.raises(AlreadyRunning, match=f"already running: run {first}"):
        any_store.start_run("daily", "{}")
    other_job = any_store.start_run("hourly", "{}")
    concurrent = any_store.start_run("daily", "{}", allow_concurrent=True)
    assert len({first, other_job, concurrent}) == 3
    any_store.finish_run(first, RunStatus.SUCCEEDED)
    any_store.finish_run(concurrent, RunStatus.SUCCEEDED)
    assert any_store.start_run("daily", "{}") > concurrent


def test_twenty_concurrent_starts_give_exactly_one_run(any_store: StateStore) -> None:
    def start(_: int) -> int | None:
        try:
            return any_store.start_run("daily", "{}")
        except AlreadyRunning:
            return None

    with ThreadPoolExecutor(8) as pool:
        started = [r for r in pool.map(start, range(20)) if r is not None]
    assert len(started) == 1


def test_stale_heartbeat_marks_a_run_abandoned(any_store: StateStore, clock: FakeClock) -> None:
    run = any_store.start_run("daily", "{}")
    clock.advance(30)
    any_store.heartbeat(run)
    clock.advance(59)
    assert any_store.list_runs()[0].status == "running"
    clock.advance(2)
    (record,) = any_store.list_runs(job="daily")
    assert record.status == "abandoned" and "heartbeat" in (record.error or "")
    assert any_store.start_run("daily", "{}") != run  # the dead run no longer blocks the job


def test_run_of_a_dead_process_is_abandoned_at_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state.db"
    code = (
        "import sys; from datakit.orchestrate.store.sql import StateStore, sqlite_url; "
        f"from pathlib import Path; s = StateStore(sqlite_url(Path({str(path)!r}))); "
        "print(s.start_run('daily', '{}')); sys.stdout.flush(); import os; os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    run_id = int(out.stdout.strip())
    store = StateStore(sqlite_url(path), clock=clock)
    try:
        assert store.get_run(run_id).status == "abandoned"
        assert store.start_run("daily", "{}") != run_id
    finally:
        store.close()


def test_starts_from_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    go = tmp_path / "go"
    StateStore(sqlite_url(path)).close()
    code = (
        "from datakit.orchestrate.store.sql import StateStore, AlreadyRunning, sqlite_url\n"
        "from pathlib import Path\nimport sys, time\n"
        f"s = StateStore(sqlite_url(Path({str(path)!r})))\n"
        "print('ready', flush=True)\n"
        f"while not Path({str(go)!r}).exists():\n    time.sleep(0.01)\n"
        "try:\n    print(s.start_run('daily', '{}'), flush=True); sys.stdin.read()\n"
        "except AlreadyRunning as e:\n    print('busy', e.run_id)\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(5)
    ]
    for child in children:  # every child has its store open before any of them starts a run
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    go.touch()
    # each child has tried before the winner ends (it holds its run until its stdin is closed)
    outputs = [child.stdout.readline().strip() for child in children if child.stdout is not None]
    for child in children:
        child.communicate(timeout=GUARD)
    winners = [o for o in outputs if not o.startswith("busy")]
    assert len(winners) == 1, outputs
    assert all(o == f"busy {winners[0]}" for o in outputs if o.startswith("busy"))
    store = StateStore(sqlite_url(path))
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
    finally:
        store.close()


@pytest.mark.postgres
def test_project_with_a_postgres_state_store(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    from sqlalchemy import text

    from datakit.config import load_project
    from datakit.config.scaffold import init_project
    from datakit.orchestrate.store import open_store

    parts = urlsplit(pg_dsn)
    schema = f"state_{uuid.uuid4().hex[:10]}"
    root = tmp_path / "shop"
    init_project(root)
    (root / "datakit.yaml").write_text(
        "name: shop\nstate:\n  type: postgres\n  schema: " + schema + "\n  connection:\n"
        f"    host: {parts.hostname}\n    port: {parts.port or 5432}\n"
        f"    database: {parts.path.lstrip('/')}\n    user: {parts.username}\n"
        "    password_secret_key: state_password\n",
        encoding="utf-8",
    )
    (root / "config" / "secrets_mapping.yaml").write_text(
        "secrets:\n  state_password:\n    env_var: DK_TEST_STATE_PASSWORD\n", encoding="utf-8"
    )
    monkeypatch.setenv("DK_TEST_STATE_PASSWORD", parts.password or "")
    store = open_store(load_project(root))
    try:
        run_id = store.start_run("daily", "{}")
        assert store.list_runs(job="daily")[0].id == run_id
        with store.engine.connect() as conn:
            assert conn.execute(text(f'select count(*) from "{schema}".runs')).scalar() == 1
    finally:
        with store.engine.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        store.close()


def test_a_tick_starts_at_most_one_run(any_store: StateStore) -> None:
    from datakit.orchestrate.store import TickFired

    def fire(_: int) -> int | None:
        try:
            return any_store.start_run(
                "daily", "{}", allow_concurrent=True, tick_key="nightly@2026-03-29T01:00:00Z"
            )
        except TickFired:
            return None

    with ThreadPoolExecutor(8) as pool:
        started = [r for r in pool.map(fire, range(20)) if r is not None]
    assert len(started) == 1
    other = any_store.start_run("daily", "{}", allow_concurrent=True, tick_key="nightly@2026-03-30T01:00:00Z")
    assert other != started[0]


def test_the_latest_tick_of_a_trigger_and_no_other(any_store: StateStore, clock: FakeClock) -> None:
    """What the triggers page shows: a trigger's last firing, never one of a trigger sharing its prefix."""
    assert any_store.last_tick("nightly") is None
    first = any_store.start_run("daily", "{}", allow_concurrent=True, tick_key="nightly@2026-03-29T01:00:00Z")
    clock.advance(60)
    second = any_store.start_run(
        "daily", "{}", allow_concurrent=True, tick_key="nightly@2026-03-30T01:00:00Z"
    )
    clock.advance(60)
    any_store.start_run("daily", "{}", allow_concurrent=True, tick_key="nightly_x@2026-03-31T01:00:00Z")
    any_store.start_run("daily", "{}", allow_concurrent=True, tick_key="night%@2026-03-31T01:00:00Z")
    tick = any_store.last_tick("nightly")
    assert tick is not None and first != second
    assert (tick.key, tick.run_id, tick.created_at) == ("nightly@2026-03-30T01:00:00Z", second, clock() - 60)
    assert any_store.last_tick("night%") is not None and any_store.last_tick("night") is None


def test_step_counts_of_several_runs_in_one_call(any_store: StateStore) -> None:
    """(ok, total) per run: succeeded and reused steps are ok; a run without steps is absent."""
    from datakit.orchestrate.store import StepStatus

    one = any_store.start_run("daily", "{}", allow_concurrent=True)
    any_store.add_steps(one, ["a", "b", "c"], reused=["a"])
    any_store.attempt_started(one, "b", 1)
    any_store.attempt_finished(one, "b", 1)
    any_store.mark_steps(one, ["c"], StepStatus.SKIPPED)
    two = any_store.start_run("daily", "{}", allow_concurrent=True)
    any_store.add_steps(two, ["a"])
    empty = any_store.start_run("daily", "{}", allow_concurrent=True)
    assert any_store.step_counts([one, two, empty]) == {one: (2, 3), two: (0, 1)}
    assert any_store.step_counts([]) == {}


def test_a_delivery_is_accepted_once_and_forgotten_after_it_expires(
    any_store: StateStore, clock: FakeClock
) -> None:
    until = clock() + 600
    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(lambda _: any_store.add_delivery("orders:d-1", until), range(20)))
    assert accepted.count(True) == 1
    assert any_store.add_delivery("orders:d-2", until)
    assert any_store.add_delivery("orders:d-3", clock() + 7200)
    clock.advance(700)
    assert any_store.add_delivery("orders:d-1", clock() + 600)  # expired: accepted again
    assert any_store.forget_deliveries() == 1  # d-2
    assert not any_store.add_delivery("orders:d-3", clock() + 600)


def test_sla_miss_is_recorded_once(any_store: StateStore, clock: FakeClock) -> None:
    run_id = any_store.start_run("daily", "{}")
    clock.advance(30)
    assert any_store.record_sla_miss(run_id)
    clock.advance(30)
    assert not any_store.record_sla_miss(run_id)
    assert any_store.get_run(run_id).sla_missed_at == pytest.approx(clock() - 30)


def test_step_details_round_trip_and_are_redacted(any_store: StateStore) -> None:
    from datakit.log import register_secret

    register_secret("s3cr3t-value-123")
    run_id = any_store.start_run("daily", "{}")
    any_store.add_steps(run_id, ["a.b"])
    any_store.attempt_started(run_id, "a.b", 1)
    details = {"checks": [{"name": "not_null", "failing": 3, "sample": [{"x": "s3cr3t-value-123"}]}]}
    any_store.attempt_finished(run_id, "a.b", 1, details=details)
    (step,) = any_store.get_run(run_id).steps
    assert step.details is not None
    assert step.details["checks"][0]["failing"] == 3
    assert "s3cr3t-value-123" not in str(step.details)


def test_an_older_store_gets_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    StateStore(sqlite_url(path)).close()
    with sqlite3.connect(path) as conn:  # as a store created before `details` and `sla_missed_at`
        conn.execute("ALTER TABLE steps DROP COLUMN details")
        conn.execute("ALTER TABLE runs DROP COLUMN sla_missed_at")
    store = StateStore(sqlite_url(path))
    run_id = store.start_run("daily", "{}")
    assert store.record_sla_miss(run_id)
    store.close()
