"""Steps forked from a warm step server behave as spawned ones: results, logs, errors, timeouts, kills."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from datakit.orchestrate.stepserver import StepServer
from datakit.orchestrate.subproc import StepFailed, StepTimeout, kill_all, run_in_child
from tests.conftest import REPO
from tests.orchestrate.helpers import timeouts_count_once_announced
from tests.orchestrate.test_subproc import _gone
from tests.waits import wait_until


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
    pid_file = tmp_path / "pid"
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            run_in_child,
            "tests.orchestrate.helpers:forever",
            {"pid_file": str(pid_file)},
            cwd=REPO,
            server=server,
        )
        wait_until(pid_file.exists, "the step to start")

        def killed() -> bool:
            kill_all()  # until it lands: the child can write its pid before the parent registers it
            return running.done()

        wait_until(killed, "kill_all to end the step")
        with pytest.raises(StepFailed):
            running.result()
    assert _gone(int(pid_file.read_text()))


def test_a_closed_server_falls_back_to_spawning(server: StepServer) -> None:
    server.close()
    result, _ = run_in_child("tests.orchestrate.helpers:whoami", {"value": 3}, cwd=REPO, server=server)
    assert result["value"] == 3
