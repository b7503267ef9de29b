"""A warm parent for step processes: imports and the project's datakits loaded once, each step forked.

Starting a step process costs one to two seconds before it does any work: the interpreter, pyarrow,
DuckDB, SQLAlchemy, the project's datakits (SQLModel classes), dbt for a dbt step. A Pagila job of 18
steps spent half its time there. The step server is one process per run that pays this once and then
forks a child per step. The child starts with everything imported, in milliseconds, and is still a
process of its own: a timeout kills it (it leads its own session, so its whole process group goes), a
crash cannot take the executor down, and each step's connections stay its own.

The server is single-threaded (forking a process with other threads copies locks they hold) and opens
no connection before forking, so children inherit no sockets. It waits with `select` on its requests and
on a wake-up pipe that SIGCHLD and SIGTERM write to, and reports each child's end.

Start-up stays off the critical path: the server answers `ready` once it has imported what the run's
first steps need (the loader, for a job that starts with loads) and loaded the project's datakits; the
rest (dbt: one to two seconds of imports) is imported afterwards, a module at a time, whenever no
request is waiting — on the core the running load leaves idle. Then, still in idle time, it runs the
`ahead` calls the run asked for, e.g. `datakit.transform.parse_ahead` for each dbt step, so a dbt
step forked later starts with its project parsed. A request that arrives during an import or a call
waits for it to end (one module, one parse). A request for a step whose call has not run yet runs it
first, then forks: the child would do the same work, and done here it also serves the steps forked
after it (a second dbt step on the same project finds the manifest parsed).

A run whose dbt steps wait for its loads has two servers (`StepServers`): the loads' server as above, and
one for the dbt steps that imports dbt and parses their projects from the start, beside the first.

Nothing of a run outlives it (`lifeline`): the server gets SIGTERM when the run's thread ends, and its
children SIGKILL when the server ends. On that SIGTERM, or when its stdin reaches end of file (the run
closed the server, or died), the server SIGKILLs every running child's process group and exits.

Protocol, one JSON object per line: `{"modules": [...], "later": [...], "ahead": [{"step", "target",
"kwargs"}], "project_root", "environment"}` first (what to preload now, later, and call ahead),
answered by `{"ready": true}`; then requests `{"id", "target", "kwargs", "result", "log",
"cwd"}`, each answered by `{"started": id, "pid": pid}` at once and `{"exited": id, "code": code}` when
the child ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from datakit.log import get_logger
from datakit.orchestrate.lifeline import die_with_parent
from datakit.orchestrate.stepcall import execute_request

log = get_logger(__name__)


@dataclass
class _Pending:
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    code: int | None = None


@dataclass(frozen=True)
class AheadCall:
    """A call the server makes in idle time for step `step` (`module:function` with JSON kwargs), so
    that the step, forked later, finds its result in memory; skipped once the step was forked."""

    step: str
    target: str
    kwargs: dict[str, Any]


class ServerGone(RuntimeError):
    """The step server died (or never started): the caller falls back to a fresh process per step."""


class StepServer:
    """The parent's handle on one step server; thread-safe (steps of a run start from several threads)."""

    def __init__(
        self,
        modules: Iterable[str] = (),
        project_root: Path | None = None,
        environment: str = "dev",
        *,
        later: Iterable[str] = (),
        ahead: Iterable[AheadCall] = (),
    ):
        self._setup = {
            "modules": list(modules),
            "later": list(later),
            "ahead": [dataclasses.asdict(call) for call in ahead],
            "project_root": str(project_root) if project_root is not None else None,
            "environment": environment,
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next = 0
        self._alive = False

    def start(self, *, wait: bool = True) -> None:
        """Start the server and wait until it has preloaded (ServerGone if it cannot start).

        Without `wait`, return at once: a request sent meanwhile waits in the server's input until it
        has preloaded, and a server that fails to start fails its requests (each step is then spawned).
        """
        process = subprocess.Popen(
            [sys.executable, "-m", "datakit.orchestrate.stepserver", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(self._setup).encode() + b"\n")
        process.stdin.flush()
        if wait:
            first = process.stdout.readline()
            if not first or not json.loads(first).get("ready"):
                process.kill()
                raise ServerGone("the step server did not start")
        self._process = process
        self._alive = True
        threading.Thread(
            target=self._read, args=(process.stdout,), daemon=True, name="datakit-stepserver"
        ).start()

    @property
    def alive(self) -> bool:
        return self._alive

    def fork(
        self, target: str, kwargs: dict[str, Any], *, result: Path, log_path: Path, cwd: Path | None
    ) -> int:
        """Start `target(**kwargs)` in a forked child; its pid (it leads its own process group)."""
        with self._lock:
            if not self._alive or self._process is None or self._process.stdin is None:
                raise ServerGone("the step server is not running")
            self._next += 1
            request_id = self._next
            pending = self._pending[request_id] = _Pending()
            request = {
                "id": request_id,
                "target": target,
                "kwargs": kwargs,
                "result": str(result),
                "log": str(log_path),
                "cwd": str(cwd) if cwd is not None else None,
            }
            try:
                self._process.stdin.write(json.dumps(request).encode() + b"\n")
                self._process.stdin.flush()
            except OSError as exc:
                self._alive = False
                raise ServerGone("the step server is gone") from exc
        if not pending.started.wait(60.0) or not pending.pid:
            raise ServerGone("the step server did not start the step")
        return request_id

    def pid(self, request_id: int) -> int:
        return self._pending[request_id].pid

    def wait(self, request_id: int, timeout: float | None) -> int | None:
        """The child's exit code, or None when it is still running after `timeout` seconds."""
        pending = self._pending[request_id]
        if not pending.exited.wait(timeout):
            return None
        return pending.code

    def release(self, request_id: int) -> None:
        """Forget a finished request."""
        with self._lock:
            self._pending.pop(request_id, None)

    def close(self) -> None:
        """Stop the server; a child still running is killed with its process group."""
        with self._lock:
            self._alive = False
            process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            message = json.loads(line)
            with self._lock:
                if "ready" in message:
                    continue
                if "started" in message:
                    pending = self._pending.get(message["started"])
                    if pending is not None:
                        pending.pid = int(message["pid"])
                        pending.started.set()
                elif "exited" in message:
                    pending = self._pending.get(message["exited"])
                    if pending is not None:
                        pending.code = int(message["code"])
                        pending.exited.set()
        with self._lock:  # the server is gone: nothing more will start or be reported
            self._alive = False
            for pending in self._pending.values():
                pending.started.set()
                if pending.code is None:
                    pending.code = -1
                pending.exited.set()


class StepServers:
    """Step servers by lane: dbt steps fork from a server of their own, the other steps from the main one.

    A job's dbt steps wait for its loads, and dbt's imports and parse take longer than a small job's
    loads: in one server they would start only once the loads' modules are in, and end after the
    loads. A second server imports dbt and parses the projects from the start of the run, on the
    core the first one leaves, and the dbt steps find it done. `start` waits for the main server
    only. Same interface as `StepServer` (`run_in_child` uses either).
    """

    def __init__(self, main: StepServer, dbt: StepServer) -> None:
        self._main = main
        self._dbt = dbt
        self._requests: dict[int, tuple[StepServer, int]] = {}
        self._lock = threading.Lock()
        self._next = 0

    def start(self) -> None:
        self._dbt.start(wait=False)
        self._main.start()

    @property
    def alive(self) -> bool:
        return self._main.alive or self._dbt.alive

    def fork(
        self, target: str, kwargs: dict[str, Any], *, result: Path, log_path: Path, cwd: Path | None
    ) -> int:
        step = kwargs.get("step")
        server = self._dbt if isinstance(step, dict) and step.get("kind") == "dbt" else self._main
        request = server.fork(target, kwargs, result=result, log_path=log_path, cwd=cwd)
        with self._lock:
            self._next += 1
            self._requests[self._next] = (server, request)
            return self._next

    def pid(self, request_id: int) -> int:
        server, request = self._requests[request_id]
        return server.pid(request)

    def wait(self, request_id: int, timeout: float | None) -> int | None:
        server, request = self._requests[request_id]
        return server.wait(request, timeout)

    def release(self, request_id: int) -> None:
        with self._lock:
            server, request = self._requests.pop(request_id)
        server.release(request)

    def close(self) -> None:
        self._main.close()
        self._dbt.close()


WarmServer = StepServer | StepServers
"""What steps fork from: one server, or one per lane."""


# --- the server side ----------------------------------------------------------------------------------


def _warm(setup: dict[str, Any]) -> None:
    """Import what the first steps use and load the project's datakits, so forked children find them."""
    for module in setup.get("modules", []):
        _import(module)
    root = setup.get("project_root")
    if root is None:
        return
    try:
        from datakit.config import load_project
        from datakit.datakits import datakit_names, datakits_dir, load_datakit

        project = load_project(Path(root), environment=setup.get("environment"))
        for name in datakit_names(datakits_dir(project)):
            load_datakit(project, name)
    except Exception:  # the step itself will load the project and report what is wrong
        return


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # a missing optional module only costs the child its import
        return


def _idle_work(setup: dict[str, Any]) -> deque[tuple[str | None, Callable[[], object]]]:
    """What the server does when nothing waits: the later imports, then the calls ahead, in order;
    each with the step it is for (None: for every step)."""
    work: deque[tuple[str | None, Callable[[], object]]] = deque()
    for module in setup.get("later", []):
        work.append((None, functools.partial(_import, module)))
    for call in setup.get("ahead", []):
        work.append((call["step"], functools.partial(_call_ahead, call["target"], call["kwargs"])))
    return work


def _call_ahead(target: str, kwargs: dict[str, Any]) -> None:
    module, _, function = target.partition(":")
    try:
        getattr(importlib.import_module(module), function)(**kwargs)
    except Exception:  # only a head start: the step itself does the work and reports what is wrong
        return


def _run_ahead_of(step: str, idle: deque[tuple[str | None, Callable[[], object]]]) -> None:
    """Run the calls queued for `step` now (its child is about to be forked), and drop them."""
    mine = [work for owner, work in idle if owner == step]
    if not mine:
        return
    kept = [(owner, work) for owner, work in idle if owner != step]
    idle.clear()
    idle.extend(kept)
    for work in mine:
        work()
    gc.freeze()


def _step_of(request: dict[str, Any]) -> str | None:
    step = request.get("kwargs", {}).get("step")
    return step.get("id") if isinstance(step, dict) else None


def _send(message: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError):  # the run is gone; the loop notices and ends
        os.write(1, json.dumps(message).encode() + b"\n")


def _child(request: dict[str, Any], server: int) -> None:
    """(In the forked child.) Become a step process: own session, output to the log, run, exit."""
    code = 1
    try:
        os.setsid()
        die_with_parent(server)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a timeout's SIGTERM ends the step
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        code = execute_request(request)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _reap(children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        request_id = children.pop(pid, None)
        if request_id is not None:
            _send({"exited": request_id, "code": os.waitstatus_to_exitcode(status)})


def _kill_all(children: dict[int, int]) -> None:
    """SIGKILL each running child's process group: the step and whatever it started."""
    for pid in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def main() -> int:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    die_with_parent(parent, signal.SIGTERM)  # until the loop handles it, SIGTERM simply ends us
    first = sys.stdin.buffer.readline()
    if not first:  # the parent is gone already
        return 0
    setup = json.loads(first)
    _warm(setup)
    gc.freeze()  # what is loaded now lives as long as the server: no collection scans it, no child copies it
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: terminated.append(signum))
    _send({"ready": True})
    children: dict[int, int] = {}
    idle = _idle_work(setup)
    buffer = b""
    stdin = sys.stdin.fileno()
    server = os.getpid()
    while not terminated:
        ready, _, _ = select.select([stdin, wake_r], [], [], 0 if idle else 1.0)
        if wake_r in ready:
            os.read(wake_r, 4096)
        _reap(children)
        if not ready and idle:
            _, work = idle.popleft()
            work()
            gc.freeze()
            continue
        if terminated or stdin not in ready:
            continue
        data = os.read(stdin, 1 << 16)
        if not data:  # the run closed the pipe, or died: nobody waits for these children any more
            break
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            step = _step_of(request)
            if step is not None:
                _run_ahead_of(step, idle)
            pid = os.fork()
            if pid == 0:
                _child(request, server)
            children[pid] = request["id"]
            _send({"started": request["id"], "pid": pid})
    _kill_all(children)
    return 0


if __name__ == "__main__":
    os._exit(main())  # no interpreter clean-up (with everything preloaded, it takes a tenth of a second)
