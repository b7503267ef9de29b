"""The local executor: one run of a plan — retries, skips, heartbeats and history — around `run_dag`.

The walk itself is generic (`dagrun`); how a step runs is pluggable (`StepRunner`); this module adds
what a *run* is: a row in the state store (at most one active per job), every attempt recorded with its
error and log, retries of transient failures only (`retry`), a heartbeat so a dead process is detected,
and resuming a failed run by re-running only its failed and skipped steps — a load step that committed
although its run never heard of it (killed in between) is not loaded again: the runner is told the run's
and its predecessors' keys, and the destination decides (`LocalRunner.for_run`). With a `notify` callable
(a `Notifier`), the run's end is announced after it is recorded, and a run outliving its plan's SLA is
recorded as a miss and announced while it is still running (`SlaWatch`).

Sleeping between attempts and the jitter are injected (`sleep`, `rand`), so tests check backoff delays
without waiting for them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError
from datakit.log import get_logger, redact
from datakit.orchestrate.dagrun import NodeState, run_dag
from datakit.orchestrate.notify import EventKind, RunEvent, SlaWatch, sla_text
from datakit.orchestrate.plan import Plan, resume_command
from datakit.orchestrate.retry import backoff_delay, is_transient
from datakit.orchestrate.stepkinds import Step, step_data
from datakit.orchestrate.steps import StepRunner
from datakit.orchestrate.store import RunStatus, StateStore, StepStatus
from datakit.orchestrate.store.records import failure_summary

if TYPE_CHECKING:
    from datakit.lineage.openlineage import Phase, StepEvent

log = get_logger(__name__)
HEARTBEAT_EVERY = 10.0
CANCEL_POLL = 1.0
NOTICE_GRACE = 15.0
"""Seconds the end of a run waits for an SLA notice still being sent (channels time out sooner)."""


@dataclass(frozen=True)
class RunResult:
    """How a run ended; `steps` maps each step id to its final status."""

    run_id: int
    job: str
    status: RunStatus
    steps: dict[str, StepStatus]
    errors: dict[str, str] = field(default_factory=dict)
    sla_missed: bool = False
    warehouse: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def resume_command(self) -> str | None:
        """How to re-run only the failed and skipped steps (None when there is nothing to resume)."""
        if self.ok:
            return None
        return resume_command(self.job, self.warehouse, self.run_id)


@dataclass
class Executor:
    """Runs plans with `runner`, recording into `store`."""

    store: StateStore
    runner: StepRunner
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    heartbeat_every: float = HEARTBEAT_EVERY
    notify: Callable[[RunEvent], None] | None = None
    """Receives run_failed / run_succeeded / sla_missed; must not raise (a `Notifier` never does)."""
    cancel: threading.Event | None = None
    """Set by the owner (a stopping daemon) to cancel the run: running steps are killed, no step starts."""
    cancel_poll: float = CANCEL_POLL
    """Seconds between looks at the store for an operator's cancel request (`StateStore.request_cancel`,
    from any process); such a run is recorded `cancelled`, one stopped by `cancel` alone `failed`."""
    observe: Callable[[StepEvent], None] | None = None
    """Told each start and end of the run and of its steps (OpenLineage: `lineage.openlineage`); must
    not raise (its errors are its own: an `Emitter` logs them)."""
    _aborted: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def run(
        self,
        plan: Plan,
        *,
        allow_concurrent: bool = False,
        resume: int | None = None,
        tick_key: str | None = None,
        on_started: Callable[[int], None] | None = None,
        only: str | None = None,
    ) -> RunResult:
        """Run `plan` once; raises AlreadyRunning when the job is active (unless `allow_concurrent`).

        `tick_key` names the trigger firing that starts the run (TickFired if it already started one).
        `on_started(run_id)` is called once the run is committed, before any step runs (an error it
        raises fails the run).

        `only` (with `resume`) retries that one step of the resumed run, which must have failed or been
        skipped: the run reuses what succeeded and runs nothing else. Steps left out are recorded
        skipped, so the run succeeds only when the retried step was the last thing missing; resuming
        it runs the rest.
        """
        reused = self._reusable(plan, resume) if resume is not None else set()
        left_out: set[str] = set()
        if only is not None:
            left_out = self._left_out(plan, resume, reused, only)
        run_id = self.store.start_run(
            plan.job,
            json.dumps(plan.as_dict()),
            allow_concurrent=allow_concurrent,
            resumed_from=resume,
            warehouse=plan.warehouse,
            tick_key=tick_key,
        )
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run_id, stop), daemon=True, name="datakit-heartbeat")
        beat.start()
        threading.Thread(
            target=self._watch_cancel, args=(run_id, stop), daemon=True, name="datakit-cancel"
        ).start()
        watch = SlaWatch(
            plan.sla,
            record=lambda: self._record_sla_miss(run_id, plan),
            fire=lambda: self._tell(EventKind.SLA_MISSED, run_id, plan),
        ).start()
        errors: dict[str, str] = {}
        by_id = {s.id: s for s in plan.steps}
        runner: StepRunner | None = None
        try:
            if on_started is not None:  # the run's clocks (heartbeat, SLA) run already
                on_started(run_id)
            self.store.add_steps(run_id, [s.id for s in plan.steps], reused)
            self._observe("start", run_id, plan)
            runner = self._runner_for(run_id)
            states = run_dag(
                [s.id for s in plan.steps],
                {s.id: s.depends_on for s in plan.steps},
                lambda step_id: self._run_step(run_id, by_id[step_id], errors, runner, plan),
                limit=plan.parallelism,
                keep_going=plan.continue_on_failure,
                exclusive={s.id: s.exclusive for s in plan.steps},
                done=reused | left_out,
                on_abort=self._abort,
            )
            states.update(dict.fromkeys(left_out, NodeState.SKIPPED))
            skipped = [s for s, state in states.items() if state is NodeState.SKIPPED]
            self.store.mark_steps(run_id, skipped, StepStatus.SKIPPED)
        except BaseException as exc:
            watch.stop()
            self.store.finish_run(run_id, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            self._observe("fail", run_id, plan, error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, Exception):  # not on Ctrl-C: whoever interrupted the run knows
                self._tell(EventKind.RUN_FAILED, run_id, plan)
            raise
        finally:
            stop.set()
            beat.join()
            watch.stop()  # before finish_run: a miss is recorded only while the run is running
            end_run = getattr(runner, "end_run", None)
            if callable(end_run):  # no step of the run starts any more: its live logs can go
                end_run()
        steps = {
            step_id: StepStatus.REUSED if step_id in reused else StepStatus(state.value)
            for step_id, state in states.items()
        }
        failed = [s for s, status in steps.items() if status is StepStatus.FAILED]
        status, summary = self._outcome(run_id, failed, skipped, only if left_out else None)
        self.store.finish_run(run_id, status, summary)
        self._observe("complete" if status is RunStatus.SUCCEEDED else "fail", run_id, plan, error=summary)
        if status is not RunStatus.CANCELLED:  # an operator's own cancel pages nobody
            self._tell(
                EventKind.RUN_SUCCEEDED if status is RunStatus.SUCCEEDED else EventKind.RUN_FAILED,
                run_id,
                plan,
            )
        watch.join(NOTICE_GRACE)
        return RunResult(
            run_id, plan.job, status, steps, errors, sla_missed=watch.missed, warehouse=plan.warehouse
        )

    def _reusable(self, plan: Plan, resume: int) -> set[str]:
        """Steps that succeeded in run `resume`: the resumed run does not repeat them."""
        return reusable_steps(self.store, plan, resume)

    def _outcome(
        self, run_id: int, failed: list[str], skipped: list[str], retried: str | None
    ) -> tuple[RunStatus, str | None]:
        """How the run ended and why: `cancelled` when an operator asked (the store says who)."""
        status = RunStatus.SUCCEEDED if not failed and not skipped else RunStatus.FAILED
        summary = failure_summary(failed, skipped) if status is RunStatus.FAILED else None
        if retried is not None and summary is not None:
            summary = f"{summary} (this run retried {retried} only; resume it for the rest)"
        if not self._aborted.is_set():
            return status, summary
        cancelled_by = self.store.cancel_requested(run_id)
        if cancelled_by is not None:
            return RunStatus.CANCELLED, f"cancelled by {cancelled_by}" + (f": {summary}" if summary else "")
        return status, None if summary is None else f"cancelled: {summary}"

    def _left_out(self, plan: Plan, resume: int | None, reused: set[str], only: str) -> set[str]:
        """The steps a retry of step `only` leaves out: every step neither reused nor `only`."""
        ids = {s.id for s in plan.steps}
        if resume is None:
            raise DatakitError("retrying one step needs the run it belongs to", hint="pass --resume RUN")
        if only not in ids:
            from datakit.errors import did_you_mean

            hint = did_you_mean(only, ids) or f"the steps of job {plan.job}: {', '.join(sorted(ids))}"
            raise DatakitError(f"job {plan.job!r} has no step {only!r}", hint=hint)
        if only in reused:
            raise DatakitError(f"step {only!r} succeeded in run {resume}: nothing to retry")
        waiting = [up for up in next(s for s in plan.steps if s.id == only).depends_on if up not in reused]
        if waiting:
            raise DatakitError(
                f"step {only!r} cannot run before {', '.join(waiting)}, "
                f"which did not succeed in run {resume}",
                hint=f"resume run {resume} instead (it runs every step that did not succeed)",
            )
        return ids - reused - {only}

    def _runner_for(self, run_id: int) -> StepRunner:
        """The runner, told (when it wants to know: `for_run`) the keys of this run and of the runs it
        resumes, newest first: a load any of them committed is not loaded again (exactly once)."""
        for_run = getattr(self.runner, "for_run", None)
        if not callable(for_run):
            return self.runner
        runner: StepRunner = for_run(run_keys(self.store, run_id))
        return runner

    def _run_step(
        self, run_id: int, step: Step, errors: dict[str, str], runner: StepRunner, plan: Plan
    ) -> bool:
        """All attempts of one step; True when one succeeded. Never raises (errors are recorded)."""
        attempt = 0
        self._observe("start", run_id, plan, step)
        while True:
            attempt += 1
            self.store.attempt_started(run_id, step.id, attempt)
            try:
                if self._aborted.is_set():
                    raise DatakitError("not started: the run was cancelled")
                output = runner(step)
            except Exception as exc:
                message = str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}"
                if self._aborted.is_set() and not message.startswith("not started"):
                    message = f"cancelled while running ({message})"
                transient = is_transient(exc)
                retry = transient and attempt < step.retry.max_attempts and not self._aborted.is_set()
                delay = backoff_delay(step.retry, attempt, self.rand) if retry else None
                self.store.attempt_finished(
                    run_id,
                    step.id,
                    attempt,
                    error=message,
                    transient=transient,
                    retry_in=delay,
                    log=getattr(exc, "log", None),
                    details=getattr(exc, "details", None),
                )
                if delay is None:
                    errors[step.id] = message
                    log.warning("step %s failed (attempt %d): %s", step.id, attempt, message)
                    self._observe("fail", run_id, plan, step, message, getattr(exc, "details", None))
                    return False
                log.warning(
                    "step %s: %s; retrying in %gs, attempt %d of %d",
                    step.id,
                    message.splitlines()[0] if message else type(exc).__name__,
                    round(delay, 1),
                    attempt + 1,
                    step.retry.max_attempts,
                )
                self.sleep(delay)
                continue
            self.store.attempt_finished(
                run_id, step.id, attempt, log=output.log, rows=output.rows, details=output.details
            )
            self._observe("complete", run_id, plan, step, details=output.details)
            return True

    def _observe(
        self,
        phase: Phase,
        run_id: int,
        plan: Plan,
        step: Step | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Tell `observe` (if any) that the run or `step` started or ended, as plain data."""
        if self.observe is None:
            return
        from datakit.lineage.openlineage import StepEvent

        self.observe(
            StepEvent(
                phase,
                plan.job,
                run_id,
                plan.warehouse,
                step.id if step is not None else None,
                step.kind if step is not None else None,
                step_data(step)["params"] if step is not None else {},
                error,
                details,
            )
        )

    def _abort(self) -> None:
        """The run is interrupted: no more retries, and running steps are stopped if the runner can."""
        self._aborted.set()
        cancel = getattr(self.runner, "cancel", None)
        if callable(cancel):
            cancel()

    def _record_sla_miss(self, run_id: int, plan: Plan) -> bool:
        """(In the SLA thread.) True the first time; a store error is a warning, not a crash of the thread."""
        try:
            missed = self.store.record_sla_miss(run_id)
        except Exception as exc:
            log.warning("run %d missed its SLA, but recording it failed: %s", run_id, redact(str(exc)))
            return False
        if missed:
            log.warning(
                "job %s run %d is still running after its SLA (%s)", plan.job, run_id, sla_text(plan.sla)
            )
        return missed

    def _tell(self, kind: EventKind, run_id: int, plan: Plan) -> None:
        """Hand an event, built from the recorded run, to `notify`; a failure here never fails the run."""
        if self.notify is None:
            return
        try:
            self.notify(RunEvent.from_run(kind, self.store.get_run(run_id), sla=plan.sla))
        except Exception as exc:
            log.warning("%s of run %d not sent: %s: %s", kind, run_id, type(exc).__name__, redact(str(exc)))

    def _watch_cancel(self, run_id: int, done: threading.Event) -> None:
        """Until the run is done: when `cancel` is set or an operator asked (the store), abort — kill
        running steps, start no more."""
        polled = time.monotonic()
        while not done.is_set():
            if self.cancel is not None and self.cancel.wait(0.2):
                log.warning("run %d cancelled: stopping its steps", run_id)
                self._abort()
                return
            if self.cancel is None:
                done.wait(0.2)
            if time.monotonic() - polled < self.cancel_poll:
                continue
            polled = time.monotonic()
            try:
                requested = self.store.cancel_requested(run_id)
            except Exception as exc:  # a busy store: look again at the next poll
                log.warning("looking for a cancel request of run %d failed: %s", run_id, exc)
                continue
            if requested is not None:
                log.warning("run %d cancelled by %s: stopping its steps", run_id, requested)
                self._abort()
                return

    def _beat(self, run_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_every):
            try:
                self.store.heartbeat(run_id)
            except Exception as exc:  # a missed beat is not fatal; the next one may get through
                log.warning("heartbeat of run %d failed: %s", run_id, exc)


