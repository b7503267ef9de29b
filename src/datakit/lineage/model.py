"""The lineage graph as plain data: tables with their columns, edges between columns, and checks.

A table is named by where it lives: a source table by its source, schema and name
(`pagila.public.payment`), a warehouse table by its destination, schema and name
(`local_duckdb.gold.fact_payment`). An edge says which column a column is made from and how (`How`);
an edge whose target has no column (`target_column is None`) says that a column decides which rows a
table has (a join key, a filter) without being copied into any column. Checks read columns.

Every part is computed from what the project declares (contracts, column expressions, typed
transforms, dbt's compiled SQL, check suites); what cannot be known is an edge marked `unknown`, never
a guess. The graph is JSON-able (`as_dict`) for `datakit lineage --json`, the docs site and tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class How(StrEnum):
    """How a column comes from another one. Direct kinds first, weakest to strongest."""

    COPIED = "copied"
    RENAMED = "renamed"
    CAST = "cast"
    TRANSFORMED = "transformed"
    """An expression of the upstream column(s): `first_name || ' ' || last_name`, `lower(email)`."""
    AGGREGATED = "aggregated"
    JOINED_ON = "joined_on"
    """The upstream column joins the target table's rows (the edge's target is the table)."""
    FILTERED_BY = "filtered_by"
    """The upstream column filters the target table's rows (WHERE, HAVING, QUALIFY)."""
    UNKNOWN = "unknown"
    """Some column of the upstream table feeds the target; which one cannot be known."""

    @property
    def direct(self) -> bool:
        """True when the value of the target column is made from the source column."""
        return self not in (How.JOINED_ON, How.FILTERED_BY)


DIRECT_RANK: dict[How, int] = {
    How.COPIED: 1,
    How.RENAMED: 1,
    How.CAST: 2,
    How.TRANSFORMED: 3,
    How.AGGREGATED: 4,
}
"""Along a path of several steps, the strongest step says how the end comes from the start."""


def stronger(a: How, b: How) -> How:
    """The stronger of two direct kinds (`cast` then `copied` is a `cast`)."""
    return a if DIRECT_RANK.get(a, 5) >= DIRECT_RANK.get(b, 5) else b


