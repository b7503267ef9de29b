"""Start job runs in the background and know when each has really started: for the daemon.

`datakit serve` must not wait for a run to finish before it fires the next trigger, yet it must know
that the run — and its tick key — are committed before it moves a trigger's cursor or answers a webhook
with 202. `Launcher.launch` gives both: the run goes on in a thread, and the call returns the run id as
soon as `start_run` committed (or raises what `start_run` raised: TickFired, AlreadyRunning, a config
error), so the caller's next write happens strictly after the run's.

Shutdown (`stop`): no new runs; running ones get `grace` seconds to finish, then they are cancelled —
their step processes killed, the run recorded as failed with the reason — and the threads joined, so
the state store is left consistent, never with a run that claims to be running.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.run import run_job

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.orchestrate.store import StateStore

log = get_logger(__name__)


class ShuttingDown(DatakitError):
    """The daemon is stopping: no new runs start."""


@dataclass
class Launcher:
    """Runs jobs of `project` in background threads, recorded in `store`."""

    project: Project
    store: StateStore
    _cancel: threading.Event = field(default_factory=threading.Event, init=False)
    _closed: bool = field(default=False, init=False)
    _threads: set[threading.Thread] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def launch(self, job: str, *, tick_key: str | None = None, warehouse: str | None = None) -> int:
        """Start a run of `job` (for `warehouse`); its id once committed. Raises TickFired,
        AlreadyRunning, DatakitError."""
        started: Future[int] = Future()

        def body() -> None:
            try:
                run_job(
                    self.project,
                    job,
                    warehouse=warehouse,
                    tick_key=tick_key,
                    store=self.store,
                    on_started=started.set_result,
                    cancel=self._cancel,
                )
            except BaseException as exc:  # before the start: the caller gets it; after: it is recorded
                if not started.done():
                    started.set_exception(exc)
                else:
                    log.error("run of job %s ended with an error: %s", job, exc)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        with self._lock:
            if self._closed:
                raise ShuttingDown("datakit serve is shutting down; no new runs start")
            thread = threading.Thread(target=body, name=f"datakit-run-{job}", daemon=True)
            self._threads.add(thread)
            thread.start()
        return started.result()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._threads)

    def cancel_now(self) -> None:
        """Cancel every running run (their steps are killed; each run is recorded as failed)."""
        self._cancel.set()

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
            self._cancel.set()
            for thread in left:
                thread.join(60.0)