def reusable_steps(store: StateStore, plan: Plan, resume: int) -> set[str]:
    """The steps of `plan` that succeeded in run `resume` (of any engine): a run resuming it does not
    repeat them. A DatakitError when `resume` is not a finished, failed run of the same job and tenant."""
    old = store.get_run(resume)
    if old.job != plan.job:
        raise DatakitError(f"run {resume} is a run of job {old.job!r}, not {plan.job!r}")
    if old.warehouse != plan.warehouse:  # another tenant's steps say nothing about this tenant's data
        raise DatakitError(
            f"run {resume} ran for warehouse {old.warehouse or '(none)'!s}, not "
            f"{plan.warehouse or '(none)'!s}",
            hint=f"resume it with --warehouse {old.warehouse}"
            if old.warehouse
            else "resume it without --warehouse",
        )
    if old.status == RunStatus.RUNNING.value:
        raise DatakitError(f"run {resume} is still running", hint="wait for it to finish")
    if old.status == RunStatus.SUCCEEDED.value:
        raise DatakitError(f"run {resume} succeeded: nothing to resume")
    done = {StepStatus.SUCCEEDED.value, StepStatus.REUSED.value}
    ids = {s.id for s in plan.steps}
    return {s.step_id for s in old.steps if s.status in done and s.step_id in ids}


def run_keys(store: StateStore, run_id: int) -> tuple[str, ...]:
    """The keys of run `run_id` and of the runs it resumes, newest first (what a load step is told)."""
    keys: list[str] = []
    seen: set[int] = set()
    next_id: int | None = run_id
    while next_id is not None and next_id not in seen:
        seen.add(next_id)
        run = store.get_run(next_id)
        if run.key is not None:
            keys.append(run.key)
        next_id = run.resumed_from
    return tuple(keys)
