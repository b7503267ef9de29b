"""Columns a destination adds to every row it writes: constants of the write and a hash of the row.

Why the destination fills them: the bronze audit columns are one load's constants (load id, time,
source) and a hash of each row's content. Built as Arrow arrays on the reader's thread they cost more
than decoding and validating the batch; DuckDB computes them inside its INSERT for almost nothing
(constant vectors, `hash()` in the insert pipeline). Destinations without such a path append the same
values as Arrow columns (`stamped`), with the same hash function, so every destination stores the
same hash for the same row.

The row hash is DuckDB's `hash()` of the named columns, kept to 63 bits so it fits a signed BIGINT in
every destination. It hashes values, not text: NULL differs from '', position matters, and integers and
decimals hash by value, so widening a column (int -> bigint) does not make every row "changed".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_local = threading.local()
_MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Constant:
    """A column holding one value on every row of a write."""

    name: str
    value: Any
    type: pa.DataType


@dataclass(frozen=True)
class Stamp:
    """What a destination adds to each written row: `constants`, and `hash_column` = hash of `hash_of`."""

    constants: tuple[Constant, ...] = ()
    hash_column: str | None = None
    hash_of: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """The added columns, in the order `stamped` appends them."""
        return [c.name for c in self.constants] + ([self.hash_column] if self.hash_column else [])


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


def row_hash_sql(quoted_columns: Sequence[str]) -> str:
    """The SQL expression of the row hash over already-quoted DuckDB column names."""
    return f"CAST(hash({', '.join(quoted_columns)}) & {_MAX_BIGINT} AS BIGINT)"


def row_hash(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """The 63-bit hash of `columns`, one per row of `batch` (the expression DuckDB runs in its INSERT)."""
    import pyarrow as pa

    if not batch.num_rows:
        return pa.array([], pa.int64())
    quoted = ['"' + name.replace('"', '""') + '"' for name in columns]
    view = pa.Table.from_batches([batch.select(list(columns))])
    relation = duckdb_session().from_arrow(view).project(f"{row_hash_sql(quoted)} AS h")
    return relation.to_arrow_table().column("h").combine_chunks().cast(pa.int64())


def constant(value: object, rows: int, kind: pa.DataType) -> pa.Array:
    """`rows` copies of `value`, built in C++."""
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, kind), rows)


def stamp_batch(batch: pa.RecordBatch, stamp: Stamp) -> pa.RecordBatch:
    """`batch` with the stamp's columns appended (not null), metadata dropped."""
    import pyarrow as pa

    rows = batch.num_rows
    arrays = [constant(c.value, rows, c.type) for c in stamp.constants]
    if stamp.hash_column:
        arrays.append(row_hash(batch, stamp.hash_of))
    fields = [
        *batch.schema.remove_metadata(),
        *(pa.field(n, a.type, False) for n, a in zip(stamp.names, arrays, strict=True)),
    ]
    return pa.RecordBatch.from_arrays([*batch.columns, *arrays], schema=pa.schema(fields))


def stamped(batches: Iterable[pa.RecordBatch], stamp: Stamp | None) -> Iterator[pa.RecordBatch]:
    """`batches` with `stamp`'s columns appended (unchanged when there is no stamp)."""
    for batch in batches:
        yield batch if stamp is None else stamp_batch(batch, stamp)
