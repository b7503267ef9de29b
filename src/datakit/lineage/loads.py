"""Source columns -> the columns a pipeline loads, by the loader's own rules.

Each resource of a pipeline reads one source table (or query, endpoint, file set) into one table of
the pipeline's destination, with the contract the loader would use (`datakit.datakits.targets`).
A contract column comes from the source column of the same name (the loader matches by name), from a
`columns:` expression (parsed by sqlglot as DuckDB runs it), or from a typed transform's code
(`lineage.transforms`). The audit columns are the loader's (`role: audit`), and so are the mixin times
a source or transform leaves empty (`role: loader`). An incremental cursor decides which rows a load
reads: it is the table's `filtered_by`. Without a contract (a table reflected or inferred at load
time) the columns are not known until it is loaded: one `unknown` edge from the source table says so.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from datakit.config.models.sources import FilesSource, RestApiSource, SqlResource
from datakit.contracts.audit import AUDIT_COLUMNS
from datakit.datakits.targets import layer_contract, pipeline_datakit, sql_source_schema, target_schema
from datakit.errors import DatakitError
from datakit.lineage.model import ColumnInfo, Edge, Graph, How, Table
from datakit.lineage.transforms import transform_fields

if TYPE_CHECKING:
    from datakit.config.models.pipelines import Pipeline
    from datakit.config.models.sources import Resource, Source
    from datakit.config.project import Project
    from datakit.contracts.model import Column, Contract
    from datakit.datakits import Datakit, TypedTransform

NO_CONTRACT = "no datakit contract: its columns are known once it is loaded (reflected or inferred)"
EXPRESSION_DIALECT = "duckdb"
"""`columns:` expressions run in DuckDB on each Arrow batch, whatever the destination."""


def source_table_id(source: str, schema: str | None, table: str) -> str:
    return ".".join(part for part in (source, schema, table) if part)


def destination_table_id(destination: str, schema: str, table: str) -> str:
    return f"{destination}.{schema}.{table}"


def add_loads(project: Project, graph: Graph) -> None:
    """Every pipeline's resources: their source tables, loaded tables and the edges between them."""
    for pipeline in project.pipelines.values():
        source_name = project.resolve_name("source", pipeline.source.ref) or pipeline.source.ref
        destination = project.resolve_name("destination", pipeline.destination.ref)
        if destination is None or source_name not in project.sources:
            continue
        source = project.source(source_name)
        try:
            kit = pipeline_datakit(project, pipeline, source.name)
        except DatakitError:  # an ambiguous binding: `datakit validate` reports it; nothing is loaded
            kit = None
        for resource in _resources(pipeline, source):
            _add_resource(project, graph, pipeline, source, resource, kit, destination)


def _resources(pipeline: Pipeline, source: Source) -> list[Resource]:
    by_name: dict[str, Resource] = {resource.name: resource for resource in source.resources}
    chosen = [by_name[name] for name in pipeline.source.resources if name in by_name]
    return chosen or list(by_name.values())


def _add_resource(
    project: Project,
    graph: Graph,
    pipeline: Pipeline,
    source: Source,
    resource: Resource,
    kit: Datakit | None,
    destination: str,
) -> None:
    layer = pipeline.destination.layer
    sql = resource if isinstance(resource, SqlResource) else None
    source_schema = sql_source_schema(source, sql) if sql is not None else None
    read_name = (sql.table or sql.name) if sql is not None and sql.query is None else resource.name
    typed = kit.transforms.get(resource.transform) if kit is not None and resource.transform else None
    contract = _contract(kit, resource, layer)
    source_contract = _source_contract(kit, resource, typed)
    via = f"pipeline {pipeline.name}"

    source_id = source_table_id(source.name, source_schema, read_name)
    if sql is not None and sql.query is not None:
        source_id = source_table_id(source.name, None, f"query:{resource.name}")
    if contract is None:
        _add_uncontracted(project, graph, pipeline, source, resource, kit, destination, source_id)
        return

    system = contract.system or (kit.name if kit is not None else source.name)
    foreign = _foreign(kit, resource, layer)  # another datakit's table: its own schema
    fallback = "main" if foreign or isinstance(source, RestApiSource | FilesSource) else source_schema
    schema = target_schema(project, pipeline, system, contract.schema_name or fallback or "main")
    target = destination_table_id(destination, schema, contract.name)
    loader_times = _loader_times(contract)
    expressions = sql.expressions if sql is not None else None

    edges: list[Edge] = []
    roles: dict[str, str] = {}
    if typed is not None:
        edges, roles = _transform_edges(typed, source_id, target, contract, source_contract, loader_times)
    else:
        for column in contract.columns:
            expression = (expressions or {}).get(column.name)
            if expression is not None:
                found = _expression_edges(expression, source_id, target, column.name, via)
                edges.extend(found)
                if not found:
                    roles[column.name] = "constant"
            elif column.name in loader_times and (
                source_contract is None or column.name not in source_contract.column_names
            ):
                roles[column.name] = "loader"
            else:
                edges.append(Edge(source_id, column.name, target, column.name, How.COPIED, via))
    if resource.incremental is not None and resource.incremental.enabled:
        edges.append(Edge(source_id, resource.incremental.cursor_field, target, None, How.FILTERED_BY, via))

    source_columns = (
        tuple(_column_info(c) for c in source_contract.columns)
        if source_contract is not None
        else _read_columns(edges, source_id)
    )
    _put_source(graph, source_id, source, source_schema, read_name, source_columns, resource, sql)
    columns = tuple(_column_info(c, contract, roles.get(c.name, "data")) for c in contract.columns)
    audit = tuple(_audit(c) for c in AUDIT_COLUMNS if c.name not in contract.column_names)
    graph.add_table(
        Table(
            target, layer, "loaded", destination, schema, contract.name, (*columns, *audit),
            contract.description or resource.description, via,
        )
    )  # fmt: skip
    graph.add_edges(edges)
    graph.loads[(pipeline.name, resource.name)] = (source_id, target)


