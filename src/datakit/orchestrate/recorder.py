"""`RunRecorder`: what an orchestrator's task calls so its run lands in datakit's run history.

Engine-agnostic: an Airflow task, a Prefect flow and its tasks use it the same way — `join` the run
(created by whoever comes first, `store.external`), wrap each step attempt in `attempt(...)`, and the
run ends when its last step does (`settle`) or when the engine says so (`finish`). The history then
holds the run exactly as a local run's, marked with its engine, so `datakit runs`, the status pages,
SLA checks and notifications need nothing engine-specific:

- **SLA**: the job's `sla.duration` is checked by datakit (Prefect's SLAs are a paid feature, Airflow's
  deadline alerts know nothing of datakit's channels): at each attempt's start and end, and by a timer
  while a process of the run is alive (the whole run when attached, each attempt when detached); the
  first miss is recorded once (`record_sla_miss`) and announced once.
- **Notifications**: the call that ends the run (exactly one: `settle` locks the run) sends
  run_succeeded / run_failed to the job's channels, built from the recorded run like a local run's.
- **Heartbeats** while a step runs (and, attached, for the whole run), so `sweep_abandoned` can tell
  a dead worker from a slow one.
- **OpenLineage**: each step's first start and its final end, and the run's start (by the caller that
  created it) and end (by the caller that ended it), go to the project's step observer
  (`lineage.openlineage`, as the local executor's do), keyed by the engine's run id so that events
  sent by different processes (one per Airflow task) name the same OpenLineage run.

Exactly once, across processes: the run's end is announced by the one call that ended it (`settle` and
`finish` lock the run row; an ended run is left as it is), its SLA miss by the one call that recorded it
first (`record_sla_miss`) — so an engine's own run-level hooks (Airflow's DAG callbacks and deadline
alert) call `finish` / `settle` / `deadline_missed` here too, and only the first of them all speaks.

Recording is secondary to the work: when the state store cannot be reached, the step still runs and
a warning says what was not recorded (the step's data and its load record are in the destination,
which decides exactly-once, not the history). Only `AlreadyRunning` from an exclusive join is raised:
it is a decision (the job is running elsewhere), not a failure to record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from datakit.errors import DatakitError
from datakit.log import get_logger, redact
from datakit.orchestrate.notify import EventKind, RunEvent, SlaWatch
from datakit.orchestrate.retry import backoff_delay, is_transient
from datakit.orchestrate.store import AlreadyRunning, RunRecord, RunStatus, StateStore, StepStatus, open_store
from datakit.orchestrate.store.external import EngineRun, ExternalRuns

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from datakit.config.project import Project
    from datakit.lineage.openlineage import Phase, StepEvent
    from datakit.orchestrate.plan import Plan
    from datakit.orchestrate.stepkinds import Step
    from datakit.orchestrate.steps import StepOutput

log = get_logger(__name__)
T = TypeVar("T")
HEARTBEAT_EVERY = 10.0


@dataclass
class Attempt:
    """One try of a step inside `RunRecorder.attempt`: the body sets `output` when the step succeeded."""

    step: Step
    number: int
    output: StepOutput | None = None


def with_graph(plan: Plan, graph: Mapping[str, Sequence[str]]) -> Plan:
    """`plan` with each step's dependencies as the engine runs them (a sequential job's chain, the
    edges Airflow adds between steps sharing one DuckDB file): what `settle` and the status pages'
    DAG follow. Steps the graph does not name keep theirs."""
    known = {step.id for step in plan.steps}
    steps = tuple(
        replace(step, depends_on=tuple(u for u in graph[step.id] if u in known)) if step.id in graph else step
        for step in plan.steps
    )
    return replace(plan, steps=steps)


def nominal_retry_delay(step: Step, attempt: int) -> float:
    """The wait before the try after `attempt`, without jitter (the engine adds its own)."""
    return backoff_delay(step.retry, attempt, lambda: 1.0)


@dataclass
class RunRecorder:
    """Records `plan`, run by the engine `who`, in `project`'s state store (see the module docstring)."""

    project: Project
    plan: Plan
    who: EngineRun
    store: StateStore | None = None
    """Default: the store datakit.yaml configures, opened by `join` and closed by `close`."""
    notify: Callable[[RunEvent], None] | None = None
    """Default: the job's channels (`Notifier.for_job`)."""
    started_at: float | None = None
    """When the engine started the run, if it knows (else: when the first task joined)."""
    resumed_from: int | None = None
    """The run this one resumes (any engine's): its succeeded steps are `reused`, not run again."""
    reused: frozenset[str] = frozenset()
    announce_end: bool = True
    """Send run_succeeded / run_failed when this recorder ends the run; False when the engine's own
    run-level hooks announce it (Prefect's flow state hooks call `announce`)."""
    run_name: str | None = None
    """How notifications name the run (Airflow's DAG run id); default: datakit's run id."""
    resume: str | None = None
    """How notifications say to re-run what failed, in the engine (default: `datakit run --resume`)."""
    observe: Callable[[StepEvent], None] | None = None
    """Told each step's start and end and the run's (OpenLineage); default: the project's step
    observer (`lineage.openlineage.step_observer`), built when first needed, none when not configured."""
    heartbeat_every: float = HEARTBEAT_EVERY
    run_id: int | None = field(default=None, init=False)
    created: bool = field(default=False, init=False)
    """True when `join` created the run (this caller was the first)."""
    _observer_built: bool = field(default=False, init=False, repr=False)
    _runs: ExternalRuns | None = field(default=None, init=False, repr=False)
    _own_store: bool = field(default=False, init=False, repr=False)
    _run_clock: _Alive | None = field(default=None, init=False, repr=False)

    def join(self, *, create: bool = True) -> int | None:
        """The run's id in the history (created by the first task); None when it cannot be recorded
        (or, with `create=False`, when no task recorded it yet).

        Raises AlreadyRunning only for an exclusive engine run whose job is active already.
        """
        try:
            if self.store is None:
                self.store = open_store(self.project)
                self._own_store = True
            self._runs = ExternalRuns(self.store)
            if not create:
                self.run_id = self._runs.find(self.who.external_id)
                return self.run_id
            self.run_id, self.created = self._runs.join_run(
                self.who,
                job=self.plan.job,
                plan=self.plan.as_dict(),
                warehouse=self.plan.warehouse,
                started_at=self.started_at,
                resumed_from=self.resumed_from,
                reused=sorted(self.reused),
            )
        except AlreadyRunning:
            self.close()
            raise
        except Exception as exc:
            self._warn("the run", exc)
            self._runs = None
            return None
        if self.who.attached:
            self._run_clock = self._alive().start()
        if self.created:
            self._observe("start")
        return self.run_id

    @contextmanager
    def attempt(
        self, step: Step, number: int, *, will_retry: Callable[[BaseException], bool] | None = None
    ) -> Iterator[Attempt]:
        """Record try `number` of `step` around the body, which runs the step and sets `output`.

        An exception is recorded and re-raised. Whether the engine tries again (and so whether the
        step is finished) is `will_retry(exc)`; by default datakit's policy, which the engines are
        compiled to follow: a transient error, tries left.
        """
        current = Attempt(step, number)
        recorded = self._safely(
            "the start of step " + step.id,
            lambda runs, run_id: runs.attempt_started(run_id, step.id, number),
        )
        if recorded is not None:
            current.number = recorded
            if recorded == 1:  # a step's OpenLineage run spans its tries, as in a local run
                self._observe("start", step)
        self._check_sla()
        alive = None if self.who.attached or recorded is None else self._alive().start()
        try:
            yield current
        except BaseException as exc:
            again = (will_retry or _datakit_retries(step, current.number))(exc)
            delay = nominal_retry_delay(step, current.number) if again else None
            self._finished(current, exc, delay)
            raise
        else:
            self._finished(current, None, None)
        finally:
            if alive is not None:
                alive.stop()

    def _finished(self, current: Attempt, exc: BaseException | None, retry_in: float | None) -> None:
        step = current.step
        output = current.output
        error = None if exc is None else _message(exc)

        if exc is not None:
            log_text, rows, details = getattr(exc, "log", None), None, getattr(exc, "details", None)
        elif output is not None:
            log_text, rows, details = output.log, output.rows, output.details
        else:
            log_text, rows, details = None, None, None

        def record(runs: ExternalRuns, run_id: int) -> bool:
            runs.store.attempt_finished(
                run_id,
                step.id,
                current.number,
                error=error,
                transient=None if exc is None else is_transient(exc),
                retry_in=retry_in,
                log=log_text or None,
                rows=rows,
                details=details,
            )
            runs.store.heartbeat(run_id)
            return True

        if self._safely(f"the end of step {step.id}", record) is None:
            return
        if retry_in is None:
            self._observe("complete" if exc is None else "fail", step, error, details)
        self._check_sla()
        if retry_in is None:
            self.settle()

    def settle(self) -> RunStatus | None:
        """End the run if no step is left (and announce it); its status when this call ended it."""
        ended = self._safely("the run's end", lambda runs, run_id: runs.settle(run_id))
        if ended is not None:
            self._ended(ended)
        return ended

    def finish(self, status: RunStatus, error: str | None = None) -> bool:
        """End the run as the engine says it ended (crashed, cancelled, failed by its scheduler);
        True when this call ended it (and announced it). An ended run is left as it is."""
        self._check_sla()
        done = self._safely("the run's end", lambda runs, run_id: runs.finish(run_id, status, error))
        if done:
            self._ended(status, error)
        return bool(done)

    def deadline_missed(self) -> bool:
        """The engine says the run outlived its SLA (Airflow's deadline alert): record and announce
        the miss unless it was already (by a task's SLA timer), or the run ended within its SLA."""
        sla = self.plan.sla
        if self._runs is None or self.run_id is None:
            return False
        store = self._runs.store

        def missed(_runs: ExternalRuns, run_id: int) -> bool:
            run = store.get_run(run_id)
            if sla is not None and run.finished_at is not None and run.finished_at - run.started_at <= sla:
                return False
            return store.record_sla_miss(run_id)

        if self._safely("an SLA miss", missed):
            self._tell(EventKind.SLA_MISSED)
            return True
        return False

    def skip(self, step_ids: list[str]) -> None:
        """Record steps the engine will not run (it gave up after a failure) as skipped."""
        self._safely(
            "skipped steps",
            lambda runs, run_id: runs.store.mark_steps(run_id, step_ids, StepStatus.SKIPPED),
        )

    def current(self) -> RunRecord | None:
        """The run as recorded now (None when it is not recorded)."""
        return self._safely("a read", lambda runs, run_id: runs.store.get_run(run_id))

    def announce(self, kind: EventKind) -> None:
        """Send `kind` about the recorded run to the job's channels (never raises)."""
        self._tell(kind)

    def close(self) -> None:
        """Stop the run's clocks, send the OpenLineage events still queued (an engine's task process
        may end right after), and close the store this recorder opened."""
        if self._run_clock is not None:
            self._run_clock.stop()
            self._run_clock = None
        flush = getattr(self.observe, "flush", None)
        if callable(flush):
            flush()
        if self._own_store and self.store is not None:
            self.store.close()
            self.store = None
            self._own_store = False

    # --- internals --------------------------------------------------------------------------------

    def _ended(self, status: RunStatus, error: str | None = None) -> None:
        if self._run_clock is not None:
            self._run_clock.stop()
        if error is None and status is not RunStatus.SUCCEEDED:
            run = self.current()
            error = run.error if run is not None else None
        self._observe("complete" if status is RunStatus.SUCCEEDED else "fail", error=error)
        if self.announce_end and status is not RunStatus.CANCELLED:  # an operator's cancel pages nobody
            self._tell(EventKind.RUN_SUCCEEDED if status is RunStatus.SUCCEEDED else EventKind.RUN_FAILED)

    def _check_sla(self) -> None:
        """Record and announce a miss when the run has outlived its SLA (once per run)."""
        if self.plan.sla is None or self._runs is None or self.run_id is None:
            return
        sla = self.plan.sla
        store = self._runs.store

        def missed(_runs: ExternalRuns, run_id: int) -> bool:
            run = store.get_run(run_id)
            end = run.finished_at if run.finished_at is not None else store.clock()
            return end - run.started_at > sla and store.record_sla_miss(run_id)

        if self._safely("an SLA miss", missed):
            self._tell(EventKind.SLA_MISSED)

    def _remaining_sla(self) -> float | None:
        if self.plan.sla is None or self._runs is None or self.run_id is None:
            return None
        try:
            run = self._runs.store.get_run(self.run_id)
        except Exception:
            return None
        if run.sla_missed_at is not None:
            return None
        return max(0.0, run.started_at + self.plan.sla - self._runs.store.clock())

    def _alive(self) -> _Alive:
        return _Alive(self, self._remaining_sla())

    def _tell(self, kind: EventKind) -> None:
        """Build the event from the recorded run and hand it to the channels; never raises."""
        if self._runs is None or self.run_id is None:
            return
        try:
            event = RunEvent.from_run(kind, self._runs.store.get_run(self.run_id), sla=self.plan.sla)
            event = replace(
                event,
                run_id=self.run_name or event.run_id,
                resume=self.resume,
                engine=self.who.engine,
            )
            notify = self.notify
            if notify is None:
                from datakit.orchestrate.notify import Notifier

                notify = Notifier.for_job(self.project, self.plan.job)
            notify(event)
        except Exception as exc:
            log.warning(
                "%s of run %s not sent: %s: %s", kind, self.run_id, type(exc).__name__, redact(str(exc))
            )

    def _observe(
        self,
        phase: Phase,
        step: Step | None = None,
        error: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Tell the step observer (OpenLineage) that the run or `step` started or ended; never raises."""
        if self.run_id is None:
            return
        try:
            if not self._observer_built:
                self._observer_built = True
                if self.observe is None:
                    from datakit.lineage.openlineage import step_observer

                    self.observe = step_observer(self.project)
            if self.observe is None:
                return
            from datakit.lineage.openlineage import StepEvent
            from datakit.orchestrate.stepkinds import step_data

            self.observe(
                StepEvent(
                    phase,
                    self.plan.job,
                    self.run_id,
                    self.plan.warehouse,
                    step.id if step is not None else None,
                    step.kind if step is not None else None,
                    step_data(step)["params"] if step is not None else {},
                    error,
                    dict(details) if details is not None else None,
                    run_key=self.who.external_id,
                )
            )
        except Exception as exc:  # lineage never fails a step
            what = step.id if step is not None else "the run"
            log.warning("OpenLineage %s event of %s not sent: %s", phase, what, redact(str(exc)))

    def _safely(self, what: str, action: Callable[[ExternalRuns, int], T]) -> T | None:
        """`action(runs, run_id)`; None (and a warning) when the run is not recorded or it fails."""
        if self._runs is None or self.run_id is None:
            return None
        try:
            return action(self._runs, self.run_id)
        except Exception as exc:
            self._warn(what, exc)
            return None

    def _warn(self, what: str, exc: Exception) -> None:
        log.warning(
            "run history: %s of %s run %s of job %s not recorded: %s: %s",
            what,
            self.who.engine,
            self.who.external_id,
            self.plan.job,
            type(exc).__name__,
            redact(str(exc)),
        )


class _Alive:
    """While a process of the run is alive: its heartbeat every few seconds, and the SLA timer."""

    def __init__(self, recorder: RunRecorder, sla_in: float | None) -> None:
        self.recorder = recorder
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._beats, daemon=True, name="datakit-run-heartbeat")
        self._sla = SlaWatch(sla_in, record=self._record_miss, fire=self._fire)

    def start(self) -> _Alive:
        self._beat.start()
        self._sla.start()
        return self

    def stop(self) -> None:
        self._sla.stop()
        self._stop.set()
        if self._beat.is_alive() and self._beat is not threading.current_thread():
            self._beat.join()

    def _beats(self) -> None:
        recorder = self.recorder
        while not self._stop.wait(recorder.heartbeat_every):
            recorder._safely("a heartbeat", lambda runs, run_id: runs.store.heartbeat(run_id))

    def _record_miss(self) -> bool:
        recorder = self.recorder
        return bool(recorder._safely("an SLA miss", lambda runs, run_id: runs.store.record_sla_miss(run_id)))

    def _fire(self) -> None:
        self.recorder._tell(EventKind.SLA_MISSED)


def _datakit_retries(step: Step, number: int) -> Callable[[BaseException], bool]:
    def will_retry(exc: BaseException) -> bool:
        return isinstance(exc, Exception) and is_transient(exc) and number < step.retry.max_attempts

    return will_retry


def _message(exc: BaseException) -> str:
    """An attempt's error as the local executor records it."""
    return str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}"
