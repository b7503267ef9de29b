"""Batch transforms: a typed per-row Python function, or SQL column expressions run by DuckDB.

`row_transform` is the readable path (seed 004: `def bronze(src: System.Customer) -> Bronze.Customer`):
each row is validated into the source model, passed to the function, and its result validated into the
target model; a row whose function raises, or whose result does not validate, is rejected with the
error text — never dropped. It is per-row Python, so it costs what Python costs; that is the price of
arbitrary code, paid in batches. A mixin column the loader fills (`datakit.load.times`) that the
function leaves unset comes out NULL, not as the model's default, so the loader fills it by its rules.

`sql_transform` is the fast path: `{"name": "upper(first_name || ' ' || last_name)"}` becomes one
`SELECT` over the Arrow batch in an in-process DuckDB (vectorized, no copy in). Expressions are parsed
when the transform is built, and bound against the source's columns before any row is loaded (the
loader runs every transform on an empty batch first), so a bad expression is a clear error up front.
An expression that fails at run time on some value fails the load (there is no per-row fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from datakit.connectors.stamp import duckdb_session
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX, as_text
from datakit.load.errors import TransformError
from datakit.load.plan import BatchTransform, TransformOutcome

if TYPE_CHECKING:
    import pyarrow as pa
    from pydantic import BaseModel

TRANSFORM_RULE = "transform"


def row_transform(
    func: Callable[[Any], Any], source_model: type[BaseModel], target_model: type[BaseModel]
) -> BatchTransform:
    """A batch transform applying `func(source_model) -> target_model` to every row."""
    import pyarrow as pa
    from pydantic import BaseModel, ValidationError

    from datakit.contracts.arrow import to_arrow_schema
    from datakit.contracts.mixins import declared_mixins, load_times
    from datakit.contracts.sqlmodel_source import contract_from_sqlmodel

    schema = to_arrow_schema(contract_from_sqlmodel(target_model))  # type: ignore[arg-type]
    names = schema.names
    loader_fills = frozenset(load_times(declared_mixins(target_model)))
    label = getattr(func, "__qualname__", repr(func))

    def transform(batch: pa.RecordBatch) -> TransformOutcome:
        rows: list[dict[str, Any]] = []
        failed: list[tuple[int, str | None, str]] = []
        for index, row in enumerate(batch.to_pylist()):
            try:
                result = func(source_model.model_validate(row))
                data = result.model_dump() if isinstance(result, BaseModel) else result
                given = result.model_fields_set if isinstance(result, BaseModel) else set(data)
                checked = target_model.model_validate(data).model_dump()
                for name in loader_fills - given:
                    checked[name] = None
            except ValidationError as exc:
                errors = exc.errors()
                column = ".".join(str(part) for part in errors[0]["loc"]) or None if errors else None
                failed.append((index, column, f"{label}: {_one_line(exc)}"))
                continue
            except Exception as exc:  # the user's code: any error rejects the row, with its text
                failed.append((index, None, f"{label} raised {type(exc).__name__}: {exc}"))
                continue
            rows.append({name: checked.get(name) for name in names})
        out = pa.Table.from_pylist(rows, schema=schema)
        good = pa.RecordBatch.from_arrays([c.combine_chunks() for c in out.columns], schema=schema)
        return TransformOutcome(good, _rejected(batch, failed) if failed else None)

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
