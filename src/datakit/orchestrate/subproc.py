"""Run a function in a child process that a timeout really stops.

A thread cannot be killed, and a load blocked in a driver call ignores cooperative cancellation; a
process can. The child is `python -m datakit.orchestrate.subproc`, given `module:function` and JSON
keyword arguments on stdin; it writes the function's JSON-able result (or the error: message,
transient, and the error's `details` when it has them) to a file (`stepcall`, as a step server's
forked child does), and everything it prints or logs goes to a log file the parent keeps with the
attempt. On timeout the parent kills the child's whole process group (SIGKILL after a short SIGTERM
grace): the loader writes in one destination transaction, so a killed load leaves the target as before.
The child is killed, too, when the thread that started it ends, for instance with the whole run
(`lifeline`).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datakit.errors import DatakitError
from datakit.orchestrate.livelog import remove_live_log
from datakit.orchestrate.stepcall import execute_request
from datakit.orchestrate.stepserver import ServerGone, WarmServer

LOG_LIMIT = 2 * 1024 * 1024
"""Bytes of a step's log kept by default (the default of `step_logs.max_bytes`): beyond that, its start
and its end. A literal, not the config's constant: a spawned step process imports this module first."""
_GRACE = 2.0


class StepProcesses:
    """The step processes of one run (or one caller), so that aborting it kills exactly those.

    A step registers its process as soon as it knows the pid; an abort kills what is registered and
    marks the group aborted, so a step that registers afterwards (it was starting while the abort ran)
    is killed at once instead of living on.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spawned: set[subprocess.Popen[bytes]] = set()
        self._forked: set[int] = set()
        self._aborted = False

    def add_spawned(self, child: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._spawned.add(child)
            aborted = self._aborted
        if aborted:
            _kill(child)

    def add_forked(self, pid: int) -> None:
        with self._lock:
            self._forked.add(pid)
            aborted = self._aborted
        if aborted:
            _kill_group(pid, lambda: _ended(pid), grace=0.5)

    def discard_spawned(self, child: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._spawned.discard(child)

    def discard_forked(self, pid: int) -> None:
        with self._lock:
            self._forked.discard(pid)

    def kill_all(self) -> None:
        """Kill every registered step process, and any that registers from now on."""
        with self._lock:
            self._aborted = True
            spawned, forked = list(self._spawned), list(self._forked)
        for child in spawned:
            _kill(child)
        for pid in forked:
            _kill_group(pid, functools.partial(_ended, pid), grace=0.5)


class StepFailed(DatakitError):
    """The child's function raised; `transient` is the child's verdict on its own error."""

    def __init__(
        self, message: str, *, transient: bool, log: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.log = log
        self.details = details


class StepTimeout(StepFailed):
    """The step ran past its timeout and was killed; worth another attempt like any timeout."""

    def __init__(self, seconds: float, *, log: str = "") -> None:
        super().__init__(f"timed out after {seconds:g}s (killed)", transient=True, log=log)


def run_in_child(
    target: str,
    kwargs: dict[str, Any],
    *,
    timeout: float | None = None,
    cwd: Path | None = None,
    server: WarmServer | None = None,
    processes: StepProcesses | None = None,
    log_path: Path | None = None,
    log_limit: int = LOG_LIMIT,
) -> tuple[Any, str]:
    """`(result, log)` of `target(**kwargs)` run in a child process; StepFailed/StepTimeout on failure.

    `processes` is the group the child joins, so that `processes.kill_all()` (an aborted run) ends it.
    The log returned is at most `log_limit` bytes (its middle cut, with a `truncated, N bytes` marker).

    With a running `server`, the child is forked from it (everything already imported); otherwise, or
    when the server is gone, a fresh interpreter is spawned.

    `log_path` is where the child's output goes while it runs (`livelog`: the pages stream it); it is
    removed when the step ends. Without it, the log is a temporary file.
    """
    processes = processes or StepProcesses()
    if log_path is None:
        return _run_in_child(target, kwargs, timeout, cwd, server, processes, None, log_limit)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _run_in_child(target, kwargs, timeout, cwd, server, processes, log_path, log_limit)
    finally:
        remove_live_log(log_path)


def _run_in_child(
    target: str,
    kwargs: dict[str, Any],
    timeout: float | None,
    cwd: Path | None,
    server: WarmServer | None,
    processes: StepProcesses,
    live: Path | None,
    log_limit: int,
) -> tuple[Any, str]:
    with tempfile.TemporaryDirectory(prefix="datakit-step-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = live or Path(tmp) / "step.log"
        if server is not None and server.alive:
            try:
                code = _forked(
                    server, target, kwargs, timeout, cwd, result_path, log_path, processes, log_limit
                )
            except ServerGone:
                pass  # spawn below
            else:
                return _outcome(result_path, log_path, code, log_limit)
        request = json.dumps({"target": target, "kwargs": kwargs, "result": str(result_path)})
        with log_path.open("wb") as log_file:
            child = subprocess.Popen(
                [sys.executable, "-m", "datakit.orchestrate.subproc", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,  # its own process group: a kill reaches its children too
            )
            processes.add_spawned(child)
            try:
                assert child.stdin is not None
                child.stdin.write(request.encode())
                child.stdin.close()
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(child)
                raise StepTimeout(timeout or 0.0, log=_tail(log_path, log_limit)) from None
            finally:
                processes.discard_spawned(child)
        return _outcome(result_path, log_path, child.returncode, log_limit)


def _outcome(result_path: Path, log_path: Path, code: int | None, log_limit: int) -> tuple[Any, str]:
    log = _tail(log_path, log_limit)
    if not result_path.exists():
        raise StepFailed(f"step process exited with code {code}", transient=False, log=log)
    outcome = json.loads(result_path.read_text(encoding="utf-8"))
    if outcome["ok"]:
        return outcome["result"], log
    raise StepFailed(
        outcome["error"], transient=bool(outcome["transient"]), log=log, details=outcome.get("details")
    )


def _forked(
    server: WarmServer,
    target: str,
    kwargs: dict[str, Any],
    timeout: float | None,
    cwd: Path | None,
    result_path: Path,
    log_path: Path,
    processes: StepProcesses,
    log_limit: int,
) -> int | None:
    """Run the step in a child forked by the server; its exit code (StepTimeout when it overran)."""
    request = server.fork(target, kwargs, result=result_path, log_path=log_path, cwd=cwd)
    pid = server.pid(request)
    processes.add_forked(pid)
    try:
        code = server.wait(request, timeout)
        if code is None:
            _kill_group(pid, lambda: server.wait(request, 0) is not None)
            server.wait(request, 10.0)
            raise StepTimeout(timeout or 0.0, log=_tail(log_path, log_limit))
        return code
    finally:
        server.release(request)
        processes.discard_forked(pid)


def _kill(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after a short grace."""
    _kill_group(child.pid, lambda: child.poll() is not None)


def _kill_group(pid: int, gone: Callable[[], bool], grace: float = _GRACE) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL it if `gone()` is still false after `grace`.

    A step just forked may not lead its group yet (it calls `setsid` first thing): then the process
    itself is signalled, which it cannot have started anything to outlive."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:  # no such group: gone, or a forked step not yet in its own session
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.02)


def _ended(pid: int) -> bool:
    """True once `pid` is gone (a forked step is the step server's child, which reaps it at once)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _tail(path: Path, limit: int) -> str:
    """The step's log, capped at `limit` bytes, secrets masked."""
    from datakit.log import redact
    from datakit.orchestrate.store.logs import read_capped

    text, _ = read_capped(path, limit)
    return redact(text)


def _child_main() -> int:
    """The spawned child: the request comes on stdin; it dies with the process that spawned it."""
    from datakit.orchestrate.lifeline import die_with_parent

    die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    return execute_request(json.loads(sys.stdin.read()))


if __name__ == "__main__":
    sys.exit(_child_main())
