"""Batch transforms: a typed per-row Python function, or SQL column expressions run by DuckDB.

`row_transform` is the readable path (seed 004: `def bronze(src: System.Customer) -> Bronze.Customer`):
each row becomes a source model object, is passed to the function, and what it returns becomes a row
of the target contract. The conversions are done a column at a time (`datakit.contracts.rows`): the
input is checked by the source model's field types, the output by the target contract's validator, once
each, in bulk, so the function's own code is nearly all a row costs. A row whose input its model
refuses, whose function raises, or whose result is not a target row is rejected with the error text;
a result that breaks the contract is rejected by the contract, with its rule — never dropped. A mixin
column the loader fills (`datakit.load.times`) that the function leaves unset comes out NULL, not as
the model's default, so the loader fills it by its rules.

`sql_transform` is the fast path: `{"name": "upper(first_name || ' ' || last_name)"}` becomes one
`SELECT` over the Arrow batch in an in-process DuckDB (vectorized, no copy in). Expressions are parsed
when the transform is built, and bound against the source's columns before any row is loaded (the
loader runs every transform on an empty batch first), so a bad expression is a clear error up front.
An expression that fails at run time on some value fails the load (there is no per-row fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from datakit.connectors.stamp import duckdb_session
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX, as_text
from datakit.load.errors import TransformError
from datakit.load.plan import BatchTransform, TransformOutcome

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlmodel import SQLModel

TRANSFORM_RULE = "transform"


def row_transform(
    func: Callable[[Any], Any],
    source_model: type[SQLModel],
    target_model: type[SQLModel],
    *,
    loader_fills: Collection[str] = (),
) -> BatchTransform:
    """A batch transform applying `func(source_model) -> target_model` to every row (`loader_fills`:
    target fields the loader fills after it, which `func` may leave unset)."""
    from datakit.contracts.rows import ModelRows

    source, target = ModelRows(source_model), ModelRows(target_model, loader_fills=loader_fills)
    label = getattr(func, "__qualname__", repr(func))
    tracked = False  # set once `func` sets an attribute of its input: from then on it gets ORM objects

    def transform(batch: pa.RecordBatch) -> TransformOutcome:
        nonlocal tracked
        rows, unread = source.objects(batch)
        failed = {f.row: (f.column, f"{label}: {f.reason}") for f in unread}
        results: list[Any] = []
        positions: list[int] = []
        for index, row in enumerate(rows):
            if row is None:
                continue
            try:
                try:
                    result = func(source.tracked(row) if tracked else row)
                except Exception as exc:
                    if tracked or not source.needs_tracking(exc):
                        raise
                    tracked = True
                    result = func(source.tracked(row))
            except Exception as exc:  # the user's code: any error rejects the row, with its text
                failed[index] = (None, f"{label} raised {type(exc).__name__}: {exc}")
                continue
            results.append(result)
            positions.append(index)
        good, unwritten = target.batch(results)
        failed.update({positions[f.row]: (f.column, f"{label}: {f.reason}") for f in unwritten})
        rejected = [(index, *failed[index]) for index in sorted(failed)]
        return TransformOutcome(good, _rejected(batch, rejected) if rejected else None)

    return transform


def _one_line(exc: Exception) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _rejected(batch: pa.RecordBatch, failed: list[tuple[int, str | None, str]]) -> pa.Table:
    import pyarrow as pa

    positions = pa.array([i for i, _, _ in failed], pa.int64())
    rows = batch.take(positions)
    arrays = [as_text(rows.column(i)) for i in range(rows.num_columns)]
    arrays += [
        positions,
        pa.array([c for _, c, _ in failed], pa.string()),
        pa.array([TRANSFORM_RULE] * len(failed), pa.string()),
        pa.array([r for _, _, r in failed], pa.string()),
    ]
    return pa.Table.from_arrays(
        arrays, names=[*batch.schema.names, ROW_INDEX, FAILED_COLUMN, FAILED_RULE, REASON]
    )


def sql_transform(expressions: Mapping[str, str], *, keep_columns: bool = False) -> BatchTransform:
    """A batch transform computing each output column from a DuckDB SQL expression over the batch.

    With `keep_columns`, the batch's columns are kept and an expression named like one replaces it.
    """
    import duckdb

    if not expressions:
        raise TransformError("sql_transform needs at least one expression")
    for name, expression in expressions.items():
        try:
            statements = duckdb.extract_statements(f"SELECT {expression} AS x")
        except duckdb.Error as exc:
            raise TransformError(
                f"expression for column {name!r} does not parse: {expression!r} ({exc})"
            ) from None
        if len(statements) != 1:
            raise TransformError(f"expression for column {name!r} is not one expression: {expression!r}")
    exprs = dict(expressions)

    def transform(batch: pa.RecordBatch) -> TransformOutcome:
        import pyarrow as pa

        def q(name: str) -> str:
            return '"' + name.replace('"', '""') + '"'

        replaced = {n: e for n, e in exprs.items() if keep_columns and n in batch.schema.names}
        items = []
        if keep_columns:
            items += [f"({replaced[n]}) AS {q(n)}" if n in replaced else q(n) for n in batch.schema.names]
        items += [f"({e}) AS {q(n)}" for n, e in exprs.items() if n not in replaced]
        try:
            relation = duckdb_session().from_arrow(pa.Table.from_batches([batch])).project(", ".join(items))
            table = relation.to_arrow_table()
        except duckdb.Error as exc:
            raise TransformError(
                f"SQL transform failed: {_one_line(exc)}", hint=f"expressions: {exprs}"
            ) from None
        arrays = [column.combine_chunks() for column in table.columns]
        return TransformOutcome(pa.RecordBatch.from_arrays(arrays, schema=table.schema))

    return transform
