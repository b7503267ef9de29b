"""JSON records to Arrow: find the records in a response, flatten nesting, align pages to one schema.

Flattening rule (the same for every REST resource and JSON Lines file):

* A nested object becomes columns named by its path joined with `__`: `{"a": {"b": 1}}` -> column `a__b`.
  Objects nest to any depth; a null object gives nulls in all its columns.
* A list becomes a child table `<table>__<column>` with one row per element, when the resource has a
  primary key: the child rows carry the parent's key as `_dk_parent__<key>` and the element's position as
  `_dk_list_idx`; elements that are objects are flattened into columns by the rule above, scalars go to a
  column `value`. Lists inside list elements stay JSON text in the child table (one level of children).
* Without a primary key (nothing to link a child row to), or with `child_tables: false`, a list is kept
  in its column as JSON text.

All of it is vectorised by Arrow: `pa.array` infers one struct type over all records of a page (every key
any record has), structs are flattened and lists exploded with Arrow compute; Python touches single
records only when a page mixes types in one field (then that field becomes JSON text) or a list must be
rendered as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datakit.connectors.errors import SchemaMismatch

if TYPE_CHECKING:
    import pyarrow as pa

SEP = "__"
PARENT_PREFIX = "_dk_parent__"
LIST_INDEX = "_dk_list_idx"
_RECORD_KEYS = ("data", "items", "results", "records", "entries", "values", "rows")


def dig(body: Any, path: str) -> Any:
    """The value at dotted `path` in a JSON document, or None where the path does not exist."""
    value = body
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def find_records(body: Any, data_path: str | None) -> list[Any]:
    """The records of a response body.

    With `data_path`, the list (or single object) found there. Without: the body itself when it is a
    list; else the first of `data`, `items`, `results`, `records`, `entries`, `values`, `rows` that holds
    a list; else the only list-valued key; else the body as one record.
    """
    if data_path is not None:
        found = dig(body, data_path)
        if found is None:
            return []
        return found if isinstance(found, list) else [found]
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        return [body]
    for key in _RECORD_KEYS:
        if isinstance(body.get(key), list):
            return list(body[key])
    lists = [value for value in body.values() if isinstance(value, list)]
    if len(lists) == 1:
        return lists[0]
    return [body]


def to_batches(
    records: Sequence[Any] | pa.StructArray,
    table: str,
    *,
    primary_key: Sequence[str] = (),
    child_tables: bool = True,
) -> dict[str, pa.RecordBatch]:
    """One page of records as flattened Arrow batches: `{table: rows, table__list: child rows, ...}`."""
    import pyarrow as pa

    if len(records) == 0:
        return {}
    if isinstance(records, pa.StructArray):
        batch = pa.RecordBatch.from_struct_array(records)
    else:
        batch = _struct_batch(records)
    batch = flatten_structs(batch)
    out: dict[str, pa.RecordBatch] = {}
    keys = [SEP.join(k.split(".")) for k in primary_key]
    link = child_tables and bool(keys) and all(k in batch.schema.names for k in keys)
    columns: dict[str, pa.Array] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if _is_list(column.type):
            if link:
                out[f"{table}{SEP}{name}"] = _child(column, {k: batch.column(k) for k in keys})
                continue
            columns[name] = json_text(column)
        else:
            columns[name] = column
    out[table] = pa.RecordBatch.from_pydict(columns)
    return dict(sorted(out.items()))


def _struct_batch(records: Sequence[Any]) -> pa.RecordBatch:
    """Records as a batch of their top-level keys (scalars wrapped as `{"value": x}`)."""
    import pyarrow as pa

    if not isinstance(records[0], dict) or not all(isinstance(r, dict) for r in records):
        records = [r if isinstance(r, dict) else {"value": r} for r in records]
    try:
        array = pa.array(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _mixed_batch(records)
    if not pa.types.is_struct(array.type):  # e.g. every record is {}
        return pa.RecordBatch.from_pydict({})
    return pa.RecordBatch.from_struct_array(array)


def _mixed_batch(records: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    """Column by column when some field mixes types across records: that field becomes JSON text."""
    import pyarrow as pa

    names = list(dict.fromkeys(key for record in records for key in record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], pa.string()
            )
    return pa.RecordBatch.from_pydict(columns)


def flatten_structs(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with every struct column replaced by its fields, named `parent__child`, to any depth."""
    import pyarrow as pa

    while any(pa.types.is_struct(t) for t in batch.schema.types):
        names: list[str] = []
        arrays: list[pa.Array] = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_struct(column.type):
                for field, child in zip(column.type, column.flatten(), strict=True):
                    names.append(f"{name}{SEP}{field.name}")
                    arrays.append(child)
            else:
                names.append(name)
                arrays.append(column)
        batch = pa.RecordBatch.from_arrays(arrays, names=names)
    return batch


