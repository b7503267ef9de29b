"""Start job runs in the background for the daemon: recorded first, then queued, then warmed up, then run.

`datakit serve` must not wait for a run to finish before it fires the next trigger, yet it must know
that the run — and its tick key — are committed before it moves a trigger's cursor or answers a webhook
with 202. `Launcher.launch` returns the run id as soon as `start_run` committed (or raises what
`start_run` raised: TickFired, AlreadyRunning, a config error), and does as little as it can before:

- **The one-active-run rule is checked first, cheaply.** A run this process launched is known in
  memory, one of another process costs one read of the store: a busy job raises AlreadyRunning before
  anything is compiled or started. Launches of one job wait for each other's commit (milliseconds),
  so a burst of triggers for an idle job starts one run and answers the others at once.
- **The run is committed before the slow part of its start** (the warm step server, about a second):
  a caller hears 202 or 409 at once, and a run never starts after its caller was told otherwise.

Then, in the run's thread, `WriterQueue`: a run whose steps write a DuckDB file that an earlier active
run also writes (another job, another tenant, another process) is recorded `queued` until that run has
ended. DuckDB admits one writing process per file; started together, the later run's steps would only
fail on the file's lock and retry. Runs wait in run-id order, so the earliest always may go and no two
runs wait for each other. Then the step server starts, and the steps run.

Shutdown (`stop`): no new runs; running ones get `grace` seconds to finish, then they are cancelled —
their step processes killed, the run recorded as failed with the reason, a queued run included — and
the threads joined, so the state store is left consistent, never with a run that claims to be running.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datakit.errors import DatakitError
from datakit.lineage.openlineage import step_observer
from datakit.log import get_logger
from datakit.orchestrate.executor import HEARTBEAT_EVERY, Executor
from datakit.orchestrate.plan import Plan
from datakit.orchestrate.run import (
    notifier_for,
    plan_for_run,
    refuse_full_refresh,
    start_server,
    step_server,
)
from datakit.orchestrate.steps import LocalRunner
from datakit.orchestrate.store import AlreadyRunning, RunRecord, RunStatus

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.stepserver import WarmServer
    from datakit.orchestrate.store import StateStore

log = get_logger(__name__)

RunKey = tuple[str, str | None]
"""(job, warehouse): what the one-active-run rule is about."""


class ShuttingDown(DatakitError):
    """The daemon is stopping: no new runs start."""


def writes(plan: Plan) -> set[str]:
    """The exclusive keys (`duckdb:<file>`) of the plan's steps: the files its run writes."""
    return {key for step in plan.steps for key in step.exclusive}


def _stored_writes(run: RunRecord) -> set[str]:
    """`writes` of a run's stored plan (an unreadable plan writes nothing anyone can know of)."""
    try:
        steps = json.loads(run.plan).get("steps", [])
        return {str(key) for step in steps for key in step.get("exclusive", ())}
    except (ValueError, AttributeError, TypeError):
        return set()


@dataclass
class WriterQueue:
    """Holds a run back while an earlier active run writes one of its DuckDB files.

    Runs of this process announce their end (`changed`); runs of other processes are looked at again
    every `recheck` seconds. A waiting run keeps its heartbeat, so a queue whose daemon died is swept
    as abandoned like any run.
    """

    store: StateStore
    recheck: float = 2.0
    heartbeat_every: float = HEARTBEAT_EVERY
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)

    def wait_turn(self, run_id: int, files: set[str], cancel: threading.Event) -> None:
        """Return once no earlier active run writes one of `files` (at once when none does), or when
        `cancel` is set; the run is recorded `queued` meanwhile and `running` again after."""
        blocker = self._blocker(run_id, files)
        if blocker is None:
            return
        beat = time.monotonic()
        self.store.mark_queued(run_id, self._reason(blocker, files))
        log.info("run %d queued: %s", run_id, self._reason(blocker, files))
        while blocker is not None and not cancel.is_set():
            with self._changed:
                self._changed.wait(self.recheck)
            if time.monotonic() - beat >= self.heartbeat_every:
                self.store.heartbeat(run_id)
                beat = time.monotonic()
            blocker = self._blocker(run_id, files)
        self.store.mark_started(run_id)
        if not cancel.is_set():
            log.info("run %d leaves the queue", run_id)

    def changed(self) -> None:
        """A run of this process ended (or the daemon is cancelling): queued runs look again."""
        with self._changed:
            self._changed.notify_all()

    def _blocker(self, run_id: int, files: set[str]) -> RunRecord | None:
        if not files:
            return None
        for run in self.store.active_runs():
            if run.id < run_id and files & _stored_writes(run):
                return run
        return None

    @staticmethod
    def _reason(blocker: RunRecord, files: set[str]) -> str:
        shared = sorted(key.removeprefix("duckdb:") for key in files & _stored_writes(blocker))
        tenant = f" for {blocker.warehouse}" if blocker.warehouse else ""
        return f"queued: run {blocker.id} ({blocker.job}{tenant}) is writing {', '.join(shared)}"


@dataclass(frozen=True)
class _Options:
    """How a launched run runs, besides its plan."""

    tick_key: str | None
    full_refresh: bool
    resume: int | None
    only: str | None


