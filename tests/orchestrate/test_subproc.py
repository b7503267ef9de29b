"""Steps in child processes: a timeout kills a step that would run forever; errors keep their verdict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datakit.orchestrate.executor import Executor
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, Step
from datakit.orchestrate.steps import StepOutput
from datakit.orchestrate.store import StateStore
from datakit.orchestrate.subproc import StepFailed, StepTimeout, run_in_child
from tests.conftest import REPO
from tests.orchestrate.helpers import make_plan, timeouts_count_once_announced
from tests.waits import finishes, wait_until


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a killed child of ours that was not reaped yet is a zombie: gone for our purposes
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


def test_timeout_kills_a_step_that_would_run_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pid"
    timeouts_count_once_announced(monkeypatch, pid_file)
    with pytest.raises(StepTimeout, match=r"timed out after 1\.5s") as caught:
        run_in_child("tests.orchestrate.helpers:forever", {"pid_file": str(pid_file)}, timeout=1.5, cwd=REPO)
    assert caught.value.transient
    assert "waiting forever" in caught.value.log
    assert _gone(int(pid_file.read_text()))


def test_child_result_log_and_transient_errors() -> None:
    result, log = run_in_child("tests.orchestrate.helpers:quick", {"value": 7}, cwd=REPO)
    assert result == {"rows_read": 7} and "quick 7" in log
    with pytest.raises(StepFailed, match="Connection refused") as caught:
        run_in_child("tests.orchestrate.helpers:lose_connection", {}, cwd=REPO)
    assert caught.value.transient
    with pytest.raises(StepFailed, match="ModuleNotFoundError") as caught:
        run_in_child("tests.orchestrate.no_such_module:f", {}, cwd=REPO)
    assert not caught.value.transient


def test_executor_records_a_timed_out_step(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    timeouts_count_once_announced(monkeypatch, pid_file)

    def runner(step: Step) -> StepOutput:
        run_in_child(
            "tests.orchestrate.helpers:forever", {"pid_file": str(pid_file)}, timeout=step.timeout, cwd=REPO
        )
        return StepOutput()  # pragma: no cover - never reached

    plan = make_plan({"forever": []})
    plan = type(plan)(
        job=plan.job,
        mode=plan.mode,
        max_parallelism=1,
        continue_on_failure=False,
        steps=(LoadStep(id="forever", params=LoadParams(pipeline="p", resource="r"), timeout=1.0),),
    )
    result = Executor(store, runner, sleep=lambda _: None).run(plan)
    assert not result.ok and "timed out after 1s" in result.errors["forever"]
    (step,) = store.get_run(result.run_id).steps
    assert step.status == "failed" and "waiting forever" in (step.attempt_records[0].log or "")
    assert _gone(int(pid_file.read_text()))


def test_interrupted_run_kills_its_running_steps(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datakit.orchestrate import dagrun
    from datakit.orchestrate.subproc import StepProcesses

    pid_file = tmp_path / "pid"
    processes = StepProcesses()

    class Forever:
        def __call__(self, step: Step) -> StepOutput:
            run_in_child(
                "tests.orchestrate.helpers:forever",
                {"pid_file": str(pid_file)},
                cwd=REPO,
                processes=processes,
            )
            return StepOutput()  # pragma: no cover - never reached

        def cancel(self) -> None:
            processes.kill_all()

    def interrupted_wait(*args: object, **kwargs: object) -> object:
        """Ctrl-C arrives while the executor waits for the running step (no real signal: xdist-safe)."""
        wait_until(pid_file.exists, "the step to start")
        raise KeyboardInterrupt

    monkeypatch.setattr(dagrun, "wait", interrupted_wait)
    executor = Executor(store, Forever(), sleep=lambda _: None)
    with pytest.raises(KeyboardInterrupt):  # a run that waited for its step would never finish
        finishes(lambda: executor.run(make_plan({"forever": []})), "the interrupted run")
    assert _gone(int(pid_file.read_text()))
    (run,) = store.list_runs()
    assert run.status == "failed" and "KeyboardInterrupt" in (run.error or "")
