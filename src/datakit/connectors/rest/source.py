"""`RestSource`: the resources of a REST API as tables, read page by page into bounded Arrow batches.

A resource is one endpoint; its nested lists may become child tables `<resource>__<column>` (`records`),
so one pass over the API yields several tables: `read_tables` streams them together (what a loader
wants), `read` streams one of them. Memory holds one page plus one batch per table.

Each page is requested once per read: a table's schema is inferred from the pages of its first batch,
read ahead and kept (`sample`) for the read of the same request that follows, which replays them and
goes on from there. So a loader that asks for the schema (or infers a contract from it) and then reads
costs no extra request.

Incremental reads: the lower bound (`ReadRequest.incremental.lower`, else the resource's
`initial_value`) goes to the API as the `cursor_param` query parameter (a timestamp in the API's style,
see `timestamps`), and records at or below it are dropped client side too, so an API that ignores the
parameter or compares with `>=` still yields only new records. ISO-8601 text compares as a timestamp.
`last_cursor[resource]` holds the largest cursor value read, as the API wrote it.

Dependent resources: a resource with `parent` is requested once per record of the parent resource, with
`{field}` in its endpoint replaced by that record's value (dotted paths allowed); its rows carry the value
as `_dk_parent__<field>`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from datakit.connectors.base import Column, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.errors import ConnectorError, NoRowsToInfer
from datakit.connectors.rest.client import Credentials, RestClient, Sleep
from datakit.connectors.rest.errors import RestError
from datakit.connectors.rest.jsonpage import PageParser
from datakit.connectors.rest.paginate import PageRequest, pages
from datakit.connectors.rest.params import RestParams, RestResourceParams
from datakit.connectors.rest.records import (
    PARENT_PREFIX,
    SEP,
    Rebatcher,
    align,
    settle,
    to_batches,
)
from datakit.connectors.rest.sample import Sample, Tables
from datakit.connectors.rest.timestamps import Style, is_timestamp_text, mark, parse
from datakit.errors import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RestSource:
    """Reads the resources of one REST API (`Source` protocol; tables are resources and child tables)."""

    capabilities = SourceCapabilities(
        queries=False,
        exact_types=False,
        schemas=False,
        sampled_schema=True,
        sample_after_cursor=True,
        child_tables=True,
        cursor_windows=True,  # the upper bound is applied to the records read (APIs take a lower one)
    )

    def __init__(self, params: RestParams, *, sleep: Sleep = time.sleep) -> None:
        self.params = params
        self._sleep = sleep
        self._credentials = Credentials(params)
        self._resources = {r.name: r for r in params.resources}
        self._held: Sample | None = None
        self.last_cursor: dict[str, Any] = {}
        self._last_typed: dict[str, Any] = {}  # the same cursors, as they compare
        for r in params.resources:
            if r.parent is not None and r.parent not in self._resources:
                raise ConnectorError(
                    f"resource '{r.name}' depends on unknown resource '{r.parent}'",
                    hint=did_you_mean(r.parent, self._resources),
                )

    def __repr__(self) -> str:
        return f"RestSource({self.params.describe()})"

    # --- Source protocol --------------------------------------------------------------------------

    def tables(self, schema: str | None = None) -> list[TableRef]:  # noqa: ARG002 - no schemas here
        """The resources (child tables appear only once data shows their lists)."""
        return [TableRef(name) for name in self._resources]

    def columns(self, table: TableRef) -> list[Column]:
        """The columns of the first page that holds the table's rows (a catalog costs one request)."""
        schema = self.arrow_schema(ReadRequest(table=table, batch_size=1))
        return [Column(f.name, str(f.type), f.nullable, str(f.type), f.type) for f in schema]

    def estimate_rows(self, table: TableRef) -> int | None:  # noqa: ARG002 - part of the protocol
        return None  # an API has no statistics; only reading it all knows

    def count(self, request: ReadRequest) -> int:
        return sum(batch.num_rows for batch in self.read(request))

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        """The requested schema, or the one inferred from the table's first `batch_size` rows (`sample`)."""
        if request.schema is not None:
            return request.schema
        resource, table = self._resolve(request)
        sample = self._hold(resource, request)
        try:
            schemas = sample.schemas(table, request.batch_size)
            if table in schemas:
                return _select(mark(schemas[table], sample.rows(table, schemas[table])), request, table)
        except BaseException:
            self._release()
            raise
        raise NoRowsToInfer(f"{table}: the API returned no rows to infer a schema from", table=table)

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        _, table = self._resolve(request)
        return (batch for name, batch in self.read_tables(request) if name == table)

    # --- one pass, every table --------------------------------------------------------------------

    def has_child_tables(self, table: TableRef) -> bool:
        """Whether the resource `table` names turns its lists into child tables (`child_tables: true`)."""
        resource = self._resources.get(table.name)
        return resource is not None and resource.child_tables

    def read_tables(self, request: ReadRequest) -> Iterator[tuple[str, pa.RecordBatch]]:
        """(table, batch) pairs of the resource `request` names and of its child tables, in one pass.

        `request.schema` and `request.columns` apply to the table the request names; the other tables
        get a schema inferred from the pages of the first batch (`sample`; a field that first appears
        later fails the read).
        """
        if request.order_by:
            raise ConnectorError(
                f"{request.label}: a REST source cannot order rows; they arrive in the API's order",
                table=request.label,
            )
        resource, requested = self._resolve(request)
        cursor, lower, inclusive = _bounds(resource, request)
        self.last_cursor.pop(resource.name, None)
        self._last_typed.pop(resource.name, None)
        schemas: dict[str, tuple[pa.Schema, bool]] = {}
        batchers: dict[str, Rebatcher] = {}
        sample = self._take(resource, request)
        try:
            sampled = sample.schemas(requested, request.batch_size)
        except BaseException:
            sample.close()
            raise
        for tables in sample.drain():
            aligned: dict[str, pa.RecordBatch] = {}
            for name, batch in tables.items():
                if name not in schemas:
                    given = request.schema if name == requested else None
                    if given is not None:
                        schemas[name] = (given, False)  # asked-for columns; extra fields dropped
                    else:
                        inferred = sampled.get(name) or settle(batch.schema)
                        selected = name == requested and request.columns is not None
                        schemas[name] = (_select(inferred, request, name, requested), not selected)
                    batchers[name] = Rebatcher(request.batch_size)
                schema, strict = schemas[name]
                aligned[name] = align(batch, schema, strict=strict, label=name)
            if cursor is not None:
                upper = request.incremental.upper if request.incremental is not None else None
                aligned = self._advance(
                    resource, aligned, tables[resource.name], cursor, lower, inclusive, upper
                )
            for name, batch in aligned.items():
                for ready in batchers[name].add(batch):
                    yield name, ready
        for name, batcher in batchers.items():
            for ready in batcher.flush():
                yield name, ready

    # --- internals --------------------------------------------------------------------------------

    def _resolve(self, request: ReadRequest) -> tuple[RestResourceParams, str]:
        if request.table is None:
            raise ConnectorError("a REST source reads resources, not SQL queries")
        name = request.table.name
        if name in self._resources:
            return self._resources[name], name
        for resource_name, resource in self._resources.items():
            if name.startswith(resource_name + SEP):
                return resource, name
        raise ConnectorError(
            f"unknown REST resource '{name}'", hint=did_you_mean(name, self._resources), table=name
        )

    def _hold(self, resource: RestResourceParams, request: ReadRequest) -> Sample:
        """The sample of `request`, kept for the read that follows (another request's is let go)."""
        params = _query(resource, request)
        key = Sample.key_of(resource, params)
        if self._held is None or self._held.key != key:
            self._release()
            self._held = Sample(key, self._pages(resource, params))
        return self._held

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def _take(self, resource: RestResourceParams, request: ReadRequest) -> Sample:
        """The sample `arrow_schema` read ahead for this request, taken over by a read, or a new one."""
        sample = self._hold(resource, request)
        self._held = None
        return sample

    def _pages(self, resource: RestResourceParams, params: dict[str, Any]) -> Generator[Tables, None, None]:
        """Each page of `resource` as flattened tables, requested with `params`."""
        with RestClient(self.params, sleep=self._sleep, credentials=self._credentials) as client:
            for records, parent_values in self._records(client, resource, params):
                tables = to_batches(
                    records,
                    resource.name,
                    primary_key=resource.primary_key,
                    child_tables=resource.child_tables,
                    flatten=resource.flatten,
                )
                if not tables:
                    continue
                if parent_values:
                    tables[resource.name] = _with_constants(tables[resource.name], parent_values)
                yield tables

    def _records(
        self, client: RestClient, resource: RestResourceParams, params: dict[str, Any]
    ) -> Iterator[tuple[list[Any] | pa.StructArray, dict[str, Any]]]:
        """Lists of raw records, page by page, with the parent values a dependent resource was asked for."""
        if resource.parent is None:
            for page in self._endpoint_pages(client, resource, resource.endpoint, params):
                yield page, {}
            return
        parent = self._resources[resource.parent]
        fields = _PLACEHOLDER.findall(resource.endpoint)
        for parent_page in self._endpoint_pages(client, parent, parent.endpoint, dict(parent.params)):
            parent_records = parent_page if isinstance(parent_page, list) else parent_page.to_pylist()
            for record in parent_records:
                values = {name: _dig_required(record, name, resource.name) for name in fields}
                endpoint = _fill(resource.endpoint, values)
                columns = {PARENT_PREFIX + SEP.join(name.split(".")): v for name, v in values.items()}
                for page in self._endpoint_pages(client, resource, endpoint, params):
                    yield page, columns

    @staticmethod
    def _endpoint_pages(
        client: RestClient, resource: RestResourceParams, endpoint: str, params: dict[str, Any]
    ) -> Iterator[list[Any] | pa.StructArray]:
        for page in pages(
            client,
            resource.method,
            PageRequest(endpoint, params),
            resource.paginator,
            PageParser(resource.data_path),
            max_pages=resource.max_pages,
            json_body=resource.json_body,
            label=resource.name,
        ):
            if not page.empty:
                yield page.records

    def _advance(
        self,
        resource: RestResourceParams,
        tables: dict[str, pa.RecordBatch],
        raw: pa.RecordBatch,
        cursor: str,
        lower: Any,
        inclusive: bool,
        upper: Any = None,
    ) -> dict[str, pa.RecordBatch]:
        """Drop rows at or below `lower`, and at or past `upper` (and their children); remember the
        largest cursor seen.

        The cursor is compared in its typed form when the read's schema has it (a contract's timestamp
        against a datetime bound), else as the API sent it (`raw`, the page before alignment).
        """
        import pyarrow.compute as pc

        name = SEP.join(cursor.split("."))
        main = tables[resource.name]
        source = main if name in main.schema.names else raw
        if name not in source.schema.names:
            raise RestError(
                f"{resource.name}: the incremental cursor '{cursor}' is not a field of the records",
                hint=did_you_mean(name, source.schema.names),
                table=resource.name,
            )
        column = source.column(name)
        typed = _comparable(column, lower if lower is not None else upper)
        if lower is not None or upper is not None:
            keep = None
            if lower is not None:
                bound = _bound(lower, typed.type)
                keep = pc.greater_equal(typed, bound) if inclusive else pc.greater(typed, bound)
            if upper is not None:
                below = pc.less(typed, _bound(upper, typed.type))
                keep = below if keep is None else pc.and_(keep, below)
            if typed is not column:  # text that is no timestamp: kept, for the contract to judge
                keep = pc.if_else(pc.and_(typed.is_null(), column.is_valid()), True, keep)
            keep = pc.fill_null(keep, False)
            if not pc.all(keep).as_py():
                tables = _filter(tables, resource, raw.filter(keep), keep)
                column, typed = column.filter(keep), typed.filter(keep)
        if typed.null_count < len(typed):
            at = pc.index(typed, pc.max(typed)).as_py()
            top = typed[at].as_py()
            previous = self._last_typed.get(resource.name)
            if previous is None or top > previous:
                self._last_typed[resource.name] = top
                self.last_cursor[resource.name] = column[at].as_py()  # as the API wrote it
        return tables


