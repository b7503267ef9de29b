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


def postgres_cpu_seconds() -> float | None:
    """CPU seconds the local PostgreSQL server's processes have used so far (None: no local server).

    Live processes' own time plus the postmaster's reaped children (backends that have exited). On a
    machine where the benchmark, its client and the server share the cores, a load's wall time is
    bounded below by all the CPU it costs, the server's included, divided by the cores.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                name, _, rest = stat_file.read().rpartition(")")
        except OSError:
            continue
        if not name.endswith("(postgres"):
            continue
        fields = rest.split()
        found = True
        total += int(fields[11]) + int(fields[12])
        if not _is_postgres(fields[1]):  # the postmaster: add the backends it has reaped
            total += int(fields[13]) + int(fields[14])
    return total / tick if found else None


def _is_postgres(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return "(postgres)" in stat_file.read()
    except OSError:
        return False
