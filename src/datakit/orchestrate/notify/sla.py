"""`SlaWatch`: notices, while a run is still going, that it has outlived its SLA.

The miss is recorded under a lock that `stop()` also takes, so it is recorded only while the run is
really running: a run that finishes at the deadline is either a miss recorded before its end, or
not a miss at all — never a miss stamped on a finished run. The notification goes out after the lock
is released, so a slow channel does not hold up the end of the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class SlaWatch:
    """After `seconds`, unless stopped: `record()` (True when this is the first miss), then `fire()`."""

    def __init__(self, seconds: float | None, record: Callable[[], bool], fire: Callable[[], None]) -> None:
        self.seconds = seconds
        self.missed = False
        self._record = record
        self._fire = fire
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> SlaWatch:
        """Start the clock (nothing to watch without an SLA)."""
        if self.seconds is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="datakit-sla")
            self._thread.start()
        return self

    def stop(self) -> None:
        """The run is ending: no miss from now on (waits for a miss being recorded, not for its notice)."""
        with self._lock:
            self._done.set()

    def join(self, timeout: float) -> None:
        """Wait a bounded time for a miss's notification being sent, so the process does not cut it off."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _watch(self) -> None:
        assert self.seconds is not None
        if self._done.wait(self.seconds):
            return
        with self._lock:
            if self._done.is_set():
                return
            self.missed = self._record()
        if self.missed:
            self._fire()