def _filter(
    tables: dict[str, pa.RecordBatch], resource: RestResourceParams, kept: pa.RecordBatch, keep: pa.Array
) -> dict[str, pa.RecordBatch]:
    """The page with only the kept parent rows, and only the child rows of those (`kept`: raw rows)."""
    import pyarrow.compute as pc

    out = {resource.name: tables[resource.name].filter(keep)}
    for name, child in tables.items():
        if name == resource.name:
            continue
        mask = None
        for key in resource.primary_key:
            flat = SEP.join(key.split("."))
            part = pc.is_in(child.column(PARENT_PREFIX + flat), value_set=kept.column(flat))
            mask = part if mask is None else pc.and_(mask, part)
        out[name] = child.filter(mask) if mask is not None else child
    return out


def _bounds(resource: RestResourceParams, request: ReadRequest) -> tuple[str | None, Any, bool]:
    """(cursor column, lower bound, inclusive) of a read: the request's, else the resource's first run."""
    inc = request.incremental
    if inc is None:
        return resource.cursor_field, resource.initial_value, False
    lower = inc.lower if inc.lower is not None else resource.initial_value
    return inc.cursor, lower, inc.inclusive


def _query(resource: RestResourceParams, request: ReadRequest) -> dict[str, Any]:
    """The query parameters of a read: the resource's, and the cursor's lower bound in the API's style."""
    _, lower, _ = _bounds(resource, request)
    params: dict[str, Any] = dict(resource.params)
    if resource.cursor_param is not None and lower is not None:
        params[resource.cursor_param] = _param_value(lower, Style.of(resource.initial_value))
    return params


