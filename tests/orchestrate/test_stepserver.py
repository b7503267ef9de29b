"""Steps forked from a warm step server behave as spawned ones: results, logs, errors, timeouts, kills."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from datakit.orchestrate.stepserver import StepServer
from datakit.orchestrate.subproc import StepFailed, StepProcesses, StepTimeout, run_in_child
from tests.conftest import REPO
from tests.orchestrate.helpers import imports, stamped_shop, timeouts_count_once_announced
from tests.orchestrate.test_subproc import _gone
from tests.waits import GUARD, wait_until


@pytest.fixture
def server() -> Iterator[StepServer]:
    warm = StepServer(modules=["tests.orchestrate.helpers", "pyarrow"])
    warm.start()
    yield warm
    warm.close()


def test_forked_steps_return_results_logs_and_error_verdicts(server: StepServer) -> None:
    result, log = run_in_child("tests.orchestrate.helpers:quick", {"value": 7}, cwd=REPO, server=server)
    assert result == {"rows_read": 7} and "quick 7" in log
    with pytest.raises(StepFailed, match="Connection refused") as caught:
        run_in_child("tests.orchestrate.helpers:lose_connection", {}, cwd=REPO, server=server)
    assert caught.value.transient
    with pytest.raises(StepFailed, match="ModuleNotFoundError") as caught:
        run_in_child("tests.orchestrate.no_such_module:f", {}, cwd=REPO, server=server)
    assert not caught.value.transient


def test_each_step_is_a_process_of_its_own_and_they_run_in_parallel(server: StepServer) -> None:
    def one(value: int) -> tuple[int, int]:
        result, _ = run_in_child(
            "tests.orchestrate.helpers:whoami", {"value": value}, cwd=REPO, server=server
        )
        return result["value"], result["pid"]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(8)))
    assert [value for value, _ in results] == list(range(8))
    pids = {pid for _, pid in results}
    assert len(pids) == 8 and os.getpid() not in pids


def test_a_timeout_kills_a_forked_step(
    server: StepServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    timeouts_count_once_announced(monkeypatch, pid_file, server)
    with pytest.raises(StepTimeout, match=r"timed out after 1\.5s") as caught:
        run_in_child(
            "tests.orchestrate.helpers:forever",
            {"pid_file": str(pid_file)},
            timeout=1.5,
            cwd=REPO,
            server=server,
        )
    assert "waiting forever" in caught.value.log
    assert _gone(int(pid_file.read_text()))
    result, _ = run_in_child("tests.orchestrate.helpers:quick", {"value": 1}, cwd=REPO, server=server)
    assert result == {"rows_read": 1}  # the server goes on serving


def test_kill_all_reaches_forked_steps(server: StepServer, tmp_path: Path) -> None:
    """One abort is enough, even when the step has started (its pid file exists) before the parent
    registered its pid: a step that registers after the abort is killed as it registers."""
    pid_file = tmp_path / "pid"
    processes = StepProcesses()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            run_in_child,
            "tests.orchestrate.helpers:forever",
            {"pid_file": str(pid_file)},
            cwd=REPO,
            server=server,
            processes=processes,
        )
        wait_until(pid_file.exists, "the step to start")
        processes.kill_all()
        with pytest.raises(StepFailed):
            running.result(timeout=GUARD)
    assert _gone(int(pid_file.read_text()))


def test_a_step_started_after_its_run_was_aborted_is_killed_at_once(
    server: StepServer, tmp_path: Path
) -> None:
    processes = StepProcesses()
    processes.kill_all()
    with pytest.raises(StepFailed):
        run_in_child(
            "tests.orchestrate.helpers:forever",
            {"pid_file": str(tmp_path / "pid")},
            cwd=REPO,
            server=server,
            processes=processes,
        )


def test_a_closed_server_falls_back_to_spawning(server: StepServer) -> None:
    server.close()
    result, _ = run_in_child("tests.orchestrate.helpers:whoami", {"value": 3}, cwd=REPO, server=server)
    assert result["value"] == 3


def test_a_run_starts_before_its_step_server(tmp_path: Path) -> None:
    """The server's start-up (a second or two) is part of the run's recorded duration: the project's
    datakit, which the server imports while it warms up, records when it did, after the run began."""
    from datakit.config import load_project
    from datakit.orchestrate.run import run_job
    from datakit.orchestrate.store import open_store

    root = tmp_path / "shop"
    stamped_shop(root)  # job `daily`: two load steps, so a step server runs them
    project = load_project(root)
    result = run_job(project, "daily")
    assert result.ok, result.errors
    in_server = [at for pid, at in imports(root) if pid != os.getpid()]
    assert in_server, "the step server did not import the project's datakit"
    store = open_store(project)
    try:
        run = store.get_run(result.run_id)
    finally:
        store.close()
    assert run.finished_at is not None
    assert run.started_at <= min(in_server) <= run.finished_at


def test_the_server_works_ahead_in_idle_time_and_its_steps_find_the_result(tmp_path: Path) -> None:
    """A call ahead runs after `ready` (later imports first), in the server: a step forked afterwards
    finds what it left in memory."""
    from datakit.orchestrate.stepserver import AheadCall

    done = tmp_path / "ahead-done"
    ahead = AheadCall("s1", "tests.orchestrate.helpers:remember", {"value": 42, "done": str(done)})
    server = StepServer(later=["json"], ahead=[ahead])
    server.start()
    try:
        wait_until(done.exists, "the call ahead")
        result, _ = run_in_child("tests.orchestrate.helpers:remembered", {}, cwd=REPO, server=server)
        assert result == {"value": 42}
    finally:
        server.close()


def test_a_step_requested_before_its_call_ahead_ran_has_it_run_first(tmp_path: Path) -> None:
    """The server is busy ahead of another step when step `s1` is requested: it runs `s1`'s own call
    ahead before forking it (the child would otherwise do that work itself)."""
    from datakit.orchestrate.stepserver import AheadCall

    busy = tmp_path / "busy"
    ahead = [
        AheadCall("s0", "tests.orchestrate.helpers:until_requested", {"started": str(busy)}),
        AheadCall("s1", "tests.orchestrate.helpers:remember", {"value": 42, "done": os.devnull}),
    ]
    server = StepServer(modules=["tests.orchestrate.helpers"], ahead=ahead)
    server.start()
    try:
        wait_until(busy.exists, "the server busy ahead of s0")
        step = {"step": {"id": "s1", "kind": "load"}}
        result, _ = run_in_child("tests.orchestrate.helpers:remembered", step, cwd=REPO, server=server)
        assert result == {"value": 42}
    finally:
        server.close()


def test_dbt_steps_fork_from_a_lane_of_their_own() -> None:
    """`StepServers`: a dbt step forks from the dbt lane (whose call ahead it finds), any other step
    from the main server; the run waits only for the main one to start."""
    from datakit.orchestrate.stepserver import AheadCall, StepServers

    ahead = [AheadCall("d", "tests.orchestrate.helpers:remember", {"value": 7, "done": os.devnull})]
    main = StepServer(modules=["tests.orchestrate.helpers"])
    lane = StepServer(modules=["tests.orchestrate.helpers"], ahead=ahead)
    servers = StepServers(main, lane)
    servers.start()
    try:
        dbt = {"step": {"id": "d", "kind": "dbt"}}
        load = {"step": {"id": "l", "kind": "load"}}
        target = "tests.orchestrate.helpers:remembered"
        assert run_in_child(target, dbt, cwd=REPO, server=servers)[0] == {"value": 7}
        assert run_in_child(target, load, cwd=REPO, server=servers)[0] == {}
        whoami = "tests.orchestrate.helpers:whoami"
        assert run_in_child(whoami, {"value": 1}, cwd=REPO, server=servers)[0]["value"] == 1
    finally:
        servers.close()
    assert not servers.alive
    result, _ = run_in_child(target, dbt, cwd=REPO, server=servers)  # closed: spawned, nothing remembered
    assert result == {}
