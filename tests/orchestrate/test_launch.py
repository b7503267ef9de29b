"""The daemon's launcher and its writer queue, on the real store (SQLite and PostgreSQL).

A burst of launches of one idle job starts one run and refuses the others with its id; a run whose
DuckDB file an earlier active run writes is recorded `queued` until that run ends, in run-id order, and
a queued run is still the job's one active run — and is swept like any run when its daemon dies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.orchestrate.launch import Launcher, WriterQueue
from datakit.orchestrate.store import AlreadyRunning, RunStatus, StateStore, open_store
from tests.orchestrate.conftest import FakeClock
from tests.orchestrate.helpers import imports, stamped_shop


def _plan(*files: str) -> str:
    """A stored plan whose one step writes `files` (as `Plan.as_dict()` records it)."""
    return json.dumps({"steps": [{"id": "s", "exclusive": [f"duckdb:{f}" for f in files]}]})


def _wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, "never reached the state the test waits for"
        time.sleep(0.01)


def test_runs_on_one_file_wait_queued_in_the_order_they_were_recorded(
    any_store: StateStore, clock: FakeClock
) -> None:
    queue = WriterQueue(any_store, recheck=60)  # woken by `changed()`, never by its own clock here
    shop, other = "duckdb:/w/shop.duckdb", "duckdb:/w/other.duckdb"
    first = any_store.start_run("load_a", _plan("/w/shop.duckdb"), warehouse="acme")
    second = any_store.start_run("load_b", _plan("/w/shop.duckdb", "/w/other.duckdb"))  # another job
    third = any_store.start_run("load_a", _plan("/w/shop.duckdb"), warehouse="globex")  # another tenant
    elsewhere = any_store.start_run("load_c", _plan("/w/elsewhere.duckdb"))
    cancel = threading.Event()
    queue.wait_turn(elsewhere, {"duckdb:/w/elsewhere.duckdb"}, cancel)  # nothing in its way
    assert any_store.get_run(elsewhere).status == RunStatus.RUNNING

    waiting = {
        run: threading.Thread(target=queue.wait_turn, args=(run, files, cancel))
        for run, files in ((second, {shop, other}), (third, {shop}))
    }
    for thread in waiting.values():
        thread.start()
    _wait_until(lambda: [any_store.get_run(r).status for r in (second, third)] == ["queued", "queued"])
    reason = f"queued: run {first} (load_a for acme) is writing /w/shop.duckdb"
    assert any_store.get_run(second).error == reason
    assert any_store.active_run("load_b") == second  # queued is active: the job's one run
    with pytest.raises(AlreadyRunning, match=f"run {second}"):
        any_store.start_run("load_b", _plan())
    assert [r.id for r in any_store.active_runs()] == [first, second, third, elsewhere]

    clock.advance(30)
    any_store.finish_run(first, RunStatus.SUCCEEDED)
    queue.changed()
    waiting[second].join(60)  # the earliest waiting run goes; the later one waits for it in turn
    started = any_store.get_run(second)
    assert (started.status, started.error, started.started_at) == (RunStatus.RUNNING, None, clock.now)
    assert any_store.get_run(third).status == RunStatus.QUEUED
    any_store.finish_run(second, RunStatus.SUCCEEDED)
    queue.changed()
    waiting[third].join(60)
    assert any_store.get_run(third).status == RunStatus.RUNNING


def test_a_queued_run_of_a_dead_daemon_is_swept_as_abandoned(any_store: StateStore, clock: FakeClock) -> None:
    first = any_store.start_run("load_a", _plan("/w/shop.duckdb"))
    second = any_store.start_run("load_b", _plan("/w/shop.duckdb"))
    any_store.mark_queued(second, "queued: behind run 1")
    clock.advance(61)  # no heartbeat from either for longer than `stale_after`
    assert sorted(any_store.sweep_abandoned()) == [first, second]
    assert any_store.get_run(second).status == RunStatus.ABANDONED
    assert any_store.active_run("load_b") is None


def test_a_burst_of_launches_of_an_idle_job_starts_one_run(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    project = load_project(root)
    store = open_store(project)
    launcher = Launcher(project, store)

    def launch(_: int) -> tuple[str, int]:
        try:
            return "started", launcher.launch("daily")
        except AlreadyRunning as exc:
            return "busy", exc.run_id

    try:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(launch, range(20)))
        started = [run_id for what, run_id in answers if what == "started"]
        assert len(started) == 1
        assert [run_id for what, run_id in answers if what == "busy"] == started * 19
        _wait_until(lambda: launcher.running == 0)
    finally:
        launcher.stop(60)
    (run,) = store.list_runs()
    assert run.id == started[0] and run.status == RunStatus.SUCCEEDED, run.error
    store.close()


def test_a_launched_run_forks_its_steps_from_a_warm_server(tmp_path: Path) -> None:
    """The daemon's runs start a step server as `datakit run job`'s do: the project's datakits are
    imported once, in the server, and both load steps are forked from it (spawned steps would import
    them each, or not at all)."""
    import os

    root = tmp_path / "shop"
    stamped_shop(root)
    project = load_project(root)
    store = open_store(project)
    launcher = Launcher(project, store)
    try:
        run_id = launcher.launch("daily")
        _wait_until(lambda: launcher.running == 0)
    finally:
        launcher.stop(60)
    run = store.get_run(run_id)
    store.close()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert len(run.steps) == 2
    (imported,) = imports(root)
    assert imported[0] != os.getpid()
