"""Where a running step's log is written while it runs, so the status pages can stream it.

A step process writes everything it prints or logs to one file; when the step ends, the executor keeps
the tail of it in the run history (masked) and the file is removed. While it runs, the file is at a
place named by the run's key and the step's id, under the project's `.datakit/live/`: any process on
the same machine that knows the run (the status pages of `datakit serve`, whoever started the run)
finds it without asking the process that runs the step.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import quote

LIVE_DIR = Path(".datakit") / "live"
TAIL_BYTES = 64 * 1024


def live_run_dir(project_root: Path, run_key: str) -> Path:
    """The folder of the live logs of the run keyed `run_key` (`<id>-<uid>`)."""
    return project_root / LIVE_DIR / quote(run_key, safe="")


def live_log_path(project_root: Path, run_key: str, step_id: str) -> Path:
    """The live log of step `step_id` of the run keyed `run_key`."""
    return live_run_dir(project_root, run_key) / f"{quote(step_id, safe='')}.log"


def read_live_log(path: Path, limit: int = TAIL_BYTES) -> str | None:
    """The last `limit` bytes of a live log (from a line start when cut), or None when there is none."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(size - limit, 0))
            data = file.read()
    except OSError:
        return None
    if len(data) == limit and b"\n" in data:
        data = data[data.index(b"\n") + 1 :]
    return data.decode("utf-8", errors="replace")


def remove_live_log(path: Path) -> None:
    """Remove a finished step's live log. Not its run's folder, even empty: removing it raced a step of
    the same run starting at that moment (its log's folder vanished between its creation and the
    opening of the file, and the step failed with FileNotFoundError: parallel runs on PostgreSQL).
    The run's folder goes when the run ends (`LocalRunner.end_run`), or with retention when the process
    that ran it was killed (`stale_live_logs`)."""
    with contextlib.suppress(OSError):
        path.unlink()


def stale_live_logs(project_root: Path, active: set[str], now: float, min_age: float = 3600.0) -> list[Path]:
    """The live-log folders of runs that are not active (by key) and untouched for `min_age` seconds:
    left behind by a process killed before it could remove them (`retention` sweeps them)."""
    folder = project_root / LIVE_DIR
    if not folder.is_dir():
        return []
    active_names = {quote(key, safe="") for key in active}
    stale = []
    for run_dir in folder.iterdir():
        if run_dir.name in active_names or not run_dir.is_dir():
            continue
        try:
            touched = max([run_dir.stat().st_mtime, *(f.stat().st_mtime for f in run_dir.iterdir())])
        except OSError:  # removed meanwhile by the run that wrote it
            continue
        if now - touched >= min_age:
            stale.append(run_dir)
    return stale


def remove_live_logs(run_dir: Path) -> None:
    """Remove a run's live-log folder and what is in it."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
