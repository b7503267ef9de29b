"""The `_datakit` schema: load records and incremental cursors, kept in the destination itself.

`_datakit.files` records the files a file-set source loaded (see `datakit.load.files`). The three tables'
layouts are here, as logical types the destination's engine spells (`Engine.column_sql`); the
statements are plain SQL every engine of this package runs, with `$n` parameters.

State lives with the data (DESIGN.md 3.3): the cursor and the load record are written in the same
transaction as the rows they describe, so after a crash the cursor never points past data that is not
there, nor behind data that is. Only creating the schema and its tables happens in a short transaction
of its own, before the load (CREATE ... IF NOT EXISTS is not safe against a concurrent twin on every
engine, so it runs under the engine's set-up lock, `Engine.lock_setup`; an empty `_datakit` left by a
crash is harmless).

Cursor values are stored as text with their Python type name, so an integer cursor comes back as an
int, a timestamp as an aware datetime, a decimal as a Decimal: the next read compares like with like.

Exactly once (DESIGN.md 3.9): a load run as a step of a run records the run's id and the step's id in
its load record, in the data's transaction; a retry or a resume asks `committed_load` first and does not
load again what is there. On PostgreSQL the COMMIT of a killed run may still be in flight when the
resume asks (the server finishes a COMMIT its client sent before dying), so the question first waits for
every transaction that has written a load record to end (`Engine.lock_loads`: a SHARE lock on `loads`
there), and such a transaction is one statement from its COMMIT. (DuckDB has one writing process per
file: a new one opens it only once the killed one is gone.) Columns added to `loads` since a database
was first set up are added by `prepare`, under the set-up's lock.

Load ids (issue 21 item 5): every load record has an integer `id`, which its bronze rows carry as
`_dk_load_id` (`datakit.contracts.audit`), allocated inside the load's own transaction by the engine
(`Engine.next_load_id`: a sequence on PostgreSQL, where loads run concurrently; the largest id + 1 where
one writer at a time holds the database), so the rows and the record they point at commit together.
Records written before ids existed keep `id` NULL (their rows carry the text `load_id`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from datakit.connectors import TableRef
from datakit.contracts.types import LogicalType, TypeKind, integer, simple, string
from datakit.load.errors import LoadError
from datakit.load.plan import STATE_SCHEMA

if TYPE_CHECKING:
    from datakit.connectors import Destination, Transaction
    from datakit.load.plan import LoadResult

LOADS = "loads"
CURSORS = "cursors"
FILES = "files"
TABLES = "tables"
_TEXT, _BIGINT, _TIMESTAMPTZ = string(), integer(64), simple(TypeKind.TIMESTAMPTZ)
Layout = tuple[tuple[str, LogicalType, bool], ...]
"""(name, type, nullable) of each column of a state table."""

_LOADS_COLUMNS: Layout = (
    ("load_id", _TEXT, False),
    ("pipeline", _TEXT, False),
    ("resource", _TEXT, False),
    ("target", _TEXT, False),
    ("status", _TEXT, False),
    ("rows_read", _BIGINT, False),
    ("rows_loaded", _BIGINT, False),
    ("rows_rejected", _BIGINT, False),
    ("cursor_value", _TEXT, True),
    ("schema_changes", _TEXT, True),
    ("error", _TEXT, True),
    ("started_at", _TIMESTAMPTZ, False),
    ("finished_at", _TIMESTAMPTZ, False),
    ("run_id", _TEXT, True),  # the run and the step that loaded (NULL outside a run: `datakit run pipeline`)
    ("step_id", _TEXT, True),
    ("window_start", _TEXT, True),  # a backfill's window (NULL for every other load)
    ("window_end", _TEXT, True),
    # the bronze rows' `_dk_load_id` (`next_load_id`; NULL on records older than the lean audit columns)
    ("id", _BIGINT, True),
    ("source", _TEXT, True),  # where the rows came from (`pagila.public.rental`): what `_dk_source` held
)
_CURSORS_COLUMNS: Layout = (
    ("pipeline", _TEXT, False),
    ("resource", _TEXT, False),
    ("target", _TEXT, False),
    ("cursor_field", _TEXT, False),
    ("cursor_type", _TEXT, False),
    ("cursor_value", _TEXT, False),
    ("load_id", _TEXT, False),
    ("updated_at", _TIMESTAMPTZ, False),
)
FILES_COLUMNS: Layout = (
    ("pipeline", _TEXT, False),
    ("resource", _TEXT, False),
    ("target", _TEXT, False),
    ("path", _TEXT, False),
    ("size", _BIGINT, False),
    ("sha256", _TEXT, False),
    ("load_id", _TEXT, False),
    ("loaded_at", _TIMESTAMPTZ, False),
)


TABLES_COLUMNS: Layout = (
    ("schema_name", _TEXT, False),
    ("table_name", _TEXT, False),
    ("datakit", _TEXT, False),
    ("datakit_version", _TEXT, True),  # NULL: an unversioned datakit (a folder without a version)
    ("recorded_by", _TEXT, False),  # "deploy" or "load <load id>"
    ("recorded_at", _TIMESTAMPTZ, False),
)
"""Which datakit version each table was last created or changed from (`deploy`, or a load's drift)."""


def prepare(destination: Destination, schemas: tuple[str, ...], *, state_schema: str = STATE_SCHEMA) -> None:
    """Create the state schema with its tables, and the target `schemas`, in a short transaction of their
    own. `state_schema` is `_datakit`, or a tenant's own (`acme__datakit`: `datakit.config.tenancy`)."""
    with destination.transaction() as tx:
        destination.engine.lock_setup(tx)
        for schema in schemas:
            tx.execute(f"CREATE SCHEMA IF NOT EXISTS {tx.quote(schema)}")
        ensure(tx, state_schema)


def ensure(tx: Transaction, state_schema: str = STATE_SCHEMA) -> None:
    """Create the state schema and its tables where missing (cheap when they exist: catalog lookups).

    The loader calls this again inside its data transaction, so state dropped by someone between the
    set-up and the load is recreated with the load (and rolled back with it).
    """
    engine = tx.engine
    layouts = (
        (LOADS, _LOADS_COLUMNS),
        (CURSORS, _CURSORS_COLUMNS),
        (FILES, FILES_COLUMNS),
        (TABLES, TABLES_COLUMNS),
    )
    for table, columns in layouts:
        ref = TableRef(table, state_schema)
        live = {column.name for column in tx.columns(ref)}
        if live:  # set up by an older datakit: add the columns added since (all nullable)
            for name, kind, nullable in columns:
                if name not in live and nullable:
                    tx.execute(
                        f"ALTER TABLE {tx.quote(state_schema, table)} "
                        f"ADD COLUMN IF NOT EXISTS {engine.column_sql(name, kind)}"
                    )
            if table == LOADS and "id" not in live:
                engine.create_load_ids(tx, ref)
            continue
        tx.execute(engine.create_schema_sql(state_schema))
        body = ", ".join(engine.column_sql(name, kind, nullable=nullable) for name, kind, nullable in columns)
        tx.execute(f"CREATE TABLE IF NOT EXISTS {tx.quote(state_schema, table)} ({body})")
        if table == LOADS:
            engine.create_load_ids(tx, ref)


def next_load_id(tx: Transaction, state_schema: str = STATE_SCHEMA) -> int:
    """A new load id, in the load's transaction (see the module's docstring)."""
    return tx.engine.next_load_id(tx, TableRef(LOADS, state_schema))


def read_cursor(
    tx: Transaction, pipeline: str, resource: str, target: str, *, state_schema: str = STATE_SCHEMA
) -> Any:
    """The saved cursor of this resource and target, or None before the first incremental load."""
    rows = tx.query(
        f"SELECT cursor_type, cursor_value FROM {tx.quote(state_schema, CURSORS)} "
        "WHERE pipeline = $1 AND resource = $2 AND target = $3",
        [pipeline, resource, target],
    )
    if not rows:
        return None
    kind, text = rows[0]
    return decode(str(kind), str(text))


def save_cursor(
    tx: Transaction,
    *,
    pipeline: str,
    resource: str,
    target: str,
    field: str,
    value: Any,
    load_id: str,
    at: datetime,
    state_schema: str = STATE_SCHEMA,
) -> None:
    """Replace the saved cursor (in the load's own transaction)."""
    kind, text = encode(value)
    table = tx.quote(state_schema, CURSORS)
    keys = [pipeline, resource, target]
    tx.execute(f"DELETE FROM {table} WHERE pipeline = $1 AND resource = $2 AND target = $3", keys)
    tx.execute(
        f"INSERT INTO {table} (pipeline, resource, target, cursor_field, cursor_type, cursor_value, "
        "load_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS TIMESTAMPTZ))",
        [*keys, field, kind, text, load_id, at],
    )


def forget_cursor(
    tx: Transaction, pipeline: str, resource: str, target: str, *, state_schema: str = STATE_SCHEMA
) -> None:
    """Delete the saved cursor (a full refresh: the next read starts from `initial_value`)."""
    table = tx.quote(state_schema, CURSORS)
    where = "pipeline = $1 AND resource = $2 AND target = $3"
    tx.execute(f"DELETE FROM {table} WHERE {where}", [pipeline, resource, target])


def record_load(tx: Transaction, result: LoadResult, *, state_schema: str = STATE_SCHEMA) -> None:
    """Insert the load's row in `<state schema>.loads`."""
    cursor = None if result.cursor is None else json.dumps(list(encode(result.cursor)))
    window = result.window
    values = [
        result.load_id,
        result.pipeline,
        result.resource,
        result.target,
        result.status,
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        cursor or "",
        "\n".join(result.schema_changes),
        result.error or "",
        result.started_at,
        result.finished_at,
        result.run_id or "",
        result.step_id or "",
        encode(window.start)[1] if window is not None else "",
        encode(window.end)[1] if window is not None else "",
        result.id,
        result.source or "",
    ]
    names = ", ".join(tx.quote(name) for name, _, _ in _LOADS_COLUMNS)
    tx.execute(
        f"INSERT INTO {tx.quote(state_schema, LOADS)} ({names}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''), CAST($12 AS TIMESTAMPTZ), "
        "CAST($13 AS TIMESTAMPTZ), NULLIF($14, ''), NULLIF($15, ''), NULLIF($16, ''), NULLIF($17, ''), "
        "CAST($18 AS BIGINT), NULLIF($19, ''))",
        values,
    )


@dataclass(frozen=True)
class TableOrigin:
    """The datakit version a table was deployed (or last changed by a load) from."""

    datakit: str
    version: str | None
    recorded_by: str
    recorded_at: datetime

    @property
    def label(self) -> str:
        return f"{self.datakit} {self.version}" if self.version else f"{self.datakit} (unversioned)"


def record_table_origin(
    tx: Transaction,
    table: TableRef,
    *,
    datakit: str,
    version: str | None,
    by: str,
    at: datetime,
    state_schema: str = STATE_SCHEMA,
) -> None:
    """Record that `table` was created or changed from `datakit` at `version`, in the caller's transaction."""
    state = tx.quote(state_schema, TABLES)
    keys = [table.schema or "", table.name]
    tx.execute(f"DELETE FROM {state} WHERE schema_name = $1 AND table_name = $2", keys)
    tx.execute(
        f"INSERT INTO {state} (schema_name, table_name, datakit, datakit_version, recorded_by, recorded_at) "
        "VALUES ($1, $2, $3, NULLIF($4, ''), $5, CAST($6 AS TIMESTAMPTZ))",
        [*keys, datakit, version or "", by, at],
    )


def table_origin(tx: Transaction, table: TableRef, *, state_schema: str = STATE_SCHEMA) -> TableOrigin | None:
    """What `record_table_origin` last recorded for `table`, or None (never recorded, or no state yet)."""
    if not tx.columns(TableRef(TABLES, state_schema)):
        return None
    rows = tx.query(
        f"SELECT datakit, datakit_version, recorded_by, recorded_at FROM {tx.quote(state_schema, TABLES)} "
        "WHERE schema_name = $1 AND table_name = $2",
        [table.schema or "", table.name],
    )
    if not rows:
        return None
    datakit, version, by, at = rows[0]
    return TableOrigin(str(datakit), None if version is None else str(version), str(by), at)


@dataclass(frozen=True)
class CommittedLoad:
    """A step's load that committed: which run made it, and its row counts."""

    load_id: str
    run_id: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int


def committed_load(
    destination: Destination, step_id: str, runs: Sequence[str], *, state_schema: str = STATE_SCHEMA
) -> CommittedLoad | None:
    """The succeeded load of step `step_id` by one of `runs` (a run and the runs it resumes), or None.

    Waits, on PostgreSQL, for the loads still committing (see the module's docstring).
    """
    return committed_loads(destination, [step_id], runs, state_schema=state_schema).get(step_id)


def committed_loads(
    destination: Destination,
    step_ids: Sequence[str],
    runs: Sequence[str],
    *,
    state_schema: str = STATE_SCHEMA,
) -> dict[str, CommittedLoad]:
    """`committed_load` of each of `step_ids` at once (a grouped step asks for all its resources in
    one question): step id -> its latest succeeded load by one of `runs`; steps with none are absent."""
    if not runs or not step_ids:
        return {}
    with destination.transaction() as tx:
        live = {column.name for column in tx.columns(TableRef(LOADS, state_schema))}
        if not {"run_id", "step_id"} <= live:  # no load of any run yet
            return {}
        destination.engine.lock_loads(tx, TableRef(LOADS, state_schema))
        steps = ", ".join(f"${i}" for i in range(1, len(step_ids) + 1))
        which = ", ".join(f"${i}" for i in range(len(step_ids) + 1, len(step_ids) + len(runs) + 1))
        rows = tx.query(
            "SELECT step_id, load_id, run_id, rows_read, rows_loaded, rows_rejected "
            f"FROM {tx.quote(state_schema, LOADS)} "
            f"WHERE step_id IN ({steps}) AND run_id IN ({which}) AND status = 'succeeded' "
            "ORDER BY finished_at",
            [*step_ids, *runs],
        )
    found: dict[str, CommittedLoad] = {}
    for step_id, load_id, run_id, read, loaded, rejected in rows:  # the latest of a step last: it wins
        found[str(step_id)] = CommittedLoad(str(load_id), str(run_id), int(read), int(loaded), int(rejected))
    return found


def encode(value: Any) -> tuple[str, str]:
    """(type name, text) of a cursor value."""
    if isinstance(value, bool):
        raise LoadError(f"a boolean ({value}) cannot be an incremental cursor")
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, Decimal):
        return "decimal", str(value)
    if isinstance(value, datetime):
        return "datetime", value.isoformat()
    if isinstance(value, date):
        return "date", value.isoformat()
    if isinstance(value, str):
        return "str", value
    raise LoadError(f"cursor values of type {type(value).__name__} are not supported ({value!r})")


def decode(kind: str, text: str) -> Any:
    """The inverse of `encode`."""
    readers: dict[str, Any] = {
        "int": int,
        "float": float,
        "decimal": Decimal,
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "str": str,
    }
    if kind not in readers:
        raise LoadError(f"unknown cursor type {kind!r} in {STATE_SCHEMA}.{CURSORS}")
    return readers[kind](text)
