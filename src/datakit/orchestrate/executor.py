"""The local executor: one run of a plan — retries, skips, heartbeats and history — around `run_dag`.

The walk itself is generic (`dagrun`); how a step runs is pluggable (`StepRunner`); this module adds
what a *run* is: a row in the state store (at most one active per job), every attempt recorded with its
error and log, retries of transient failures only (`retry`), a heartbeat so a dead process is detected,
and resuming a failed run by re-running only its failed and skipped steps.

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

from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.dagrun import NodeState, run_dag
from datakit.orchestrate.plan import Plan, Step
from datakit.orchestrate.retry import backoff_delay, is_transient
from datakit.orchestrate.steps import StepRunner
from datakit.orchestrate.store import RunStatus, StateStore, StepStatus

log = get_logger(__name__)
HEARTBEAT_EVERY = 10.0


@dataclass(frozen=True)
class RunResult:
    """How a run ended; `steps` maps each step id to its final status."""

    run_id: int
    job: str
    status: RunStatus
    steps: dict[str, StepStatus]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def resume_command(self) -> str | None:
        """How to re-run only the failed and skipped steps (None when there is nothing to resume)."""
        return None if self.ok else f"datakit run job {self.job} --resume {self.run_id}"


@dataclass
class Executor:
    """Runs plans with `runner`, recording into `store`."""

    store: StateStore
    runner: StepRunner
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    heartbeat_every: float = HEARTBEAT_EVERY
    _aborted: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def run(
        self,
        plan: Plan,
        *,
        allow_concurrent: bool = False,
        resume: int | None = None,
        tick_key: str | None = None,
    ) -> RunResult:
        """Run `plan` once; raises AlreadyRunning when the job is active (unless `allow_concurrent`).

        `tick_key` names the trigger firing that starts the run (TickFired if it already started one).
        """
        reused = self._reusable(plan, resume) if resume is not None else set()
        run_id = self.store.start_run(
            plan.job,
            json.dumps(plan.as_dict()),
            allow_concurrent=allow_concurrent,
            resumed_from=resume,
            tick_key=tick_key,
        )
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run_id, stop), daemon=True, name="datakit-heartbeat")
        beat.start()
        errors: dict[str, str] = {}
        by_id = {s.id: s for s in plan.steps}
        try:
            self.store.add_steps(run_id, [s.id for s in plan.steps], reused)
            states = run_dag(
                [s.id for s in plan.steps],
                {s.id: s.depends_on for s in plan.steps},
                lambda step_id: self._run_step(run_id, by_id[step_id], errors),
                limit=plan.parallelism,
                keep_going=plan.continue_on_failure,
                exclusive={s.id: s.exclusive for s in plan.steps},
                done=reused,
                on_abort=self._abort,
            )
            skipped = [s for s, state in states.items() if state is NodeState.SKIPPED]
            self.store.mark_steps(run_id, skipped, StepStatus.SKIPPED)
        except BaseException as exc:
            self.store.finish_run(run_id, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            stop.set()
            beat.join()
        steps = {
            step_id: StepStatus.REUSED if step_id in reused else StepStatus(state.value)
            for step_id, state in states.items()
        }
        failed = [s for s, status in steps.items() if status is StepStatus.FAILED]
        status = RunStatus.SUCCEEDED if not failed and not skipped else RunStatus.FAILED
        summary = _summary(failed, skipped) if status is RunStatus.FAILED else None
        self.store.finish_run(run_id, status, summary)
        return RunResult(run_id, plan.job, status, steps, errors)

    def _reusable(self, plan: Plan, resume: int) -> set[str]:
        """Steps that succeeded in run `resume`: the resumed run does not repeat them."""
        old = self.store.get_run(resume)
        if old.job != plan.job:
            raise DatakitError(f"run {resume} is a run of job {old.job!r}, not {plan.job!r}")
        if old.status == RunStatus.RUNNING.value:
            raise DatakitError(f"run {resume} is still running", hint="wait for it to finish")
        if old.status == RunStatus.SUCCEEDED.value:
            raise DatakitError(f"run {resume} succeeded: nothing to resume")
        done = {StepStatus.SUCCEEDED.value, StepStatus.REUSED.value}
        ids = {s.id for s in plan.steps}
        return {s.step_id for s in old.steps if s.status in done and s.step_id in ids}

    def _run_step(self, run_id: int, step: Step, errors: dict[str, str]) -> bool:
        """All attempts of one step; True when one succeeded. Never raises (errors are recorded)."""
        attempt = 0
        while True:
            attempt += 1
            self.store.attempt_started(run_id, step.id, attempt)
            try:
                output = self.runner(step)
            except Exception as exc:
                message = str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}"
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
                    return False
                log.info("step %s: attempt %d failed, retrying in %.1fs", step.id, attempt, delay)
                self.sleep(delay)
                continue
            self.store.attempt_finished(
                run_id, step.id, attempt, log=output.log, rows=output.rows, details=output.details
            )
            return True

    def _abort(self) -> None:
        """The run is interrupted: no more retries, and running steps are stopped if the runner can."""
        self._aborted.set()
        cancel = getattr(self.runner, "cancel", None)
        if callable(cancel):
            cancel()

    def _beat(self, run_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_every):
            try:
                self.store.heartbeat(run_id)
            except Exception as exc:  # a missed beat is not fatal; the next one may get through
                log.warning("heartbeat of run %d failed: %s", run_id, exc)


def _summary(failed: list[str], skipped: list[str]) -> str:
    parts = []
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if skipped:
        parts.append(f"{len(skipped)} skipped: {', '.join(skipped)}")
    return "; ".join(parts)