def _is_list(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_list(t) or pa.types.is_large_list(t))


def _child(column: pa.Array, keys: dict[str, pa.Array]) -> pa.RecordBatch:
    """The child table of a list column: one row per element, linked by the parent's key."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.list_flatten(column)
    parents = pc.list_parent_indices(column)
    ones = pa.nulls(len(values), pa.int64()).fill_null(1)
    ordinal = pc.subtract(pc.cumulative_sum(ones), 1)  # 0..n-1 without a Python loop
    starts = pc.subtract(pc.take(column.offsets, parents).cast(pa.int64()), column.offsets[0].as_py())
    position = pc.subtract(ordinal, starts)
    columns: dict[str, pa.Array] = {f"{PARENT_PREFIX}{k}": v.take(parents) for k, v in keys.items()}
    columns[LIST_INDEX] = position
    if pa.types.is_struct(values.type):
        flat = flatten_structs(pa.RecordBatch.from_struct_array(values))
        for name, child in zip(flat.schema.names, flat.columns, strict=True):
            columns[name] = json_text(child) if _is_list(child.type) else child
    else:
        columns["value"] = json_text(values) if _is_list(values.type) else values
    return pa.RecordBatch.from_pydict(columns)


def json_text(column: pa.Array) -> pa.Array:
    """A list (or other nested) column as JSON text, nulls kept."""
    import pyarrow as pa

    return pa.array(
        [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()], pa.string()
    )


def settle(schema: pa.Schema) -> pa.Schema:
    """An inferred schema made fit for later pages: all-null (`null` typed) columns become text."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def align(batch: pa.RecordBatch, schema: pa.Schema, *, strict: bool, label: str) -> pa.RecordBatch:
    """`batch` in `schema`'s columns and types: missing columns as nulls, types cast safely.

    A column the schema does not have is an error when `strict` (the schema was inferred from the first
    page and cannot change mid-stream), and is dropped otherwise (the caller asked for these columns).
    """
    import pyarrow as pa

    from datakit.connectors.arrow import cast

    names = set(batch.schema.names)
    if strict:
        extra = [name for name in batch.schema.names if schema.get_field_index(name) < 0]
        if extra:
            raise SchemaMismatch(
                f"{label}: field{'s' if len(extra) > 1 else ''} {', '.join(extra)} appeared after the "
                "schema was inferred from the first page",
                hint="give the resource a contract (a schema) that lists every field",
                table=label,
            )
    arrays: list[pa.Array] = []
    for field in schema:
        if field.name in names:
            arrays.append(cast(batch.column(field.name), field.type, f"{label}.{field.name}"))
        elif field.nullable:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        else:
            raise SchemaMismatch(f"{label}: required column '{field.name}' is missing", table=label)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class Rebatcher:
    """Gathers small batches into ones of up to `size` rows, so memory is one batch plus one page."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        """Batches ready to hand out after adding `batch` (each exactly `size` rows)."""
        if batch.num_rows == 0:
            return []
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows < self.size:
            return []
        return self._drain(keep_tail=True)

    def flush(self) -> list[pa.RecordBatch]:
        """What is left, at the end of the stream."""
        return self._drain(keep_tail=False) if self._rows else []

    def _drain(self, *, keep_tail: bool) -> list[pa.RecordBatch]:
        import pyarrow as pa

        table = pa.Table.from_batches(self._pending).combine_chunks()
        ready: list[pa.RecordBatch] = table.to_batches(max_chunksize=self.size)
        self._pending, self._rows = [], 0
        if keep_tail and ready and ready[-1].num_rows < self.size:
            tail = ready.pop()
            self._pending, self._rows = [tail], tail.num_rows
        return ready
