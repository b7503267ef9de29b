"""Audit column values: which load wrote a row, when, from where, and a hash of its content.

The record hash is DuckDB's `hash()` of the row's change columns (every contract column but
`temporal_exclude` and the audit columns), computed over the Arrow batch and kept to 63 bits so it
fits a signed BIGINT in every destination. Measured on a 65,536-row rental batch: 3 ms, against 54 ms
for the MD5 of a JSON array of the same columns (which made the hash the largest cost of a load). It
hashes values, not text: NULL differs from '' and position matters; integers and decimals hash by
value, so widening a column (int -> bigint, numeric(5,2) -> numeric(9,2)) does not make every row
"changed". It only decides whether a row changed (a collision chance of 2^-63 per comparison); it is
not a content address. A DuckDB upgrade that changed the hash function would make the next merge
rewrite unchanged rows once, with identical values.
Load id, load time and source are constants per load, built as Arrow arrays without a Python loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from datakit.contracts.audit import LOAD_ID, LOADED_AT, RECORD_HASH, SOURCE

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_local = threading.local()
_MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class AuditValues:
    """The per-load constants of the audit columns."""

    load_id: str
    loaded_at: datetime
    source: str


def duckdb_session() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for this thread (UTC), for batch-level SQL."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        import duckdb

        connection = duckdb.connect()
        with contextlib.suppress(duckdb.Error):  # without the ICU extension DuckDB already works in UTC
            connection.execute("SET TimeZone = 'UTC'")
        _local.connection = connection
    return connection


def record_hash(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """The 63-bit hash of `columns`, one per row of `batch`."""
    import pyarrow as pa

    connection = duckdb_session()
    items = ", ".join('"' + name.replace('"', '""') + '"' for name in columns)
    view = pa.Table.from_batches([batch.select(list(columns))])
    relation = connection.from_arrow(view).project(f"CAST(hash({items}) & {_MAX_BIGINT} AS BIGINT) AS h")
    return relation.to_arrow_table().column("h").combine_chunks().cast(pa.int64())


def constant(value: object, rows: int, kind: pa.DataType) -> pa.Array:
    """`rows` copies of `value` (vectorized: a null array filled)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.fill_null(pa.nulls(rows, kind), pa.scalar(value, kind))


def with_audit(batch: pa.RecordBatch, change_columns: Sequence[str], audit: AuditValues) -> pa.RecordBatch:
    """`batch` with the four audit columns appended."""
    import pyarrow as pa

    rows = batch.num_rows
    arrays = [
        constant(audit.load_id, rows, pa.string()),
        constant(audit.loaded_at, rows, pa.timestamp("us", tz="UTC")),
        constant(audit.source, rows, pa.string()),
        record_hash(batch, change_columns) if rows else pa.array([], pa.int64()),
    ]
    names = [LOAD_ID, LOADED_AT, SOURCE, RECORD_HASH]
    fields = [
        *batch.schema.remove_metadata(),
        *(pa.field(n, a.type, False) for n, a in zip(names, arrays, strict=True)),
    ]
    return pa.RecordBatch.from_arrays([*batch.columns, *arrays], schema=pa.schema(fields))