Role = str
"""What fills a column: `data` (from upstream), `audit` (the loader's `_dk_*` columns), `loader` (a
mixin time the loader fills when the source gives none), `constant` (an expression without columns)."""


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a table, as documented."""

    name: str
    type: str | None = None
    nullable: bool | None = None
    description: str | None = None
    constraints: tuple[str, ...] = ()
    role: Role = "data"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "nullable": self.nullable,
            "description": self.description,
            "constraints": list(self.constraints),
            "role": self.role,
        }


@dataclass(frozen=True)
class Table:
    """A table of a source or of a destination, in one layer."""

    id: str
    layer: str
    """`source`, `bronze`, `silver`, `gold`, or `model` for a dbt model of no named layer."""
    kind: str
    """`source` (a source system's table), `loaded` (written by a pipeline), `model`, `seed`, `snapshot`."""
    system: str
    """The source's or the destination's name."""
    schema: str | None
    name: str
    columns: tuple[ColumnInfo, ...] = ()
    description: str | None = None
    origin: str | None = None
    """What makes it: `pipeline pagila_bronze`, `model.pagila.fact_payment`, a file."""
    sql: str | None = None
    """dbt's compiled SQL of a model, or the query a resource reads."""
    notes: tuple[str, ...] = ()
    """What could not be worked out, said plainly (no compiled SQL yet, SQL that does not parse)."""

    @property
    def relation(self) -> str:
        """`schema.table` (the name a check suite or a person uses inside the system)."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "layer": self.layer,
            "kind": self.kind,
            "system": self.system,
            "schema": self.schema,
            "name": self.name,
            "columns": [c.as_dict() for c in self.columns],
            "description": self.description,
            "origin": self.origin,
            "sql": self.sql,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Edge:
    """`target.target_column` is made from (or, for joins and filters, shaped by) `source.source_column`.

    `source_column` is None only for `unknown` edges (some column of the source table); `target_column`
    is None for `joined_on` and `filtered_by` (the target table's rows). `via` names what makes the
    step (a pipeline, a transform, a dbt model); `expression` is the SQL or Python that does, if any.
    """

    source: str
    source_column: str | None
    target: str
    target_column: str | None
    how: How
    via: str
    expression: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_column": self.source_column,
            "target": self.target,
            "target_column": self.target_column,
            "how": str(self.how),
            "via": self.via,
            "expression": self.expression,
        }


@dataclass(frozen=True)
class Check:
    """A data-quality check and the columns it reads (`column` None: the table as a whole)."""

    id: str
    name: str
    kind: str
    table: str
    reads: tuple[tuple[str, str | None], ...]
    """(table id, column or None) for every column the check reads, the checked table's first."""
    severity: str
    origin: str
    """`checks silver_quality` (a check suite) or `dbt test.pagila.unique_dim_customer_customer_id`."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "table": self.table,
            "reads": [{"table": t, "column": c} for t, c in self.reads],
            "severity": self.severity,
            "origin": self.origin,
        }


@dataclass
class Graph:
    """Every table, edge and check of a project; lookups by column in both directions."""

    tables: dict[str, Table] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    loads: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """(pipeline, resource) -> (source table id, loaded table id)."""
    notes: list[str] = field(default_factory=list)
    """What is missing from the whole graph (a dbt project never compiled), said plainly."""
    _into: dict[tuple[str, str | None], list[Edge]] = field(default_factory=dict, init=False, repr=False)
    _out_of: dict[str, list[Edge]] = field(default_factory=dict, init=False, repr=False)
    _into_table: dict[str, list[Edge]] = field(default_factory=dict, init=False, repr=False)
    _indexed: int = field(default=-1, init=False, repr=False)
    _positions: dict[tuple[str, str | None, str, str | None, How], int] = field(
        default_factory=dict, init=False, repr=False
    )

    def add_table(self, table: Table) -> None:
        self.tables[table.id] = table

    def add_edges(self, edges: Iterable[Edge]) -> None:
        """Add `edges`; one already there by another way (two pipelines load one table) names both."""
        for edge in edges:
            key = (edge.source, edge.source_column, edge.target, edge.target_column, edge.how)
            at = self._positions.get(key)
            if at is None:
                self._positions[key] = len(self.edges)
                self.edges.append(edge)
            elif edge.via not in self.edges[at].via.split(", "):
                self.edges[at] = replace(self.edges[at], via=f"{self.edges[at].via}, {edge.via}")
                self._indexed = -1

    def into(self, table: str, column: str | None) -> list[Edge]:
        """The edges whose target is `table.column` (column None: the table's row-shaping edges)."""
        self._index()
        return self._into.get((table, column), [])

    def out_of(self, table: str, column: str) -> list[Edge]:
        """The edges leaving `table.column`, and the `unknown` edges leaving its table."""
        self._index()
        return [
            e for e in self._out_of.get(table, []) if e.source_column == column or e.source_column is None
        ]

    def into_table(self, table: str) -> list[Edge]:
        """Every edge whose target is `table` (into its columns, and into its rows)."""
        self._index()
        return self._into_table.get(table, [])

    def checks_reading(self, table: str, column: str | None) -> list[Check]:
        return [c for c in self.checks if (table, column) in c.reads]

    def _index(self) -> None:
        if self._indexed == len(self.edges):
            return
        self._into, self._out_of, self._into_table = {}, {}, {}
        for edge in self.edges:
            self._into.setdefault((edge.target, edge.target_column), []).append(edge)
            self._into_table.setdefault(edge.target, []).append(edge)
            self._out_of.setdefault(edge.source, []).append(edge)
        self._indexed = len(self.edges)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": [t.as_dict() for t in self.tables.values()],
            "edges": [e.as_dict() for e in self.edges],
            "checks": [c.as_dict() for c in self.checks],
        }
