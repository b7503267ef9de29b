"""Plans as Prefect flows: one flow per (warehouse, job), one task run per attempted step.

The flow compiles the job's plan from the project when it runs (as `datakit run job` does) and walks
it with datakit's own DAG walker (`dagrun.run_dag`: `depends_on`, the job's `max_parallelism`, steps
sharing a DuckDB file one at a time, `continue_on_failure`), so the order, the concurrency and what is
skipped after a failure are exactly a local run's. Each step is a Prefect task called from the walker's
thread (in a copy of the flow's context, so it belongs to the flow run), with the upstream steps' task
states as `wait_for`, so Prefect's UI draws the plan's edges. The task runs the step with the local
executor's runner (`LocalRunner`: a child process forked from a warm step server, killed at the step's
timeout), so a step does the same work under every engine, and is recorded in datakit's run history
(`RunRecorder`, engine `prefect`, attached: the flow process heartbeats and watches the SLA).

Failure policy, translated to Prefect's task options:

* `retries` = max_attempts - 1; `retry_delay_seconds` = datakit's backoff for each retry (`retry_delay`,
  doubled per attempt with `exponential_backoff`, capped at `max_retry_delay`, with datakit's equal
  jitter drawn when the flow runs: each run has its own);
* `retry_condition_fn`: only a transient error is retried (`orchestrate.retry.is_transient`); a terminal
  one fails the task at its first attempt;
* `timeout_seconds` = the step's timeout plus a grace: datakit kills the step's process at the timeout
  itself (a transient error, so retried); Prefect's timeout is the backstop.

The flow run fails when a step failed or was skipped (its error says which, like a local run's), so
Prefect's flow-run state and datakit's run agree. Run events go to the job's channels from the flow's
state hooks (`on_completion`, `on_failure`, `on_crashed`, `on_cancellation`), built from the recorded
run; an SLA miss is announced while the flow runs (Prefect's own SLAs are a Cloud feature).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError
from datakit.log import get_logger, redact
from datakit.orchestrate.dagrun import NodeState, run_dag
from datakit.orchestrate.notify import EventKind
from datakit.orchestrate.recorder import RunRecorder
from datakit.orchestrate.retry import backoff_delay, is_transient
from datakit.orchestrate.store import RunStatus, StepStatus
from datakit.orchestrate.store.external import EngineRun

if TYPE_CHECKING:
    from prefect import Flow

    from datakit.config.project import Project
    from datakit.orchestrate.plan import Plan
    from datakit.orchestrate.stepkinds import Step
    from datakit.orchestrate.steps import StepOutput, StepRunner
    from datakit.orchestrate.store import StateStore

log = get_logger(__name__)
ENGINE = "prefect"
ENTRY_MODULE = "datakit.integrations.prefect.entry"
CONFIRM_IN_FLOW = "set the flow run's parameter confirm_full_refresh to true if that is what you want"
TIMEOUT_GRACE = 30.0
"""Seconds Prefect's timeout waits beyond the step's own (which datakit enforces by killing the step)."""


def flow_name(warehouse: str | None, job: str) -> str:
    """`datakit__<warehouse>__<job>`, or `datakit__<job>`: the names Airflow's DAGs have too."""
    return f"datakit__{warehouse}__{job}" if warehouse is not None else f"datakit__{job}"


def entrypoint(warehouse: str | None, job: str) -> str:
    """Where a Prefect process (`serve`'s runner, a worker) imports the flow from (`entry.py`)."""
    return f"{ENTRY_MODULE}.{entry_name(warehouse, job)}"


def entry_name(warehouse: str | None, job: str) -> str:
    """The flow's attribute in the entry module: `<warehouse>@<job>`, `@<job>` for the project's own."""
    return f"{warehouse or ''}@{job}"


