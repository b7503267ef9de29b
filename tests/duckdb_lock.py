"""Another process that holds a DuckDB file until the test lets go: DuckDB's one-writer rule, for real.

The child opens the file (read-write: DuckDB then refuses every other process, readers included) and
says so; it keeps it open until the test closes its stdin — an event, not a timer.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_HOLD = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
conn.close()
"""


@dataclass
class LockHolder:
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        """Close the file and end the holder (idempotent)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(60)


@contextmanager
def duckdb_lock(path: Path) -> Iterator[LockHolder]:
    """Hold `path` from a second process until `release()` (or the end of the block)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    holder = LockHolder(process)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked", "the lock holder could not open the file"
        yield holder
    finally:
        holder.release()
