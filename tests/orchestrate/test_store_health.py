"""The store stays healthy under retention: the SQLite file and its WAL shrink after a prune (an older
store is converted to incremental vacuum once), and runs recorded by other processes keep working while
a prune runs — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from datakit.orchestrate.retention import prune
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.prune import Limits, Policy
from datakit.orchestrate.store.sql import sqlite_url
from tests.conftest import REPO
from tests.waits import GUARD, wait_until


def _fill(store: StateStore, runs: int, log_bytes: int = 20_000) -> list[int]:
    """Runs with a log each that does not compress (random hex): what a prune must give back."""
    ids = []
    for _ in range(runs):
        run_id = store.start_run("daily", "{}", allow_concurrent=True)
        store.add_steps(run_id, ["load.a"])
        store.attempt_started(run_id, "load.a", 1)
        store.attempt_finished(run_id, "load.a", 1, log=os.urandom(log_bytes // 2).hex())
        store.finish_run(run_id, RunStatus.SUCCEEDED)
        ids.append(run_id)
    return ids


def _pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"PRAGMA {name}").fetchone()[0])


def test_a_new_store_vacuums_incrementally(tmp_path: Path) -> None:
    StateStore(sqlite_url(tmp_path / "state.db")).close()
    assert _pragma(tmp_path / "state.db", "auto_vacuum") == 2  # incremental


def test_the_file_and_its_wal_shrink_after_a_prune(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(sqlite_url(path))
    _fill(store, 300)
    before = store.size_bytes()
    assert before is not None and before > 300 * 20_000

    report = prune(store, Policy(Limits(max_runs=10)))

    assert report.removed.runs == 290
    assert report.size_before == before and report.size_after == store.size_bytes()
    wal = path.with_name("state.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    assert path.stat().st_size < before / 10  # about 10 runs' worth, not 300
    assert _pragma(path, "freelist_count") < 50  # the free pages went back to the file system
    assert len(store.list_runs(limit=1000)) == 10
    store.close()


def test_a_store_made_before_auto_vacuum_is_converted_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:  # a store of an older datakit: auto_vacuum was never set
        db.execute("PRAGMA journal_mode=WAL")
        db.execute('CREATE TABLE cursors ("trigger" VARCHAR(200) PRIMARY KEY, at FLOAT NOT NULL)')
    assert _pragma(path, "auto_vacuum") == 0
    store = StateStore(sqlite_url(path))
    _fill(store, 200)
    before = store.size_bytes() or 0

    prune(store, Policy(Limits(max_runs=5)))

    assert _pragma(path, "auto_vacuum") == 2
    assert path.stat().st_size < before / 10
    _fill(store, 50)
    grown = store.size_bytes() or 0
    prune(store, Policy(Limits(max_runs=5)))  # from now on incremental vacuum, no full VACUUM
    assert (store.size_bytes() or 0) < grown / 3
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of an empty store that other processes open too."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "state.db")
        StateStore(url).close()
        yield url, None
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    url, schema = dsn.replace("postgresql://", "postgresql+psycopg://", 1), f"state_{uuid.uuid4().hex[:10]}"
    StateStore(url, schema=schema).close()
    yield url, schema
    store = StateStore(url, schema=schema)
    with store.engine.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    store.close()


class Writer:
    """A process recording runs of `job` into the store (`store_writer`), its output read as it comes."""

    def __init__(self, url: str, schema: str | None, job: str, stop: Path) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.orchestrate.store_writer", url, schema or "-", job, str(stop)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def runs(self) -> int:
        return sum(1 for line in self.lines if line.startswith("run "))

    def finish(self) -> list[str]:
        self.process.wait(GUARD)
        self._reader.join(GUARD)
        return self.lines


def test_runs_recorded_by_other_processes_keep_working_during_a_prune(
    store_url: tuple[str, str | None], tmp_path: Path
) -> None:
    url, schema = store_url
    stop = tmp_path / "stop"
    writers = [Writer(url, schema, job, stop) for job in ("daily", "hourly")]
    store = StateStore(url, schema=schema)
    try:
        wait_until(lambda: all(w.runs >= 30 for w in writers), "each writer to record 30 runs")
        prunes = 0
        removed = 0
        # prune again and again while both keep writing: at least 5 prunes and 20 more runs each
        marks = [w.runs for w in writers]
        while prunes < 5 or any(w.runs < mark + 20 for w, mark in zip(writers, marks, strict=True)):
            assert all(w.process.poll() is None for w in writers), [w.lines[-5:] for w in writers]
            removed += prune(store, Policy(Limits(max_runs=5))).removed.runs
            prunes += 1
            assert prunes < 10_000, "the writers stopped writing"
        stop.touch()
        outputs = [w.finish() for w in writers]
    finally:
        stop.touch()
        for writer in writers:
            if writer.process.poll() is None:
                writer.process.kill()
    for output in outputs:
        summary = next(line for line in output if line.startswith("done "))
        assert summary.endswith(" errors 0"), output[output.index(summary) :]
    assert removed > 0
    prune(store, Policy(Limits(max_runs=5)))
    with store.engine.connect() as conn:  # nothing left behind by a deleted run
        orphans = conn.execute(
            select(func.count())
            .select_from(store.steps)
            .where(store.steps.c.run_id.not_in(select(store.runs.c.id)))
        ).scalar_one()
        attempts = conn.execute(
            select(func.count())
            .select_from(store.attempts)
            .where(store.attempts.c.run_id.not_in(select(store.runs.c.id)))
        ).scalar_one()
    assert (orphans, attempts) == (0, 0)
    assert sorted(r.job for r in store.list_runs(limit=100)) == ["daily"] * 5 + ["hourly"] * 5
    store.close()
