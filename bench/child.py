"""Run one benchmark load in a child process and measure that child's own peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any


def spawn(args: list[str]) -> tuple[dict[str, Any], int]:
    """Run `args`, return the JSON of its last output line and its peak RSS in MiB (wait4 on its pid).

    `wait4` on exactly that pid (not RUSAGE_CHILDREN) keeps each load's figure its own.
    """
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        child = subprocess.Popen(args, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(child.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if code != 0:
        raise SystemExit(f"{' '.join(args[1:4])} failed ({code}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss // 1024
