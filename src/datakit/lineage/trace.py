"""A column's lineage: find it by the end of its name, then walk edges upstream or downstream.

`gold.fact_payment.amount` names `local_duckdb.gold.fact_payment.amount` when that is the only table
column whose name ends so; several matches are an error listing them, none an error with a
suggestion. Upstream follows the edges into a column (and the joins and filters of its table, one
level: they decide its rows, not its value); downstream follows edges out of it, ending at the tables
whose rows it shapes and the checks that read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from datakit.errors import NotFoundError, UsageError, did_you_mean
from datakit.lineage.model import Check, Edge, Graph

Direction = Literal["upstream", "downstream", "both"]
ColumnRef = tuple[str, str]


def find_column(graph: Graph, name: str) -> ColumnRef:
    """The (table id, column) whose dotted name is `name` or ends with `.name`."""
    wanted = name.strip().lower()
    everything = [(t.id, c.name) for t in graph.tables.values() for c in t.columns]
    exact = [ref for ref in everything if f"{ref[0]}.{ref[1]}".lower() == wanted]
    found = exact or [ref for ref in everything if f"{ref[0]}.{ref[1]}".lower().endswith("." + wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        listed = "\n    ".join(f"{graph.tables[t].layer:<7} {t}.{c}" for t, c in sorted(found))
        raise UsageError(
            f"{name!r} names {len(found)} columns:\n    {listed}",
            hint="give more of the name, e.g. its schema or destination",
        )
    names = [f"{t}.{c}" for t, c in everything]
    short = [n.split(".", 1)[1] for n in names if "." in n]
    hint = did_you_mean(name, short) or did_you_mean(name, names)
    if graph.notes:
        hint = "; ".join([*graph.notes, *([hint] if hint else [])])
    raise NotFoundError(
        f"no column {name!r} in the lineage of this project",
        hint=hint or "write table.column or schema.table.column (`datakit docs build` lists every table)",
    )


@dataclass
class Trace:
    """The edges and checks reached from one column, in the order they were reached."""

    column: ColumnRef
    upstream: list[Edge] = field(default_factory=list)
    downstream: list[Edge] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def sources(self) -> list[ColumnRef]:
        """The columns upstream that nothing feeds: where the column's data comes from."""
        fed = {(e.target, e.target_column) for e in self.upstream}
        return sorted(
            {
                (e.source, e.source_column)
                for e in self.upstream
                if e.source_column is not None and e.how.direct and (e.source, e.source_column) not in fed
            }
        )

    def as_dict(self, graph: Graph) -> dict[str, Any]:
        table, column = self.column
        return {
            "column": {"table": table, "column": column, "layer": graph.tables[table].layer},
            "upstream": [e.as_dict() for e in self.upstream],
            "downstream": [e.as_dict() for e in self.downstream],
            "checks": [c.as_dict() for c in self.checks],
            "sources": [{"table": t, "column": c} for t, c in self.sources()],
        }


def trace(graph: Graph, column: ColumnRef, direction: Direction = "both") -> Trace:
    """Every edge upstream and/or downstream of `column`, and the checks reading the columns reached."""
    result = Trace(column)
    reached: set[ColumnRef] = {column}
    if direction in ("upstream", "both"):
        result.upstream = _walk_up(graph, column, reached)
    if direction in ("downstream", "both"):
        result.downstream = _walk_down(graph, column, reached)
    seen: set[str] = set()
    for table, name in sorted(reached):
        for check in graph.checks_reading(table, name):
            if check.id not in seen:
                seen.add(check.id)
                result.checks.append(check)
    return result


def _walk_up(graph: Graph, start: ColumnRef, reached: set[ColumnRef]) -> list[Edge]:
    edges: list[Edge] = []
    seen: set[Edge] = set()
    todo = [start]
    while todo:
        table, column = todo.pop(0)
        incoming = graph.into(table, column)
        if (table, column) == start:
            incoming = incoming + graph.into(table, None)  # the rows of the column's own table
        for edge in incoming:
            if edge in seen:
                continue
            seen.add(edge)
            edges.append(edge)
            if edge.how.direct and edge.source_column is not None:
                ref = (edge.source, edge.source_column)
                if ref not in reached:
                    reached.add(ref)
                    todo.append(ref)
    return edges


def _walk_down(graph: Graph, start: ColumnRef, reached: set[ColumnRef]) -> list[Edge]:
    edges: list[Edge] = []
    seen: set[Edge] = set()
    todo = [start]
    while todo:
        table, column = todo.pop(0)
        for edge in graph.out_of(table, column):
            if edge in seen:
                continue
            seen.add(edge)
            edges.append(edge)
            if edge.target_column is not None:
                ref = (edge.target, edge.target_column)
                if ref not in reached:
                    reached.add(ref)
                    todo.append(ref)
    return edges