def job_flow(warehouse: str | None, job: str, description: str | None = None) -> Flow[..., dict[str, str]]:
    """The Prefect flow of `job` for `warehouse` (None: the project itself).

    Its parameters say which project to run (`project_root`, `environment`; a deployment bakes them in)
    and how (`full_refresh`, `resume`: a failed run's id, whose succeeded steps are not repeated; a
    selection and a backfill window, as `datakit run job` and `datakit backfill job` take them:
    `plans.flow_plan`). A full refresh in `prod` also needs `confirm_full_refresh` (the CLI's `--yes`,
    serve's second tick): a run started from Prefect's UI or API is refused without it, like any other.
    """
    from prefect import flow

    def run(
        project_root: str,
        environment: str,
        full_refresh: bool = False,
        resume: int | None = None,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        backfill_start: str | None = None,
        backfill_end: str | None = None,
        backfill_chunk: str | None = None,
        backfill_max_parallelism: int = 1,
        confirm_full_refresh: bool = False,
    ) -> Any:
        from prefect.states import Cancelled

        from datakit.config import load_project
        from datakit.integrations.prefect.cancel import FlowCancelled
        from datakit.integrations.prefect.plans import flow_plan, options
        from datakit.orchestrate.store import open_store

        project = load_project(Path(project_root), environment=environment)
        if full_refresh:
            from datakit.orchestrate.run import refuse_full_refresh

            refuse_full_refresh(project, confirm_full_refresh, hint=CONFIRM_IN_FLOW)
        chosen = options(
            select, exclude, resume, backfill_start, backfill_end, backfill_chunk, backfill_max_parallelism
        )
        store = open_store(project)
        try:
            plan = flow_plan(project, job, warehouse, chosen, store)
            return run_plan(project, plan, full_refresh=full_refresh, resume=resume, store=store)
        except FlowCancelled as exc:  # a returned state is the flow run's final state
            return Cancelled(message=exc.message)
        finally:
            store.close()

    # the flow as the entry module names it: a deployment's entrypoint points there (`entry.py`)
    run.__module__ = ENTRY_MODULE
    run.__qualname__ = run.__name__ = entry_name(warehouse, job)
    hooks = _StateHooks(warehouse, job)
    where = f"warehouse {warehouse}" if warehouse else "the project itself"
    made: Flow[..., dict[str, str]] = flow(
        name=flow_name(warehouse, job),
        description=description or f"datakit job {job} for {where}",
        persist_result=False,
        validate_parameters=True,
        on_completion=[hooks.completed],
        on_failure=[hooks.failed],
        on_crashed=[hooks.crashed],
        on_cancellation=[hooks.cancelled],
    )(run)
    return made


def run_plan(
    project: Project,
    plan: Plan,
    *,
    full_refresh: bool = False,
    resume: int | None = None,
    runner: StepRunner | None = None,
    store: StateStore | None = None,
) -> dict[str, str]:
    """Run `plan` inside the current flow run: each step a Prefect task, the run in datakit's history.

    `runner` defaults to the local executor's (`LocalRunner`, with a step server); `store` to the one
    datakit.yaml configures. Returns each step's final status; raises DatakitError when a step failed
    or was skipped (the flow run fails with it).
    """
    from prefect.runtime import flow_run

    from datakit.orchestrate.executor import reusable_steps
    from datakit.orchestrate.store import open_store

    own_store = store is None
    state = open_store(project) if store is None else store
    flow_run_id = str(flow_run.get_id())
    try:
        reused = reusable_steps(state, plan, resume) if resume is not None else set()
        who = EngineRun(
            ENGINE,
            f"{ENGINE}:{flow_run_id}",
            url=_ui_url(flow_run_id),
            attached=True,
            exclusive=True,
        )
        recorder = RunRecorder(
            project,
            plan,
            who,
            store=state,
            resumed_from=resume,
            reused=frozenset(reused),
            announce_end=False,  # the flow's state hooks announce it (see the module docstring)
        )
        run_id = recorder.join()
        if run_id is not None:
            _say(f"recorded as datakit run {run_id} (datakit runs show {run_id})")
        try:
            return _walk(project, plan, recorder, runner, reused, full_refresh, run_id, flow_run_id)
        finally:
            recorder.close()
    finally:
        if own_store:
            state.close()