@dataclass
class Launcher:
    """Runs jobs of `project` in background threads, recorded in `store`."""

    project: Project
    store: StateStore
    queue: WriterQueue = field(init=False)
    _cancel: threading.Event = field(default_factory=threading.Event, init=False)
    _closed: bool = field(default=False, init=False)
    _threads: set[threading.Thread] = field(default_factory=set, init=False)
    _active: dict[RunKey, int] = field(default_factory=dict, init=False)
    """Runs this process launched, by (job, warehouse), until they end."""
    _cancels: dict[int, threading.Event] = field(default_factory=dict, init=False)
    """Each active run's own cancel: `cancel(run_id)` stops one run, `cancel_now` all of them."""
    _starting: set[RunKey] = field(default_factory=set, init=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False)

    def __post_init__(self) -> None:
        self.queue = WriterQueue(self.store)

    def launch(
        self,
        job: str,
        *,
        tick_key: str | None = None,
        warehouse: str | None = None,
        full_refresh: bool = False,
        resume: int | None = None,
        only: str | None = None,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        confirmed: bool = False,
    ) -> int:
        """Start a run of `job` (for `warehouse`); its id once committed. Raises TickFired,
        AlreadyRunning, DatakitError.

        `full_refresh`, `resume`, `only`, `select`, `exclude` and `confirmed` mean what they mean to
        `datakit run job` (`run_job`): a full refresh in prod needs `confirmed` (`refuse_full_refresh`),
        the same `plan_for_run` narrows the plan (a bad selector is the CLI's UsageError, raised before
        anything is recorded), the same `Executor.run` and `LocalRunner` carry it out, with the same
        checks of the resumed run.
        """
        if full_refresh:
            refuse_full_refresh(self.project, confirmed)
        key = (job, warehouse)
        with self._lock:
            while key in self._starting:  # another launch of this job is committing: its outcome decides
                self._lock.wait()
            if self._closed:
                raise ShuttingDown("datakit serve is shutting down; no new runs start")
            self._starting.add(key)
        try:
            active = self.running_here(job, warehouse)
            if active is None:  # a run of another process?
                active = self.store.active_run(job, warehouse)
            if active is not None:
                raise AlreadyRunning(job, active)
            plan = plan_for_run(self.project, job, warehouse, resume, select, exclude, self.store)
            started: Future[int] = Future()
            options = _Options(tick_key, full_refresh, resume, only)
            thread = threading.Thread(
                target=self._run, args=(plan, key, options, started), name=f"datakit-run-{job}", daemon=True
            )
            with self._lock:
                if self._closed:  # `stop` began meanwhile: it would not wait for this run
                    raise ShuttingDown("datakit serve is shutting down; no new runs start")
                self._threads.add(thread)
            thread.start()
            return started.result()
        finally:
            with self._lock:
                self._starting.discard(key)
                self._lock.notify_all()

    def running_here(self, job: str, warehouse: str | None = None) -> int | None:
        """The active run of `job` for `warehouse` that this process launched, if any (no query)."""
        with self._lock:
            return self._active.get((job, warehouse))

    def _run(self, plan: Plan, key: RunKey, options: _Options, started: Future[int]) -> None:
        """(The run's thread.) Record the run, wait for its turn, warm up, run the steps."""
        cancel = threading.Event()
        if self._cancel.is_set():
            cancel.set()
        full_refresh = options.full_refresh
        executor = Executor(
            self.store,
            LocalRunner.for_project(self.project, full_refresh=full_refresh),
            notify=notifier_for(self.project, plan),
            cancel=cancel,
            observe=step_observer(self.project),
        )
        server: WarmServer | None = None
        run_id: int | None = None

        def on_started(new_run: int) -> None:
            nonlocal server, run_id
            run_id = new_run
            with self._lock:
                self._active[key] = new_run
                self._cancels[new_run] = cancel
                if self._cancel.is_set():  # `cancel_now` ran while this run was being recorded
                    cancel.set()
            started.set_result(new_run)
            try:
                self.queue.wait_turn(new_run, writes(plan), cancel)
            except Exception as exc:  # the executor has not taken the run over yet: record its end here
                self.store.finish_run(new_run, RunStatus.FAILED, f"could not leave the queue: {exc}")
                raise
            if not cancel.is_set():  # the slow part of a start, for a run recorded and due to start
                server = step_server(self.project, plan)
                if server is not None:
                    start_server(server)  # from the run's thread, which closes it
                executor.runner = LocalRunner.for_project(
                    self.project, full_refresh=full_refresh, server=server
                )

        try:
            executor.run(
                plan,
                tick_key=options.tick_key,
                on_started=on_started,
                resume=options.resume,
                only=options.only,
            )
        except BaseException as exc:  # before the start: the caller gets it; after: it is recorded
            if not started.done():
                started.set_exception(exc)
            else:
                log.error("run of job %s ended with an error: %s", plan.job, exc)
        finally:
            if server is not None:
                server.close()
            with self._lock:
                if run_id is not None and self._active.get(key) == run_id:
                    del self._active[key]
                if run_id is not None:
                    self._cancels.pop(run_id, None)
                self._threads.discard(threading.current_thread())
            self.queue.changed()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._threads)

    def cancel(self, run_id: int) -> bool:
        """Stop run `run_id` at once if this process runs it (True); the caller has recorded the
        operator's request in the store (`request_cancel`), which other processes' runs poll."""
        with self._lock:
            event = self._cancels.get(run_id)
        if event is None:
            return False
        event.set()
        self.queue.changed()
        return True

    def cancel_now(self) -> None:
        """Cancel every running run (their steps are killed; each run is recorded as failed)."""
        self._cancel.set()
        with self._lock:
            events = list(self._cancels.values())
        for event in events:
            event.set()
        self.queue.changed()

    def stop(self, grace: float) -> None:
        """Refuse new runs, give running ones `grace` seconds, then cancel them and wait for the records."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        left = [t for t in threads if t.is_alive()]
        if left:
            log.warning("cancelling %d run(s) still going after %.0fs", len(left), grace)
            self.cancel_now()
            for thread in left:
                thread.join(60.0)
