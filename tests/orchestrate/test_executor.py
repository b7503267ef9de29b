"""The local executor with in-process steps: concurrency limits, failure handling, retries, history."""

from __future__ import annotations

import threading

import pytest

from datakit.orchestrate.executor import Executor
from datakit.orchestrate.stepkinds import RetryPolicy
from datakit.orchestrate.store import RunStatus, StateStore, StepStatus
from tests.orchestrate.helpers import Recorder, make_plan


def _executor(store: StateStore, runner: Recorder, sleeps: list[float] | None = None) -> Executor:
    waits = sleeps if sleeps is not None else []
    return Executor(store, runner, sleep=waits.append, rand=lambda: 0.5, heartbeat_every=0.05)


def test_fifty_step_dag_runs_exactly_max_parallelism_at_once(store: StateStore) -> None:
    # five layers of ten: step i waits for step i-10
    deps = {f"s{i:02d}": [f"s{i - 10:02d}"] if i >= 10 else [] for i in range(50)}
    runner = Recorder(pause=0.02, together=4)
    result = _executor(store, runner).run(make_plan(deps, limit=4))
    assert result.ok
    assert runner.max_active == 4
    order = runner.started
    for i in range(10, 50):
        assert order.index(f"s{i - 10:02d}") < order.index(f"s{i:02d}")
    assert len(store.get_run(result.run_id).steps) == 50


def test_sequential_runs_one_at_a_time_in_order(store: StateStore) -> None:
    runner = Recorder(pause=0.005)
    plan = make_plan({"c": [], "a": [], "b": []}, mode="sequential", limit=8)
    assert _executor(store, runner).run(plan).ok
    assert runner.max_active == 1 and runner.started == ["c", "a", "b"]


def test_stop_at_first_failure_skips_pending(store: StateStore) -> None:
    runner = Recorder(terminal={"a"})
    plan = make_plan({"a": [], "b": [], "c": ["b"]}, mode="sequential")
    result = _executor(store, runner).run(plan)
    assert result.status is RunStatus.FAILED
    assert result.steps == {"a": StepStatus.FAILED, "b": StepStatus.SKIPPED, "c": StepStatus.SKIPPED}
    assert runner.started == ["a"]
    recorded = {s.step_id: s.status for s in store.get_run(result.run_id).steps}
    assert recorded == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert result.resume_command == f"datakit run job test_job --resume {result.run_id}"


def test_continue_on_failure_finishes_independent_branches(store: StateStore) -> None:
    runner = Recorder(terminal={"a"})
    deps = {"a": [], "a2": ["a"], "a3": ["a2"], "b": [], "b2": ["b"], "c": ["a", "b"]}
    result = _executor(store, runner).run(make_plan(deps, keep_going=True, limit=1))
    assert result.steps == {
        "a": StepStatus.FAILED,
        "a2": StepStatus.SKIPPED,
        "a3": StepStatus.SKIPPED,
        "b": StepStatus.SUCCEEDED,
        "b2": StepStatus.SUCCEEDED,
        "c": StepStatus.SKIPPED,
    }
    assert result.status is RunStatus.FAILED


def test_flaky_step_succeeds_on_attempt_two_with_both_attempts_recorded(store: StateStore) -> None:
    runner = Recorder(flaky={"a": 1})
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=3, retry_delay=30, exponential_backoff=True, max_retry_delay=600)
    result = _executor(store, runner, sleeps).run(make_plan({"a": []}, retry=retry))
    assert result.ok
    (step,) = store.get_run(result.run_id).steps
    assert step.status == "succeeded" and step.attempts == 2
    assert (step.rows_read, step.rows_loaded, step.rows_rejected) == (3, 2, 1)
    first, second = step.attempt_records
    assert first.status == "failed" and first.transient and "server closed" in (first.error or "")
    assert first.retry_in == pytest.approx(22.5)  # 30 s, equal jitter with rand=0.5: 15 + 7.5
    assert second.status == "succeeded" and second.log == "ran a"
    assert sleeps == [pytest.approx(22.5)]


def test_transient_failures_back_off_exponentially_up_to_the_cap(store: StateStore) -> None:
    runner = Recorder(fail={"a"})
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=5, retry_delay=10, exponential_backoff=True, max_retry_delay=50)
    result = _executor(store, runner, sleeps).run(make_plan({"a": []}, retry=retry))
    assert not result.ok and runner.calls["a"] == 5
    assert sleeps == [7.5, 15.0, 30.0, 37.5]  # 10, 20, 40, 50 (capped) with equal jitter at 0.5
    attempts = store.get_run(result.run_id).steps[0].attempt_records
    assert [a.attempt for a in attempts] == [1, 2, 3, 4, 5]
    assert attempts[-1].retry_in is None


def test_terminal_errors_are_not_retried(store: StateStore) -> None:
    runner = Recorder(terminal={"a"})
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=5, retry_delay=1)
    result = _executor(store, runner, sleeps).run(make_plan({"a": []}, retry=retry))
    assert runner.calls["a"] == 1 and sleeps == []
    assert "contract violated" in result.errors["a"]


def test_resume_reruns_only_failed_and_skipped_steps(store: StateStore) -> None:
    deps = {"a": [], "b": [], "c": ["b"], "d": ["a"]}
    first = _executor(store, Recorder(terminal={"b"})).run(make_plan(deps, keep_going=True, limit=1))
    assert first.steps["c"] is StepStatus.SKIPPED and first.steps["d"] is StepStatus.SUCCEEDED
    runner = Recorder()
    second = _executor(store, runner).run(make_plan(deps, keep_going=True), resume=first.run_id)
    assert second.ok and sorted(runner.started) == ["b", "c"]
    run = store.get_run(second.run_id)
    assert run.resumed_from == first.run_id
    assert {s.step_id: s.status for s in run.steps} == {
        "a": "reused",
        "b": "succeeded",
        "c": "succeeded",
        "d": "reused",
    }
    with pytest.raises(Exception, match="nothing to resume"):
        _executor(store, Recorder()).run(make_plan(deps), resume=second.run_id)


def test_heartbeats_are_written_while_a_run_lasts(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    beats: list[int] = []
    three = threading.Event()  # the step lasts until three heartbeats were written
    real = store.heartbeat

    def heartbeat(run_id: int) -> None:
        real(run_id)
        beats.append(run_id)
        if len(beats) >= 3:
            three.set()

    monkeypatch.setattr(store, "heartbeat", heartbeat)
    result = _executor(store, Recorder(until=three)).run(make_plan({"a": []}))
    assert len(beats) >= 3 and set(beats) == {result.run_id}
    assert store.get_run(result.run_id).status == "succeeded"


def test_steps_sharing_an_exclusive_key_never_overlap(store: StateStore) -> None:
    from dataclasses import replace

    plan = make_plan({f"s{i}": [] for i in range(6)}, mode="parallel", limit=4)
    shared = tuple(replace(s, exclusive=("duckdb:/w.duckdb",)) for s in plan.steps)
    runner = Recorder(pause=0.02)
    assert _executor(store, runner).run(replace(plan, steps=shared)).ok
    assert runner.max_active == 1
    assert runner.started == [f"s{i}" for i in range(6)]
