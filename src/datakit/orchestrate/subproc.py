"""Run a function in a child process that a timeout really stops.

A thread cannot be killed, and a load blocked in a driver call ignores cooperative cancellation; a
process can. The child is `python -m datakit.orchestrate.subproc`, given `module:function` and JSON
keyword arguments on stdin; it writes the function's JSON-able result (or the error: message,
transient, and the error's `details` when it has them) to a file, and everything it prints or logs
goes to a log file the parent keeps with the attempt. On timeout the parent kills the child's whole
process group (SIGKILL after a short SIGTERM grace): the loader writes in one destination
transaction, so a killed load leaves the target as before.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from datakit.errors import DatakitError

LOG_LIMIT = 64 * 1024  # the tail of a step's log kept in the run history
_GRACE = 2.0
_live: set[subprocess.Popen[bytes]] = set()  # children running now, for `kill_all`
_live_lock = threading.Lock()


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
    target: str, kwargs: dict[str, Any], *, timeout: float | None = None, cwd: Path | None = None
) -> tuple[Any, str]:
    """`(result, log)` of `target(**kwargs)` run in a child process; StepFailed/StepTimeout on failure."""
    with tempfile.TemporaryDirectory(prefix="datakit-step-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "step.log"
        request = json.dumps({"target": target, "kwargs": kwargs, "result": str(result_path)})
        with log_path.open("wb") as log_file:
            child = subprocess.Popen(
                [sys.executable, "-m", "datakit.orchestrate.subproc"],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,  # its own process group: a kill reaches its children too
            )
            with _live_lock:
                _live.add(child)
            try:
                assert child.stdin is not None
                child.stdin.write(request.encode())
                child.stdin.close()
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(child)
                raise StepTimeout(timeout or 0.0, log=_tail(log_path)) from None
            finally:
                with _live_lock:
                    _live.discard(child)
        log = _tail(log_path)
        if not result_path.exists():
            raise StepFailed(f"step process exited with code {child.returncode}", transient=False, log=log)
        outcome = json.loads(result_path.read_text(encoding="utf-8"))
    if outcome["ok"]:
        return outcome["result"], log
    raise StepFailed(
        outcome["error"], transient=bool(outcome["transient"]), log=log, details=outcome.get("details")
    )


def kill_all() -> None:
    """Kill every step child of this process (the run is being aborted: Ctrl-C, SIGTERM)."""
    with _live_lock:
        children = list(_live)
    for child in children:
        _kill(child)


def _kill(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after a short grace."""
    for sig, grace in ((signal.SIGTERM, _GRACE), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if child.poll() is not None:
                return
            time.sleep(0.02)


def _tail(path: Path) -> str:
    from datakit.log import redact

    data = path.read_bytes()
    text = data[-LOG_LIMIT:].decode("utf-8", errors="replace")
    return redact(text if len(data) <= LOG_LIMIT else "…" + text)


def _child_main() -> int:
    """The child side: run the requested function, write its outcome, exit 0 (or 1 on failure)."""
    request = json.loads(sys.stdin.read())
    module_name, _, function_name = request["target"].partition(":")
    outcome: dict[str, Any]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        outcome = {"ok": True, "result": function(**request["kwargs"])}
    except Exception as exc:  # reported to the parent, which decides about retries
        from datakit.log import redact
        from datakit.orchestrate.retry import is_transient

        message = str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}"
        outcome = {"ok": False, "error": redact(message), "transient": is_transient(exc)}
        details = getattr(exc, "details", None)
        if details is not None:  # structured results of a failed step (checks, dbt)
            outcome["details"] = details
    Path(request["result"]).write_text(json.dumps(outcome, default=str), encoding="utf-8")
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(_child_main())