def _walk(
    project: Project,
    plan: Plan,
    recorder: RunRecorder,
    runner: StepRunner | None,
    reused: set[str],
    full_refresh: bool,
    run_id: int | None,
    flow_run_id: str,
) -> dict[str, str]:
    from datakit.integrations.prefect.cancel import CancelWatch, FlowCancelled
    from datakit.orchestrate.executor import run_keys
    from datakit.orchestrate.run import start_server, step_server
    from datakit.orchestrate.steps import LocalRunner

    server = None
    if runner is None:
        assert recorder.store is not None
        keys = run_keys(recorder.store, run_id) if run_id is not None else (f"{ENGINE}:{flow_run_id}",)
        server = step_server(project, plan)
        runner = LocalRunner(project.root, project.environment, full_refresh=full_refresh, server=server)
        runner = runner.for_run(keys)
        if server is not None:
            start_server(server)
    watch = None
    if run_id is not None and recorder.store is not None:  # an operator's cancel stops the steps
        watch = CancelWatch(recorder.store, run_id, getattr(runner, "cancel", None)).start()
    tasks = _StepTasks(plan, recorder, runner, watch.requested if watch is not None else None)
    try:
        states = tasks.run(reused)
    finally:
        if watch is not None:
            watch.close()
        if server is not None:
            server.close()
    skipped = [s for s, st in states.items() if st is NodeState.SKIPPED]
    if watch is not None and watch.requested.is_set():
        recorder.skip([*skipped, *tasks.not_started])
        message = f"cancelled by {watch.by}"
        recorder.finish(RunStatus.CANCELLED, message)
        raise FlowCancelled(message)
    recorder.skip(skipped)  # pending steps the walk gave up on (continue_on_failure: false)
    recorder.settle()
    failed = [s for s, st in states.items() if st is NodeState.FAILED]
    if failed or skipped:
        from datakit.orchestrate.store.records import failure_summary

        raise DatakitError(f"job {plan.job}: {failure_summary(failed, skipped)}")
    return {s: (StepStatus.REUSED if s in reused else StepStatus(st.value)).value for s, st in states.items()}


class _StepTasks:
    """The plan's steps as Prefect tasks, walked by datakit's DAG walker."""

    def __init__(
        self, plan: Plan, recorder: RunRecorder, runner: StepRunner, cancelled: threading.Event | None
    ) -> None:
        self.plan = plan
        self.cancelled = cancelled
        self.not_started: list[str] = []
        """Steps the walk reached after an operator's cancel: no task runs them."""
        self.recorder = recorder
        self.runner = runner
        self.by_id = {step.id: step for step in plan.steps}
        self.edges = _edges(plan)
        self.states: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.context = contextvars.copy_context()  # the flow run's: each task call runs in a copy

    def run(self, reused: set[str]) -> dict[str, NodeState]:
        plan = self.plan
        return run_dag(
            [s.id for s in plan.steps],
            {s.id: s.depends_on for s in plan.steps},
            self.work,
            limit=plan.parallelism,
            keep_going=plan.continue_on_failure,
            exclusive={s.id: s.exclusive for s in plan.steps},
            done=reused,
        )

    def work(self, step_id: str) -> bool:
        """(In a walker thread.) The step's task, with its upstream tasks' states as `wait_for`."""
        step = self.by_id[step_id]
        if self.cancelled is not None and self.cancelled.is_set():
            with self.lock:
                self.not_started.append(step_id)
            return False
        with self.lock:  # a failed upstream's state would stop Prefect from running the task at all
            upstream = [
                self.states[u] for u in self.edges[step_id] if self.states.get(u, _NONE).is_completed()
            ]
        call = step_task(step, self._body(step))
        state = self.context.copy().run(lambda: call(wait_for=upstream, return_state=True))
        with self.lock:
            self.states[step_id] = state
        return bool(state.is_completed())

    def _body(self, step: Step) -> Callable[[], dict[str, Any]]:
        recorder, runner, cancelled = self.recorder, self.runner, self.cancelled

        def attempt() -> dict[str, Any]:
            from prefect.runtime import task_run

            with recorder.attempt(step, int(task_run.get_run_count() or 1)) as current:
                try:
                    current.output = runner(step)
                except Exception as exc:
                    if cancelled is None or not cancelled.is_set():
                        raise
                    # killed by an operator's cancel: terminal (a DatakitError is not transient)
                    raise DatakitError(f"cancelled while running ({exc})") from None
            output: StepOutput = current.output
            if output.rows:
                _say(", ".join(f"{k.removeprefix('rows_')} {v:,}" for k, v in output.rows.items()))
            return {"step": step.id, "rows": dict(output.rows)}

        return attempt


class _NotRun:
    @staticmethod
    def is_completed() -> bool:
        return False


_NONE = _NotRun()