def _add_uncontracted(
    project: Project,
    graph: Graph,
    pipeline: Pipeline,
    source: Source,
    resource: Resource,
    kit: Datakit | None,
    destination: str,
    source_id: str,
) -> None:
    """A resource without a datakit contract: its columns are not known before it is loaded."""
    layer = pipeline.destination.layer
    sql = resource if isinstance(resource, SqlResource) else None
    source_schema = sql_source_schema(source, sql) if sql is not None else None
    read_name = (sql.table or sql.name) if sql is not None and sql.query is None else resource.name
    via = f"pipeline {pipeline.name}"
    system = kit.name if kit is not None else source.name
    fallback = "main" if isinstance(source, RestApiSource | FilesSource) else source_schema
    schema = target_schema(project, pipeline, system, fallback or "main")
    target = destination_table_id(destination, schema, resource.contract or read_name)
    columns = tuple(ColumnInfo(c) for c in (sql.read_columns if sql is not None else None) or ())
    _put_source(graph, source_id, source, source_schema, read_name, columns, resource, sql)
    graph.add_table(
        Table(
            target,
            layer,
            "loaded",
            destination,
            schema,
            resource.contract or read_name,
            (*columns, *(_audit(c) for c in AUDIT_COLUMNS)),
            resource.description,
            via,
            notes=(NO_CONTRACT,),
        )
    )
    graph.add_edges(
        [Edge(source_id, c.name, target, c.name, How.COPIED, via) for c in columns]
        or [Edge(source_id, None, target, None, How.UNKNOWN, via)]
    )
    graph.loads[(pipeline.name, resource.name)] = (source_id, target)


def _put_source(
    graph: Graph,
    source_id: str,
    source: Source,
    schema: str | None,
    name: str,
    columns: tuple[ColumnInfo, ...],
    resource: Resource,
    sql: SqlResource | None,
) -> None:
    """The source table (several pipelines may read one: the first description is kept)."""
    if source_id in graph.tables:
        known = graph.tables[source_id]
        more = tuple(c for c in columns if known.column(c.name) is None)
        if more:
            graph.add_table(_with_columns(known, (*known.columns, *more)))
        return
    graph.add_table(
        Table(
            source_id,
            "source",
            "source",
            source.name,
            schema,
            name,
            columns,
            resource.description or source.description,
            f"source {source.name} ({source.type})",
            sql=sql.query if sql is not None else None,
        )
    )


def _with_columns(table: Table, columns: tuple[ColumnInfo, ...]) -> Table:
    from dataclasses import replace

    return replace(table, columns=columns)


def _foreign(kit: Datakit | None, resource: Resource, layer: str) -> bool:
    from datakit.datakits.consolidation import resource_binding

    binding = resource_binding(kit, resource, layer)
    return binding is not None and binding.foreign


def _contract(kit: Datakit | None, resource: Resource, layer: str) -> Contract | None:
    if kit is None:
        return None
    from datakit.datakits.consolidation import resource_binding

    binding = resource_binding(kit, resource, layer)
    if binding is not None and binding.foreign:  # a typed transform into another datakit's table
        return binding.table.contract
    try:
        return layer_contract(kit, resource.contract or resource.name, layer)
    except DatakitError:
        return None


