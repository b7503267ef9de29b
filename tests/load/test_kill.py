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
from pathlib import Path
from typing import Any

import pytest

ROWS = 1_000_000
REPO = Path(__file__).resolve().parents[2]
LOAD_SECONDS = 10.0  # about how long one 1M-row merge takes here (process start included)
CHECKSUM = "SELECT count(*), count(DISTINCT id), sum(id), sum(score), sum(CAST(score AS BIGINT) * id) FROM {}"


def state(dest: Any) -> tuple[Any, ...]:
    """(checksum of the target or None, succeeded loads recorded)."""
    exists = dest.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'big'",
        [dest.schema],
    )[0][0]
    checksum = tuple(dest.query(CHECKSUM.format(dest.q("big")))[0]) if exists else None
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
    return checksum, succeeded


def source_checksum(load_dsn: str, schema: str) -> tuple[Any, ...]:
    import psycopg

    with psycopg.connect(load_dsn) as conn:
        row = conn.execute(CHECKSUM.format(f'"{schema}".big')).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)


def normal(checksum: tuple[Any, ...] | None) -> tuple[int, ...] | None:
    return None if checksum is None else tuple(int(v) for v in checksum)


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


def launch(dest: Any, load_dsn: str, schema: str, tag: str) -> subprocess.Popen[str]:
    arguments = {
        "kind": dest.kind,
        "path": str(dest.path),
        "source_dsn": load_dsn,
        "source_schema": schema,
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


def run_to_end(dest: Any, load_dsn: str, schema: str) -> None:
    process = launch(dest, load_dsn, schema, f"dk_kill_{uuid.uuid4().hex[:8]}")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]


def kill_many(
    dest: Any, load_dsn: str, source_schema: str, pg_exec: Any, kills: int, latest: float = LOAD_SECONDS
) -> None:
    """`kills` attempts, each killed at a uniformly random instant up to `latest` seconds after start."""
    table = f'"{source_schema}".big'
    pg_exec(f"CREATE TABLE {table} (id int, name text NOT NULL, score int, updated timestamptz NOT NULL)")
    pg_exec(
        f"INSERT INTO {table} SELECT g, 'name ' || g, g % 1000, "
        f"timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, {ROWS}) g"
    )
    before = state(dest)  # no table yet: the first attempt may die inside the very first load
    assert before == (None, 0)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for attempt in range(kills):
        pg_exec(f"UPDATE {table} SET score = score + 1 WHERE id % {kills + 1} = {attempt}")
        after_checksum = source_checksum(load_dsn, source_schema)
        tag = f"dk_kill_{uuid.uuid4().hex[:8]}"
        process = launch(dest, load_dsn, source_schema, tag)
        time.sleep(rng.uniform(0.3, latest))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        if dest.kind == "postgres":
            wait_for_backends(load_dsn, tag)
        now = state(dest)
        checksum, succeeded = normal(now[0]), now[1]
        if checksum == normal(before[0]):
            assert succeeded == before[1], f"seed {seed}, attempt {attempt}: data as before, record as after"
            outcomes.append("before")
        else:
            assert checksum == after_checksum, f"seed {seed}, attempt {attempt}: neither before nor after"
            assert succeeded == before[1] + 1, f"seed {seed}, attempt {attempt}: data as after, no record"
            outcomes.append("after")
        before = now
    run_to_end(dest, load_dsn, source_schema)
    final = normal(state(dest)[0])
    assert final == source_checksum(load_dsn, source_schema)
    assert final is not None
    assert final[0] == final[1] == ROWS  # no duplicate keys
    print(f"kill -9 outcomes (seed {seed}): {outcomes}")


def test_kill_9_leaves_before_or_after(dest: Any, load_dsn: str, source_schema: str, pg_exec: Any) -> None:
    kill_many(dest, load_dsn, source_schema, pg_exec, kills=2)


@pytest.mark.slow
def test_kill_9_twenty_times(dest: Any, load_dsn: str, source_schema: str, pg_exec: Any) -> None:
    kill_many(dest, load_dsn, source_schema, pg_exec, kills=20, latest=1.6 * LOAD_SECONDS)
