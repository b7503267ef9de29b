"""The victim of the lifeline tests: a process that runs steps which never end, as a run does.

`python -m tests.orchestrate.lifeline_owner MODE FOLDER`: with MODE `server`, two steps forked by a step
server, each having started a process of its own; with MODE `thread`, the same from a thread that is not
the main one (as `datakit serve` runs a run); with MODE `spawn`, two spawned steps. Once every step has
written its pid file into FOLDER it prints `ready`, and then waits for the test to kill it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from datakit.orchestrate.stepserver import StepServer
from datakit.orchestrate.subproc import run_in_child

REPO = Path(__file__).resolve().parents[2]


def main(mode: str, folder: Path) -> None:
    if mode == "thread":  # the parent-death signal is tied to the thread that started the server
        threading.Thread(target=main, args=("server", folder), daemon=True).start()
        threading.Event().wait()
    server = None
    target = "tests.orchestrate.helpers:forever"
    if mode == "server":
        server = StepServer(modules=["tests.orchestrate.helpers"])
        server.start()
        target = "tests.orchestrate.helpers:forever_with_child"
    pid_files = [folder / f"step{i}.pid" for i in range(2)]
    for pid_file in pid_files:
        threading.Thread(
            target=run_in_child,
            args=(target, {"pid_file": str(pid_file)}),
            kwargs={"cwd": REPO, "server": server},
            daemon=True,
        ).start()
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in pid_files):
        if time.monotonic() > deadline:  # the test reads no `ready` and fails
            os._exit(1)
        time.sleep(0.02)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
