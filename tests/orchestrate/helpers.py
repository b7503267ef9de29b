"""Cheap steps for executor tests: in-process runners and functions the child-process runner can call."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.connectors.errors import ConnectionLost
from datakit.errors import DatakitError
from datakit.orchestrate.plan import Plan
from datakit.orchestrate.stepkinds import LoadParams, LoadStep, RetryPolicy, Step
from datakit.orchestrate.steps import StepOutput
from tests.waits import GUARD, wait_until

if TYPE_CHECKING:
    import pytest

    from datakit.orchestrate.stepserver import StepServer


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
        together: int = 0,
        until: threading.Event | None = None,
    ) -> None:
        """`together`: the first steps wait until that many run at once (a concurrency limit is then
        reached whatever the machine's speed); `until`: every step waits for the test to set it."""
        self.pause = pause
        self.together = together
        self.all_in = threading.Event()
        self.until = until
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
            if self.active >= self.together:
                self.all_in.set()
        try:
            if not self.all_in.wait(GUARD):
                raise AssertionError(f"{self.together} steps never ran at once")
            if self.until is not None and not self.until.wait(GUARD):
                raise AssertionError(f"{step.id}: the test never let the step finish")
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
    """(In a child process.) Print, then record the pid (atomically: readers poll for the file), then
    never finish: once the file is there, the step's log holds its line."""
    print("started, now waiting forever", flush=True)
    partial = Path(pid_file + ".partial")
    partial.write_text(str(os.getpid()), encoding="utf-8")
    partial.replace(pid_file)
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


def timeouts_count_once_announced(
    monkeypatch: pytest.MonkeyPatch, pid_file: Path, server: StepServer | None = None
) -> None:
    """A step's timeout counts from when its process wrote `pid_file` (see `forever`), not from its start.

    The timeout is the behaviour under test, the interpreter's start-up is not: on a loaded machine the
    start-up alone can outlast a short timeout, and the step would be killed before it printed a line.
    Spawned steps wait in `Popen.wait`, forked ones in `StepServer.wait`; both are wrapped.
    """
    if server is None:
        real_popen_wait = subprocess.Popen.wait

        def popen_wait(self: subprocess.Popen[bytes], timeout: float | None = None) -> int:
            if timeout is not None and "datakit.orchestrate.subproc" in self.args:
                wait_until(lambda: pid_file.exists() or self.poll() is not None, "the step to start")
            return real_popen_wait(self, timeout)

        monkeypatch.setattr(subprocess.Popen, "wait", popen_wait)
        return
    real_server_wait = server.wait

    def server_wait(request_id: int, timeout: float | None) -> int | None:
        if timeout:
            wait_until(
                lambda: pid_file.exists() or real_server_wait(request_id, 0) is not None, "the step to start"
            )
        return real_server_wait(request_id, timeout)

    monkeypatch.setattr(server, "wait", server_wait)


_REMEMBERED: dict[str, int] = {}


def remember(value: int, done: str) -> None:
    """(In the step server, ahead of a step.) Keep `value` in memory, then say so through `done`."""
    _REMEMBERED["value"] = value
    Path(done).write_text("ok")


def remembered(step: dict[str, str] | None = None) -> dict[str, int]:
    """(In a forked step.) What `remember` kept in the server before this step was forked; `step` is
    the step's identity (`id`, `kind`), which the server reads as a plan step's."""
    return dict(_REMEMBERED)


def until_requested(started: str) -> None:
    """(In the step server, ahead of a step.) Say so through `started`, then return once a request
    waits on the server's input: the server cannot read it before this returns (it is single-threaded),
    so a test that sends its request after `started` exists knows the server was busy when it came."""
    import select

    Path(started).write_text("ok")
    select.select([0], [], [])


def chatty(lines: int) -> int:
    """(In a step process.) Print `lines` numbered lines: a log larger than the cap."""
    import sys

    sys.stdout.write("".join(f"chatty line {i:05d}\n" for i in range(lines)))
    sys.stdout.flush()
    return lines


def stamped_shop(root: Path) -> None:
    """The scaffold project at `root`, job `daily` a step per resource (two load steps), with a datakit
    `stamp` that notes each process importing it (`imports`)."""
    from datakit.config.scaffold import init_project
    from tests.integrations.airflow.projects import step_per_resource

    init_project(root, name="shop")
    step_per_resource(root)
    stamp = root / "datakits" / "stamp"
    stamp.mkdir(parents=True)
    (stamp / "__init__.py").write_text(
        "import os, time\nfrom pathlib import Path\n"
        "with (Path(__file__).parents[2] / 'imports.log').open('a') as log:\n"
        "    log.write(f'{os.getpid()} {time.time()!r}\\n')\n",
        encoding="utf-8",
    )


def imports(root: Path) -> list[tuple[int, float]]:
    """(pid, time) of each import of `stamped_shop`'s datakit, in order."""
    lines = (root / "imports.log").read_text().splitlines() if (root / "imports.log").exists() else []
    return [(int(pid), float(at)) for pid, at in (line.split() for line in lines)]