def _comparable(column: pa.Array, lower: Any) -> pa.Array:
    """The cursor column as it compares: ISO-8601 text as timestamps when the bound is a time (or
    timestamp text); other columns as they are."""
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    if isinstance(lower, datetime) or is_timestamp_text(lower):
        return parse(column)
    return column


def _bound(lower: Any, arrow_type: pa.DataType) -> pa.Scalar:
    """`lower` as a scalar comparable with the cursor column (ISO text for text columns)."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.scalar(_param_value(lower, Style()), arrow_type)
    if pa.types.is_timestamp(arrow_type) and isinstance(lower, str):
        parsed = parse(pa.array([lower + ("T00:00:00" if _DATE.match(lower) else "")]))[0]
        if parsed.is_valid:
            return parsed.cast(arrow_type)
    if pa.types.is_timestamp(arrow_type) and isinstance(lower, datetime) and lower.tzinfo is None:
        lower = lower.replace(tzinfo=UTC) if arrow_type.tz is not None else lower
    try:
        return pa.scalar(lower).cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise RestError(f"cursor lower bound {lower!r} does not compare with a {arrow_type} column") from exc


def _param_value(value: Any, style: Style) -> Any:
    """A lower bound as a query parameter: a date or time in the API's `style`, anything else as is."""
    if isinstance(value, datetime | date):
        return style.format(value)
    return value