def _source_contract(
    kit: Datakit | None, resource: Resource, typed: TypedTransform | None
) -> Contract | None:
    """The contract of what the resource reads: the transform's argument, else the datakit's source table."""
    if typed is not None:
        from datakit.contracts.sqlmodel_source import contract_from_sqlmodel

        return contract_from_sqlmodel(typed.source_model)
    if kit is not None and kit.has_table(resource.contract or resource.name, "source"):
        return kit.contract(resource.contract or resource.name, "source")
    return None


def _loader_times(contract: Contract) -> set[str]:
    from datakit.contracts.mixins import load_times

    return set(load_times(contract.mixins)) if contract.mixins else set()


def _transform_edges(
    typed: TypedTransform,
    source_id: str,
    target: str,
    contract: Contract,
    source_contract: Contract | None,
    loader_times: set[str],
) -> tuple[list[Edge], dict[str, str]]:
    via = f"transform {typed.name}"
    fields = transform_fields(typed.func, source_contract.column_names if source_contract else ())
    edges: list[Edge] = []
    roles: dict[str, str] = {}
    for column in contract.columns:
        found = None if fields is None else fields.get(column.name)
        if found is None:
            if fields is not None:  # the transform leaves it to the model's default
                roles[column.name] = "loader" if column.name in loader_times else "constant"
            else:
                edges.append(Edge(source_id, None, target, column.name, How.UNKNOWN, via))
            continue
        if found.unknown:
            edges.append(Edge(source_id, None, target, column.name, How.UNKNOWN, via, found.expression))
            continue
        if not found.reads:
            roles[column.name] = "constant"
        edges.extend(
            Edge(source_id, read, target, column.name, found.how, via, found.expression)
            for read in sorted(found.reads)
        )
    return edges, roles


def _expression_edges(expression: str, source_id: str, target: str, column: str, via: str) -> list[Edge]:
    """The source columns a `columns:` expression reads; unknown when it does not parse."""
    read = _expression_reads(expression)
    if read is None:
        return [Edge(source_id, None, target, column, How.UNKNOWN, via, expression)]
    names, how, copied = read
    if how is How.COPIED and copied != column:
        how = How.RENAMED
    return [Edge(source_id, name, target, column, how, via, expression) for name in names]


@functools.lru_cache(maxsize=4096)
def _expression_reads(expression: str) -> tuple[tuple[str, ...], How, str | None] | None:
    """(columns read, how, the column when it is just one) of an expression; None when it does not parse.

    Cached: projects repeat their expressions across resources, and parsing is the slow part."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = sqlglot.parse_one(expression, read=EXPRESSION_DIALECT)
    except SqlglotError:
        return None
    names = tuple(sorted({c.name for c in parsed.find_all(exp.Column)}))
    if isinstance(parsed, exp.Column):
        return names, How.COPIED, parsed.name
    if isinstance(parsed, exp.Cast | exp.TryCast) and isinstance(parsed.this, exp.Column):
        return names, How.CAST, None
    return names, How.TRANSFORMED, None


def _read_columns(edges: list[Edge], source_id: str) -> tuple[ColumnInfo, ...]:
    """Without a source contract: the source columns the edges read, in first-use order."""
    names = dict.fromkeys(e.source_column for e in edges if e.source == source_id and e.source_column)
    return tuple(ColumnInfo(name) for name in names if name)


def _column_info(column: Column, contract: Contract | None = None, role: str = "data") -> ColumnInfo:
    return ColumnInfo(
        column.name,
        str(column.type),
        column.nullable,
        column.description,
        tuple(_constraints(column, contract)),
        role,
    )


def _constraints(column: Column, contract: Contract | None) -> Iterator[str]:
    if column.primary_key:
        yield "primary key"
    elif not column.nullable:
        yield "not null"
    if contract is not None:
        for key in contract.unique:
            if column.name in key:
                yield "unique" if len(key) == 1 else f"unique ({', '.join(key)})"
    if column.foreign_key:
        yield f"references {column.foreign_key}"
    if column.max_length is not None:
        yield f"max length {column.max_length}"
    if column.min is not None:
        yield f"{'>' if column.min_exclusive else '>='} {column.min}"
    if column.max is not None:
        yield f"{'<' if column.max_exclusive else '<='} {column.max}"
    if column.accepted_values is not None:
        yield "one of " + ", ".join(str(v) for v in column.accepted_values)
    if column.pattern is not None:
        yield f"matches {column.pattern}"


def _audit(column: Column) -> ColumnInfo:
    return ColumnInfo(column.name, str(column.type), column.nullable, column.description, (), "audit")
