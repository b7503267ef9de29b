"""Load records name their run and step, so a retry or a resume asks the destination what committed.

On both destinations: a load made as a run's step records the run's key and the step's id with its data,
in a state schema of its own here (as a tenant's `acme__datakit` is) which an older datakit had set up
without those columns; `committed_load` finds it by step and by any of a run's keys, and ignores failed
loads. On PostgreSQL, the question waits for a load record whose transaction is still committing.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from datakit.connectors import PostgresParams, open_destination
from datakit.errors import DatakitError
from datakit.load.loader import load_resource
from datakit.load.plan import RunOptions
from datakit.load.state import CommittedLoad, committed_load, prepare
from tests.load.helpers import CUSTOMER_DDL, customer_contract, plan_for
from tests.matrix import SourceDb, Target, quote

ROWS = 500
OLD_LOADS = (  # `_datakit.loads` as datakit created it before loads named their run and step
    "load_id TEXT NOT NULL, pipeline TEXT NOT NULL, resource TEXT NOT NULL, target TEXT NOT NULL, "
    "status TEXT NOT NULL, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL, "
    "rows_rejected BIGINT NOT NULL, cursor_value TEXT, schema_changes TEXT, error TEXT, "
    "started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL"
)


@pytest.fixture
def customers(source_db: SourceDb) -> SourceDb:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    source_db.create("customer", CUSTOMER_DDL)
    source_db.insert(
        "customer", [(g, f"name {g}", g % 100, start + timedelta(minutes=g)) for g in range(1, ROWS + 1)]
    )
    return source_db


@pytest.fixture
def state_schema(dest: Target) -> Iterator[str]:
    """A state schema of the test's own (as a tenant's `acme__datakit` is)."""
    name = f"dk_state_{uuid.uuid4().hex[:10]}"
    yield name
    if dest.kind == "postgres":
        dest.execute(f"DROP SCHEMA IF EXISTS {quote(name)} CASCADE")


def test_a_step_load_records_its_run_and_older_state_gains_the_columns(
    dest: Target, customers: SourceDb, state_schema: str
) -> None:
    dest.execute(f"CREATE SCHEMA {quote(state_schema)}")
    dest.execute(f"CREATE TABLE {quote(state_schema, 'loads')} ({OLD_LOADS})")
    dest.execute(
        f"INSERT INTO {quote(state_schema, 'loads')} VALUES ('old', 'test', 'customer', 't', 'succeeded', "
        "1, 1, 0, NULL, NULL, NULL, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00', TIMESTAMPTZ '2024-01-01 00:00:01+00')",
    )
    plan = dataclasses.replace(
        plan_for(customers.source, customers.schema, "customer", customer_contract(), dest.table("customer")),
        state_schema=state_schema,
    )
    result = load_resource(plan, dest.destination, RunOptions(run_id="7-abc", step_id="test.customer"))
    assert (result.run_id, result.step_id) == ("7-abc", "test.customer")
    broken = dataclasses.replace(plan, request=dataclasses.replace(plan.request, table=dest.table("nowhere")))
    with pytest.raises(DatakitError):  # recorded as failed, under another run's key
        load_resource(broken, dest.destination, RunOptions(run_id="9-ghi", step_id="test.customer"))

    records = dest.query(
        f'SELECT load_id, status, run_id, step_id FROM "{state_schema}".loads ORDER BY started_at'
    )
    assert records == [
        ("old", "succeeded", None, None),
        (result.load_id, "succeeded", "7-abc", "test.customer"),
        (records[2][0], "failed", "9-ghi", "test.customer"),
    ]

    def ask(step: str, *runs: str) -> CommittedLoad | None:
        return committed_load(dest.destination, step, runs, state_schema=state_schema)

    assert ask("test.customer", "8-def", "7-abc") == CommittedLoad(result.load_id, "7-abc", ROWS, ROWS, 0)
    assert ask("test.customer", "9-ghi") is None  # its load failed
    assert ask("test.other", "7-abc") is None
    assert ask("test.customer") is None
    assert dest.count("customer") == ROWS


def test_a_new_state_schema_answers_no_load_yet(dest: Target, state_schema: str) -> None:
    assert committed_load(dest.destination, "test.customer", ["1-x"], state_schema=state_schema) is None


@pytest.mark.parametrize("dest", ["postgres"], indirect=True)
def test_the_question_waits_for_a_load_still_committing(
    dest: Target, load_dsn: str, pg_params: PostgresParams, state_schema: str
) -> None:
    """A killed run's COMMIT may be in flight when its resume asks: the answer waits for it."""
    import psycopg

    destination = open_destination(pg_params)
    prepare(destination, (), state_schema=state_schema)
    with psycopg.connect(load_dsn) as committing, ThreadPoolExecutor(1) as pool:
        committing.execute(
            f'INSERT INTO "{state_schema}".loads (load_id, pipeline, resource, target, status, rows_read, '
            "rows_loaded, rows_rejected, started_at, finished_at, run_id, step_id) VALUES ('l1', 'test', "
            "'customer', 't', 'succeeded', 3, 2, 1, now(), now(), '7-abc', 'test.customer')"
        )
        asked = pool.submit(
            committed_load, destination, "test.customer", ["7-abc"], state_schema=state_schema
        )
        deadline = time.monotonic() + 60
        while not _waits_for_lock(load_dsn, state_schema):
            assert not asked.done(), f"answered {asked.result()} without waiting for the commit"
            assert time.monotonic() < deadline, "the question neither waited nor answered"
            time.sleep(0.01)
        committing.commit()
        assert asked.result(timeout=60) == CommittedLoad("l1", "7-abc", 3, 2, 1)


def _waits_for_lock(dsn: str, schema: str) -> bool:
    """Whether a session waits for a lock on `<schema>.loads`."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT l.granted AND n.nspname = %s AND c.relname = 'loads'",
            (schema,),
        ).fetchone()
    return row is not None and row[0] > 0