def _edges(plan: Plan) -> dict[str, tuple[str, ...]]:
    """What each step's task waits for in Prefect's eyes (its UI draws these): the plan's dependencies,
    and in sequential mode the step before (the walk runs them one at a time in that order)."""
    if plan.mode == "sequential":
        ids = [step.id for step in plan.steps]
        return {step: tuple(ids[i - 1 : i]) for i, step in enumerate(ids)}
    if plan.mode == "parallel":
        return {step.id: () for step in plan.steps}
    return {step.id: step.depends_on for step in plan.steps}


def step_task(step: Step, body: Callable[[], dict[str, Any]]) -> Any:
    """`body` as the Prefect task of `step`, with the step's retry policy and timeout (module docstring)."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    policy = step.retry
    delays = [backoff_delay(policy, attempt) for attempt in range(1, policy.max_attempts)]
    return task(
        name=step.id,
        task_run_name=step.id,
        description=f"datakit {step.kind} step {step.id}",
        retries=policy.max_attempts - 1,
        retry_delay_seconds=delays,
        retry_condition_fn=_retry_transient,
        timeout_seconds=step.timeout + TIMEOUT_GRACE if step.timeout else None,
        cache_policy=NO_CACHE,
        persist_result=False,
        tags=[f"datakit:{step.kind}"],
    )(body)


def _retry_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry a transient error only (a terminal one fails at once)."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and is_transient(error)


def _ui_url(flow_run_id: str) -> str | None:
    """The flow run's page in Prefect's UI (as its "View at" log line says it)."""
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}" if base else None


def _say(message: str) -> None:
    """A line in the Prefect run's log (shown in its UI); datakit's log outside a run."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        get_run_logger().info(redact(message))
    except MissingContextError:
        log.info(message)


class _StateHooks:
    """The flow's state hooks: announce the run's end to the job's channels, from the recorded run, and
    end a run Prefect ended without the flow's body (crashed, cancelled)."""

    def __init__(self, warehouse: str | None, job: str) -> None:
        self.warehouse = warehouse
        self.job = job

    def completed(self, flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG002
        self._announce(flow_run, None, create=False)

    def failed(self, flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG002
        self._announce(flow_run, f"flow run failed: {state.message or state.name}", create=False)

    def crashed(self, flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG002
        self._announce(flow_run, f"flow run crashed: {state.message or state.name}", create=True)

    def cancelled(self, flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG002
        message = f"flow run cancelled: {state.message or state.name}"
        self._announce(flow_run, message, create=True, status=RunStatus.CANCELLED)

    def _announce(
        self, flow_run: Any, error: str | None, *, create: bool, status: RunStatus | None = None
    ) -> None:
        """End the recorded run if the body could not (then `finish` announces it); else announce the
        end the body recorded. Never raises: a hook must not change the flow run's outcome."""
        try:
            recorder = self._recorder(flow_run, create)
        except Exception as exc:
            log.warning("prefect flow run %s: its end not announced: %s", flow_run.id, redact(str(exc)))
            return
        if recorder is None:
            return
        try:
            run = recorder.current()
            if run is None:
                return
            if run.status in (RunStatus.RUNNING.value, RunStatus.QUEUED.value):
                ended = status or (RunStatus.FAILED if error else RunStatus.SUCCEEDED)
                if ended is RunStatus.CANCELLED and run.cancel_requested is not None:
                    error = f"cancelled by {run.cancel_requested}"  # an operator's own cancel
                recorder.announce_end = run.cancel_requested is None  # which pages nobody
                recorder.finish(ended, error)
            elif run.status == RunStatus.CANCELLED.value and run.cancel_requested is not None:
                return  # cancelled by an operator, who knows
            else:
                ok = run.status == RunStatus.SUCCEEDED.value
                recorder.announce(EventKind.RUN_SUCCEEDED if ok else EventKind.RUN_FAILED)
        finally:
            recorder.close()

    def _recorder(self, flow_run: Any, create: bool) -> RunRecorder | None:
        from datakit.config import load_project
        from datakit.orchestrate.plan import compile_job

        parameters = flow_run.parameters or {}
        project = load_project(Path(parameters["project_root"]), environment=parameters["environment"])
        plan = compile_job(project, self.job, self.warehouse)
        who = EngineRun(ENGINE, f"{ENGINE}:{flow_run.id}", attached=True)
        recorder = RunRecorder(project, plan, who, announce_end=False)
        if recorder.join(create=create) is None:
            recorder.close()
            return None
        return recorder
