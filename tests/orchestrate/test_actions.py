"""Operators' actions on the real store: cancel a run (from any process, recorded `cancelled`), retry one
failed step of a run, pause and unpause triggers, and the audit log of each — through the functions the
CLI and the status pages share."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from datakit.cli.app import main
from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.errors import DatakitError
from datakit.orchestrate.actions import cancel_run, pause_trigger, unpause_trigger
from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.stepkinds import Step
from datakit.orchestrate.steps import StepOutput
from datakit.orchestrate.store import RunStatus, StateStore, StepStatus, open_store
from tests.orchestrate.helpers import Recorder, make_plan
from tests.waits import GUARD


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`datakit ARGS` in this process, as its console script runs it: (exit code, stdout + stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


class Blocking:
    """A runner whose step `b` runs until the executor cancels the run (its `cancel` is called)."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.stopped = threading.Event()

    def __call__(self, step: Step) -> StepOutput:
        if step.id != "b":
            return StepOutput(log=f"ran {step.id}")
        self.running.set()
        if not self.stopped.wait(GUARD):
            raise AssertionError("the run was never cancelled")
        raise DatakitError("step process killed")

    def cancel(self) -> None:
        self.stopped.set()


def test_a_cancel_request_in_the_store_stops_the_run_and_records_it_cancelled(store: StateStore) -> None:
    runner = Blocking()
    executor = Executor(store, runner, heartbeat_every=0.05, cancel_poll=0.05)
    plan = make_plan({"a": [], "b": ["a"], "c": ["b"]})
    outcome: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("r", executor.run(plan)))
    thread.start()
    assert runner.running.wait(GUARD)
    (run,) = store.active_runs()
    cancel_run(store, run.id, "alice", client="127.0.0.1")  # what a page and `datakit runs cancel` do
    thread.join(GUARD)
    result = outcome["r"]
    assert result.status is RunStatus.CANCELLED
    assert result.steps == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FAILED, "c": StepStatus.SKIPPED}
    recorded = store.get_run(run.id)
    assert recorded.status == "cancelled" and recorded.finished_at is not None
    assert (recorded.error or "").startswith("cancelled by alice at ")
    assert "1 failed: b" in (recorded.error or "")
    assert store.active_run("test_job") is None  # the job's one active slot is free again
    (entry,) = store.list_audit()
    assert (entry.actor, entry.action, entry.target, entry.outcome, entry.client) == (
        "alice",
        "cancel",
        f"run {run.id}",
        "ok",
        "127.0.0.1",
    )


def test_cancelling_a_finished_run_is_refused_and_audited(store: StateStore) -> None:
    result = Executor(store, Recorder(), heartbeat_every=0.05).run(make_plan({"a": []}))
    with pytest.raises(DatakitError, match=f"run {result.run_id} is succeeded, not running"):
        cancel_run(store, result.run_id, "bob")
    (entry,) = store.list_audit()
    assert (entry.actor, entry.outcome) == ("bob", "refused")
    assert "not running" in (entry.detail or "")
    assert store.get_run(result.run_id).status == "succeeded"


def test_retrying_one_failed_step_runs_it_alone_and_resuming_then_runs_the_rest(store: StateStore) -> None:
    deps = {"a": [], "b": ["a"], "c": [], "d": ["b"]}
    first = Executor(store, Recorder(terminal={"b", "c"}), heartbeat_every=0.05).run(
        make_plan(deps, keep_going=True)
    )
    assert first.steps == {
        "a": StepStatus.SUCCEEDED,
        "b": StepStatus.FAILED,
        "c": StepStatus.FAILED,
        "d": StepStatus.SKIPPED,
    }
    runner = Recorder()
    retry = Executor(store, runner, heartbeat_every=0.05).run(
        make_plan(deps, keep_going=True), resume=first.run_id, only="b"
    )
    assert runner.started == ["b"]  # only the retried step: not its sibling c, not d downstream
    assert retry.steps == {
        "a": StepStatus.REUSED,
        "b": StepStatus.SUCCEEDED,
        "c": StepStatus.SKIPPED,
        "d": StepStatus.SKIPPED,
    }
    recorded = store.get_run(retry.run_id)
    assert recorded.resumed_from == first.run_id and recorded.status == "failed"
    assert "this run retried b only; resume it for the rest" in (recorded.error or "")

    rest = Recorder()
    last = Executor(store, rest, heartbeat_every=0.05).run(
        make_plan(deps, keep_going=True), resume=retry.run_id
    )
    assert sorted(rest.started) == ["c", "d"] and last.ok


@pytest.mark.parametrize(
    ("only", "message"),
    [
        ("a", "step 'a' succeeded in run"),
        ("d", "step 'd' cannot run before b, which did not succeed"),
        ("bb", "has no step 'bb'"),
    ],
)
def test_a_retry_of_a_step_that_cannot_be_retried_starts_nothing(
    store: StateStore, only: str, message: str
) -> None:
    deps = {"a": [], "b": ["a"], "d": ["b"]}
    first = Executor(store, Recorder(terminal={"b"}), heartbeat_every=0.05).run(make_plan(deps))
    with pytest.raises(DatakitError, match=message):
        Executor(store, Recorder(), heartbeat_every=0.05).run(make_plan(deps), resume=first.run_id, only=only)
    assert [r.id for r in store.list_runs()] == [first.run_id]


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    init_project(tmp_path / "p")
    return tmp_path / "p"


