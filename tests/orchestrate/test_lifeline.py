"""Steps die with their run: kill -9 of the process running steps leaves none of them (nor what they
started) alive. Run by a real owner process (`lifeline_owner`), killed with its whole process group as a
shell or a supervisor would; its processes are found by a tag in their environment (`processes`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import datakit
from tests.conftest import REPO
from tests.orchestrate.processes import kill_tagged, new_tag, seconds_until_gone, tagged
from tests.waits import wait_until

SRC = Path(datakit.__file__).resolve().parents[1]  # the datakit under test, wherever it is


@pytest.mark.parametrize(("mode", "per_step"), [("server", 2), ("thread", 2), ("spawn", 1)])
def test_kill_9_of_the_owner_leaves_no_step_behind(tmp_path: Path, mode: str, per_step: int) -> None:
    env = new_tag()
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.orchestrate.lifeline_owner", mode, str(tmp_path)],
        cwd=REPO,
        env={**env, "PYTHONPATH": os.pathsep.join([str(SRC), str(REPO)])},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "ready"
        # the owner, 2 steps (each with a process of its own under a step server), and the server; a
        # process being started (forked, not yet exec'd) may be seen for a moment on a loaded machine
        expected = 1 + 2 * per_step + (mode != "spawn")
        wait_until(lambda: len(tagged(env)) == expected, f"{expected} processes of the run")
        killed = time.monotonic()
        os.killpg(owner.pid, signal.SIGKILL)
        owner.wait()
        seconds = seconds_until_gone(env, killed)
    finally:
        kill_tagged(env)
        owner.wait()
    print(f"kill_to_quiet_seconds[{mode}]: {seconds:.3f}")


def test_a_process_whose_parent_is_gone_already_dies_at_once() -> None:
    code = (
        "import os, signal\nfrom datakit.orchestrate.lifeline import die_with_parent\n"
        "die_with_parent(os.getppid() + 1_000_000, signal.SIGTERM)\nprint('survived')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == -signal.SIGTERM and "survived" not in done.stdout
