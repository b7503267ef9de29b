"""The processes of a run under test, found by a tag in their environment.

A killed run's processes are re-parented, so its process tree cannot be walked after the kill; but every
process it starts (spawned, forked, and whatever those start) inherits the environment of the process
the test started. A zombie has no environment left to read: it counts as gone, as it should.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

TAG = "DATAKIT_TEST_PROCESS_TAG"


def new_tag() -> dict[str, str]:
    """An environment (the test's own, plus a new tag) to start the processes under test with."""
    return {**os.environ, TAG: uuid.uuid4().hex}


def tagged(env: dict[str, str]) -> list[int]:
    """The living processes started with `env`'s tag."""
    needle = f"{TAG}={env[TAG]}".encode()
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def seconds_until_gone(env: dict[str, str], since: float, limit: float = 60.0) -> float:
    """Seconds from `since` (a `time.monotonic()`) until no process carries `env`'s tag; after `limit`
    seconds, the survivors are killed and the test fails naming them."""
    while True:
        left = tagged(env)
        elapsed = time.monotonic() - since
        if not left:
            return elapsed
        if elapsed > limit:
            names = [_cmdline(pid) for pid in left]
            kill_tagged(env)
            raise AssertionError(f"{len(left)} process(es) still alive {limit:g}s after the kill: {names}")
        time.sleep(0.005)


def kill_tagged(env: dict[str, str]) -> None:
    """SIGKILL whatever carries `env`'s tag (a test's clean-up)."""
    for pid in tagged(env):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return str(pid)
