"""JSON records to Arrow: find the records in a response, flatten nesting, align pages to one schema.

Nesting rule (the same for every REST resource; JSON Lines files use it with lists as text). A resource
chooses, like dlt's users do, what its nested objects and lists become:

* **Nested objects** (`flatten: true`, the default) become columns named by their path joined with
  `__`: `{"a": {"b": 1}}` -> column `a__b`, to any depth; a null object gives nulls in all its columns.
  With `flatten: false` each top-level object stays one column of JSON text.
* **Lists** (`child_tables: true`, when the resource has a primary key) become child tables named
  `<table>__<column>` (`<column>` being the flattened path, `orders__lines`, `users__address__phones`),
  one row per element, as dlt names them:
  - every row of a child table, at any depth, carries the root record's key as `_dk_parent__<key>` and
    its position in its list as `_dk_list_idx`;
  - elements that are objects are shaped by the rule above (their top-level fields are columns), scalars
    go to a column `value`;
  - a list inside an element becomes a grandchild table `<table>__<column>__<field>`, and a list of lists
    `<table>__<column>__list` (dlt's name), recursively; a row below the first level also carries the
    position of each element it sits in as `_dk_list_idx__<that table's path>`
    (`orders__lines__taxes` rows: `_dk_parent__id`, `_dk_list_idx__lines`, `_dk_list_idx`, ...), so
    it joins its parent on the key and `_dk_list_idx__lines = parent._dk_list_idx`.
* Without a primary key (nothing to link a child row to), or with `child_tables: false` (the default in
  the config), a list stays in its column as JSON text.

All of it is vectorised by Arrow: `pa.array` infers one struct type over all records of a page (every key
any record has), structs are flattened and lists exploded with Arrow compute; Python touches single
records only when a page mixes types in one field (then that field becomes JSON text) or a value must be
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


class NoDataPath(ValueError):
    """A response body without the resource's `data_path` (an error body, or a wrong path)."""

    def __init__(self, data_path: str, body: Any) -> None:
        keys = ", ".join(str(k) for k in body) if isinstance(body, dict) else f"a JSON {type(body).__name__}"
        super().__init__(f"has no '{data_path}' (it has: {keys or 'nothing'})")


def find_records(body: Any, data_path: str | None) -> list[Any]:
    """The records of a response body.

    With `data_path`, the list (or single object) found there, none when it holds null, and `NoDataPath`
    when the body has no such path. Without: the body itself when it is a list; else the first of `data`,
    `items`, `results`, `records`, `entries`, `values`, `rows` that holds a list; else the only
    list-valued key; else the body as one record.
    """
    if data_path is not None:
        found = body
        for part in data_path.split("."):
            if isinstance(found, dict) and part in found:
                found = found[part]
            elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
            else:
                raise NoDataPath(data_path, body)
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
    flatten: bool = True,
) -> dict[str, pa.RecordBatch]:
    """One page of records as Arrow batches: `{table: rows, table__list: child rows, ...}` (see above)."""
    import pyarrow as pa

    if len(records) == 0:
        return {}
    if isinstance(records, pa.StructArray):
        batch = pa.RecordBatch.from_struct_array(records)
    else:
        batch = _struct_batch(records)
    batch = _objects(batch, flatten=flatten)
    keys = [SEP.join(k.split(".")) for k in primary_key]
    linked = child_tables and bool(keys) and all(k in batch.schema.names for k in keys)
    nest = _Nest(table, flatten) if linked else None
    links = {f"{PARENT_PREFIX}{k}": batch.column(k) for k in keys} if linked else {}
    out = {table: _lists(batch, table, nest, links)}
    if nest is not None:
        out.update(nest.tables)
    return dict(sorted(out.items()))


class _Nest:
    """The child tables of one page, gathered while its lists are exploded."""

    def __init__(self, root: str, flatten: bool) -> None:
        self.root = root
        self.flatten = flatten
        self.tables: dict[str, pa.RecordBatch] = {}

    def child(self, column: pa.Array, table: str, links: dict[str, pa.Array]) -> None:
        """The child table `table` of list `column`: one row per element, linked by `links`."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pc.list_flatten(column)
        if len(values) == 0:  # only empty lists: no rows, and no element type to infer a schema from
            return
        parents = pc.list_parent_indices(column)
        ones = pa.nulls(len(values), pa.int64()).fill_null(1)
        ordinal = pc.subtract(pc.cumulative_sum(ones), 1)  # 0..n-1 without a Python loop
        starts = pc.subtract(pc.take(column.offsets, parents).cast(pa.int64()), column.offsets[0].as_py())
        position = pc.subtract(ordinal, starts)
        columns = {name: link.take(parents) for name, link in links.items()}
        below = {**columns, f"{LIST_INDEX}{SEP}{table[len(self.root) + len(SEP) :]}": position}
        columns[LIST_INDEX] = position
        if pa.types.is_struct(values.type):
            elements = _objects(pa.RecordBatch.from_struct_array(values), flatten=self.flatten)
            fields = _lists(elements, table, self, below)
            columns.update(zip(fields.schema.names, fields.columns, strict=True))
        elif _is_list(values.type):  # a list of lists: each inner list is a child of its element
            self.child(values, f"{table}{SEP}list", below)
        else:
            columns["value"] = values
        self.tables[table] = pa.RecordBatch.from_pydict(columns)


def _lists(
    batch: pa.RecordBatch, table: str, nest: _Nest | None, links: dict[str, pa.Array]
) -> pa.RecordBatch:
    """`batch` without its list columns: each one a child table of `nest`, or JSON text without one."""
    import pyarrow as pa

    columns: dict[str, pa.Array] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not _is_list(column.type):
            columns[name] = column
        elif nest is not None:
            nest.child(column, f"{table}{SEP}{name}", links)
        else:
            columns[name] = json_text(column)
    return pa.RecordBatch.from_pydict(columns)


def _objects(batch: pa.RecordBatch, *, flatten: bool) -> pa.RecordBatch:
    """Nested objects of `batch` flattened into columns, or each kept as one column of JSON text."""
    import pyarrow as pa

    if flatten:
        return flatten_structs(batch)
    if not any(pa.types.is_struct(t) for t in batch.schema.types):
        return batch
    arrays = [json_text(c) if pa.types.is_struct(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


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