def test_pause_and_unpause_through_the_cli_are_kept_and_audited(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli(capsys, "trigger", "pause", "daily_at_two", "--project", str(project_dir))
    assert code == 0, out
    assert "was paused already" in cli(capsys, "trigger", "pause", "daily_at_two", "-p", str(project_dir))[1]
    code, out = cli(capsys, "trigger", "pause", "daily_at_too", "--project", str(project_dir))
    assert code != 0 and "did you mean 'daily_at_two'" in out
    project = load_project(project_dir)
    store = open_store(project)
    try:
        assert set(store.paused_triggers()) == {"daily_at_two"}
        assert store.paused_triggers()["daily_at_two"].actor.startswith("cli:")
        assert unpause_trigger(project, store, "daily_at_two", "carol")
        assert not unpause_trigger(project, store, "daily_at_two", "carol")
        with pytest.raises(DatakitError, match="did you mean 'daily_at_two'"):
            pause_trigger(project, store, "daily_at_too", "carol")
        entries = [(e.actor, e.action, e.outcome, e.detail) for e in reversed(store.list_audit())]
    finally:
        store.close()
    assert [(a, o) for _, a, o, _ in entries] == [
        ("pause", "ok"),
        ("pause", "ok"),
        ("pause", "refused"),
        ("unpause", "ok"),
        ("unpause", "ok"),
        ("pause", "refused"),
    ]
    assert entries[1][3] == "it was paused already" and entries[4][3] == "it was not paused already"
    assert entries[0][0].startswith("cli:") and entries[3][0] == "carol"


def test_cli_cancel_of_a_run_that_is_not_running_says_why(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = load_project(project_dir)
    store = open_store(project)
    try:
        run_id = store.start_run("daily", "{}")
        store.finish_run(run_id, RunStatus.FAILED, "boom")
    finally:
        store.close()
    code, out = cli(capsys, "runs", "cancel", str(run_id), "--project", str(project_dir))
    assert code != 0
    assert f"run {run_id} is failed, not running: nothing to cancel" in out


def test_cli_cancel_of_an_airflow_run_says_how_to_cancel_it_in_airflow_and_records_nothing(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datakit.orchestrate.store.external import EngineRun, ExternalRuns

    project = load_project(project_dir)
    store = open_store(project)
    try:
        who = EngineRun("airflow", "airflow:datakit__daily:manual__2027-01-15", url="http://af/dags/x")
        run_id = ExternalRuns(store).join(who, job="daily", plan={"job": "daily", "steps": [{"id": "a"}]})
        code, out = cli(capsys, "runs", "cancel", str(run_id), "--project", str(project_dir))
        run = store.get_run(run_id)
        (entry,) = store.list_audit()
    finally:
        store.close()
    assert code != 0 and "Traceback" not in out
    assert f"run {run_id} is an Airflow DAG run: datakit cannot cancel it" in out
    assert "mark DAG run manual__2027-01-15 of DAG datakit__daily as failed (http://af/dags/x)" in out
    assert "/api/v2/dags/datakit__daily/dagRuns/manual__2027-01-15" in out
    assert run.status == "running" and run.cancel_requested is None  # nothing pretends it was cancelled
    assert (entry.action, entry.outcome) == ("cancel", "refused")


def test_cancel_of_another_engines_run_without_a_way_to_reach_it_is_refused(store: StateStore) -> None:
    from datakit.orchestrate.store.external import EngineRun, ExternalRuns

    who = EngineRun("prefect", "prefect:0d5c3b9e-4a43-4bb1-9b52-1f2d1c0b8e11", attached=True)
    run_id = ExternalRuns(store).join(who, job="daily", plan={"job": "daily", "steps": [{"id": "a"}]})
    with pytest.raises(DatakitError, match=f"run {run_id} is executed by prefect: cancel it there"):
        cancel_run(store, run_id, "alice")
    asked: list[tuple[int, str]] = []
    cancel_run(store, run_id, "alice", engine_cancel=lambda run, actor: asked.append((run.id, actor)))
    assert asked == [(run_id, "alice")] and (store.cancel_requested(run_id) or "").startswith("alice at ")


def test_cancel_requests_pauses_and_the_audit_log_on_each_store(any_store: StateStore) -> None:
    run = any_store.start_run("daily", "{}")
    assert any_store.request_cancel(run, "alice") and any_store.request_cancel(run, "bob")
    assert (any_store.cancel_requested(run) or "").startswith("alice at ")  # the first request stands
    any_store.finish_run(run, RunStatus.CANCELLED, "cancelled by alice")
    assert not any_store.request_cancel(run, "carol")
    assert any_store.pause_trigger("nightly.acme", "alice") and not any_store.pause_trigger(
        "nightly.acme", "x"
    )
    assert set(any_store.paused_triggers()) == {"nightly.acme"}
    ids = [any_store.record_audit("alice", "pause", f"trigger t{i}", client="127.0.0.1") for i in range(3)]
    assert [e.id for e in any_store.list_audit(limit=2)] == ids[:0:-1]
    assert [e.target for e in any_store.list_audit(before=ids[1])] == ["trigger t0"]
