"""Cheap steps for executor tests: in-process runners and functions the child-process runner can call."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from datakit.connectors.errors import ConnectionLost
from datakit.errors import DatakitError
from datakit.orchestrate.plan import Plan
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, RetryPolicy, Step
from datakit.orchestrate.steps import StepOutput


def make_plan(
    deps: dict[str, Iterable[str]],
    *,
    mode: str = "dag",
    limit: int = 4,
    keep_going: bool = False,
    retry: RetryPolicy | None = None,
    job: str = "test_job",
) -> Plan:
    """A plan of no-op steps with the given dependencies (in dict order)."""
    steps = tuple(
        LoadStep(
            id=name,
            params=LoadParams(pipeline="p", resource=name),
            depends_on=tuple(ups),
            retry=retry or RetryPolicy(max_attempts=1),
        )
        for name, ups in deps.items()
    )
    return Plan(job=job, mode=mode, max_parallelism=limit, continue_on_failure=keep_going, steps=steps)  # type: ignore[arg-type]


class Recorder:
    """An in-process runner that records concurrency and order, and fails the steps it is told to."""

    def __init__(
        self,
        *,
        pause: float = 0.0,
        fail: Iterable[str] = (),
        flaky: dict[str, int] | None = None,
        terminal: Iterable[str] = (),
    ) -> None:
        self.pause = pause
        self.fail = set(fail)
        self.terminal = set(terminal)
        self.flaky = dict(flaky or {})  # step -> number of transient failures before success
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.started: list[str] = []
        self.calls: dict[str, int] = {}

    def __call__(self, step: Step) -> StepOutput:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.started.append(step.id)
            self.calls[step.id] = self.calls.get(step.id, 0) + 1
            calls = self.calls[step.id]
        try:
            if self.pause:
                time.sleep(self.pause)
            if step.id in self.fail:
                raise ConnectionLost(f"{step.id}: connection refused")
            if step.id in self.terminal:
                raise DatakitError(f"{step.id}: contract violated")
            if calls <= self.flaky.get(step.id, 0):
                raise ConnectionLost(f"{step.id}: server closed the connection (attempt {calls})")
            return StepOutput(
                rows={"rows_read": 3, "rows_loaded": 2, "rows_rejected": 1}, log=f"ran {step.id}"
            )
        finally:
            with self.lock:
                self.active -= 1


def forever(pid_file: str) -> None:
    """(In a child process.) Record the pid (atomically: readers poll for the file), then never finish."""
    partial = Path(pid_file + ".partial")
    partial.write_text(str(os.getpid()), encoding="utf-8")
    partial.replace(pid_file)
    print("started, now waiting forever", flush=True)
    while True:
        time.sleep(0.1)


def quick(value: int) -> dict[str, int]:
    """(In a child process.) Succeed with a result."""
    print(f"quick {value}", flush=True)
    return {"rows_read": value}


def lose_connection() -> None:
    """(In a child process.) Fail with a transient error."""
    raise ConnectionLost("could not connect to server: Connection refused")


def whoami(value: int) -> dict[str, int]:
    """(In a child process.) Which process ran the step."""
    return {"value": value, "pid": os.getpid()}


def forever_with_child(pid_file: str) -> None:
    """(In a child process.) Start a process that never ends (in this step's process group), then never
    finish either; the pid file is written once both run."""
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.1)"])
    forever(pid_file)
