"""kill -9 of a loading process at random instants: the target is exactly as before or as after.

A 1M-row source is merged into the target by a subprocess that is killed at a random point of its run.
Before each attempt the source changes (a slice of scores), so "before" and "after" differ. After each
kill the target's count and checksum must equal either the previous state or the source's, the number
of succeeded loads in `_datakit.loads` must agree with which one it is, and a final uninterrupted run
must reconcile the target with the source exactly, with no duplicate keys.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.matrix import PostgresTarget, Row, SourceDb, Target

ROWS = 1_000_000
REPO = Path(__file__).resolve().parents[2]
LOAD_SECONDS = 10.0  # about how long one 1M-row merge takes here (process start included)
CHECKSUM = "SELECT count(*), count(DISTINCT id), sum(id), sum(score), sum(CAST(score AS BIGINT) * id) FROM {}"


Checksum = tuple[int, ...]


def state(dest: Target) -> tuple[Checksum | None, int]:
    """(checksum of the target or None, succeeded loads recorded)."""
    exists = dest.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'big'",
        [dest.schema],
    )[0][0]
    checksum = normal(dest.query(CHECKSUM.format(dest.q("big")))[0]) if exists else None
    loads = dest.query(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = '_datakit' AND table_name = 'loads'"
    )[0][0]
    succeeded = 0
    if loads:
        succeeded = dest.query(
            "SELECT count(*) FROM _datakit.loads WHERE target = $1 AND status = 'succeeded'",
            [str(dest.table("big"))],
        )[0][0]
    return checksum, int(succeeded)


def source_checksum(db: SourceDb) -> Checksum:
    return normal(db.query(CHECKSUM.format(db.q("big")))[0])


def normal(checksum: Row) -> Checksum:
    return tuple(int(v) for v in checksum)


def wait_for_backends(load_dsn: str, tag: str) -> None:
    """Until PostgreSQL has ended every session of the killed process (a COMMIT in flight lands first)."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(load_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the killed loader's sessions did not end")


def launch(dest: Target, db: SourceDb, tag: str) -> subprocess.Popen[str]:
    arguments = {
        "kind": dest.kind,
        "target": dest.location,
        "source_kind": db.kind,
        "source": db.location,
        "source_schema": db.schema or "",
        "target_schema": dest.schema,
        "disposition": "merge",
        "tag": tag,
    }
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.load.kill_worker", json.dumps(arguments)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_end(dest: Target, db: SourceDb) -> None:
    process = launch(dest, db, f"dk_kill_{uuid.uuid4().hex[:8]}")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]


def kill_many(dest: Target, db: SourceDb, kills: int, latest: float = LOAD_SECONDS) -> None:
    """`kills` attempts, each killed at a uniformly random instant up to `latest` seconds after start."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    db.create("big", "id int, name text NOT NULL, score int, updated timestamptz NOT NULL")
    db.insert("big", ((g, f"name {g}", g % 1000, start + timedelta(seconds=g)) for g in range(1, ROWS + 1)))
    before = state(dest)  # no table yet: the first attempt may die inside the very first load
    assert before == (None, 0)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for attempt in range(kills):
        db.execute(f"UPDATE {db.q('big')} SET score = score + 1 WHERE id % {kills + 1} = {attempt}")
        after_checksum = source_checksum(db)
        tag = f"dk_kill_{uuid.uuid4().hex[:8]}"
        process = launch(dest, db, tag)
        time.sleep(rng.uniform(0.3, latest))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        if isinstance(dest, PostgresTarget):
            wait_for_backends(dest.dsn, tag)
        now = state(dest)
        checksum, succeeded = now
        if checksum == before[0]:
            assert succeeded == before[1], f"seed {seed}, attempt {attempt}: data as before, record as after"
            outcomes.append("before")
        else:
            assert checksum == after_checksum, f"seed {seed}, attempt {attempt}: neither before nor after"
            assert succeeded == before[1] + 1, f"seed {seed}, attempt {attempt}: data as after, no record"
            outcomes.append("after")
        before = now
    run_to_end(dest, db)
    final = state(dest)[0]
    assert final == source_checksum(db)
    assert final is not None
    assert final[0] == final[1] == ROWS  # no duplicate keys
    print(f"kill -9 outcomes (seed {seed}): {outcomes}")


def test_kill_9_leaves_before_or_after(dest: Target, source_db: SourceDb) -> None:
    kill_many(dest, source_db, kills=2)


@pytest.mark.slow
def test_kill_9_twenty_times(dest: Target, source_db: SourceDb) -> None:
    kill_many(dest, source_db, kills=20, latest=1.6 * LOAD_SECONDS)