def _fill(endpoint: str, values: dict[str, Any]) -> str:
    """`endpoint` with each `{field}` replaced by its URL-quoted value."""
    return _PLACEHOLDER.sub(lambda m: quote(str(values[m.group(1)]), safe=""), endpoint)


def _dig_required(record: Any, path: str, label: str) -> Any:
    from datakit.connectors.rest.records import dig

    value = dig(record, path)
    if value is None:
        raise RestError(
            f"{label}: a parent record has no value for '{{{path}}}' of the endpoint", table=label
        )
    return value


def _with_constants(batch: pa.RecordBatch, values: dict[str, Any]) -> pa.RecordBatch:
    """`batch` plus one column per parent value, the same in every row."""
    import pyarrow as pa

    arrays = list(batch.columns)
    names = list(batch.schema.names)
    for name, value in values.items():
        scalar = pa.scalar(value)
        arrays.append(pa.nulls(batch.num_rows, scalar.type).fill_null(scalar))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _select(schema: pa.Schema, request: ReadRequest, table: str, requested: str | None = None) -> pa.Schema:
    """`schema` restricted to `request.columns` when `table` is the table the request names."""
    import pyarrow as pa

    if request.columns is None or (requested is not None and table != requested):
        return schema
    missing = [c for c in request.columns if schema.get_field_index(c) < 0]
    if missing:
        raise ConnectorError(
            f"{table} has no column '{missing[0]}'", hint=did_you_mean(missing[0], schema.names), table=table
        )
    return pa.schema([schema.field(c) for c in request.columns])
