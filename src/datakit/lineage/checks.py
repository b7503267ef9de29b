"""Check suites -> the columns each check reads.

A suite names tables as its destination sees them (`silver.customer`); each check reads the columns
its options name (`not_null`, `unique`, `accepted_values`, `freshness`), the referenced table's too
(`relationships`, `row_count.equal_to`), or those its SQL mentions (`expression`: the columns of the
predicate; `sql`: the tables of the query, as a whole).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from datakit.config.models.checks import (
    AcceptedValuesCheck,
    CheckBase,
    ExpressionCheck,
    FreshnessCheck,
    NotNullCheck,
    RelationshipsCheck,
    RowCountCheck,
    SqlCheck,
    UniqueCheck,
    table_parts,
)
from datakit.connectors.engines import engine_of
from datakit.lineage.loads import destination_table_id
from datakit.lineage.model import Check, Graph

if TYPE_CHECKING:
    from datakit.config.project import Project

Read = tuple[str, str | None]


def add_checks(project: Project, graph: Graph) -> None:
    """Every check of every suite, reading the columns of the destination's tables."""
    for suite in project.check_suites.values():
        destination = project.resolve_name("destination", suite.destination) or suite.destination
        default = engine_of(project.destination(destination).type).default_schema

        def table_id(ref: str, destination: str = destination, default: str = default) -> str:
            parts = table_parts(ref)
            schema = parts[-2] if len(parts) >= 2 else default
            return destination_table_id(destination, schema, parts[-1])

        for ref, check in suite.checks():
            table = table_id(ref)
            for label, reads in _reads(check, table, table_id):
                graph.checks.append(
                    Check(
                        f"checks:{suite.name}:{ref}:{label}",
                        label,
                        check.kind,
                        table,
                        tuple(reads),
                        suite.severity_of(check),
                        f"checks {suite.name}",
                    )
                )


def suite_tables(project: Project, suite_name: str) -> set[tuple[str, str]]:
    """(schema, table) of every table a suite's checks read, as its destination names them (a table
    named without a schema is in the engine's default schema)."""
    suite = project.check_suites[suite_name]
    destination = project.resolve_name("destination", suite.destination) or suite.destination
    default = engine_of(project.destination(destination).type).default_schema

    def table_id(ref: str) -> str:
        parts = table_parts(ref)
        return f"{parts[-2] if len(parts) >= 2 else default}.{parts[-1]}"

    found: set[tuple[str, str]] = set()
    for ref, check in suite.checks():
        for _, reads in _reads(check, table_id(ref), table_id):
            for table, _ in reads:
                schema, _, name = table.partition(".")
                found.add((schema, name))
    return found


def _reads(check: CheckBase, table: str, table_id: Callable[[str], str]) -> list[tuple[str, list[Read]]]:
    """(result label, columns read) for each result of `check` on `table`."""
    label = check.labels()[0]
    if isinstance(check, NotNullCheck):
        labels = check.labels()
        return [(name, [(table, column)]) for name, column in zip(labels, check.not_null, strict=True)]
    if isinstance(check, UniqueCheck):
        return [(label, [(table, column) for column in check.unique])]
    if isinstance(check, AcceptedValuesCheck):
        return [(label, [(table, check.accepted_values.column)])]
    if isinstance(check, FreshnessCheck):
        return [(label, [(table, check.freshness.column)])]
    if isinstance(check, RelationshipsCheck):
        rel = check.relationships
        return [(label, [(table, rel.column), (table_id(rel.to), rel.field or rel.column)])]
    if isinstance(check, RowCountCheck):
        other = check.row_count.equal_to
        return [(label, [(table, None), *([(table_id(other), None)] if other else [])])]
    if isinstance(check, ExpressionCheck):
        return [(label, [(table, column) for column in _columns(check.expression)] or [(table, None)])]
    if isinstance(check, SqlCheck):
        others = [table_id(t) for t in _tables(check.sql)]
        return [(label, [(table, None), *((t, None) for t in others if t != table)])]
    return [(label, [(table, None)])]


def _columns(expression: str) -> list[str]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = sqlglot.parse_one(expression)
    except SqlglotError:
        return []
    return sorted({column.name for column in parsed.find_all(exp.Column)})


def _tables(sql: str) -> list[str]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = sqlglot.parse_one(sql)
    except SqlglotError:
        return []
    return sorted({".".join(p for p in (t.db, t.name) if p) for t in parsed.find_all(exp.Table)})
