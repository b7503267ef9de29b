"""The soak benchmark's one-minute variant, in the suite: a real `datakit serve` with an interval trigger
and a stream of webhooks, retention on. What must hold whatever the machine's speed: runs happened,
no process outlived its run, and the store stopped growing once retention applied."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_a_minute_of_serve_leaks_nothing_and_retention_keeps_the_store_flat() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--minutes", "1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = dict(
        line.split(": ", 1) for line in done.stdout.splitlines() if line.startswith("soak_") and ": " in line
    )
    assert int(figures["soak_runs"]) >= 2, done.stdout
    assert int(figures["soak_leaked_processes"]) == 0, done.stdout
    state = figures["soak_state_kb_per_run"]
    assert state != "n/a" and float(state) < 20.0, done.stdout  # before retention: ~120 KB a run
