"""Arrow batches from DB-API cursors (SQLite, MySQL), a batch at a time, transposed in C.

`fetchmany` builds the row tuples in the driver, `zip(*rows)` transposes them and `pyarrow.array`
converts each column, so there is no Python loop per row here (pymysql itself is pure Python, which is
why the MySQL source is the slowest one). Memory is bounded by one batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from datakit.connectors.arrow import cast

if TYPE_CHECKING:
    import pyarrow as pa


def cursor_batches(cursor: Any, schema: pa.Schema, batch_size: int, label: str) -> Iterator[pa.RecordBatch]:
    """Drain `cursor` (already executed) as batches of `schema`, `batch_size` rows at most."""
    while True:
        rows = cursor.fetchmany(batch_size)
        if not rows:
            return
        yield rows_to_batch(rows, schema, label)


def rows_to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema, label: str) -> pa.RecordBatch:
    """One batch from row tuples; each column converted straight to its type, else inferred then cast."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [_column(values, field, label) for values, field in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(values: Sequence[Any], field: pa.Field, label: str) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Declared and stored types differ (SQLite dates as text, MySQL tinyint(1) as 0/1): infer, then
        # cast exactly, which raises SchemaMismatch naming the column when a value does not fit.
        try:
            inferred = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            from datakit.connectors.errors import SchemaMismatch

            raise SchemaMismatch(
                f"column {label}.{field.name} mixes value types: {exc}", table=label
            ) from exc
        return cast(inferred, field.type, f"{label}.{field.name}")
