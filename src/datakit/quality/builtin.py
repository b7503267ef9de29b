"""The built-in checks: each turns its YAML options into SQL that returns the failing rows.

A check passes when its query returns no row. Row-level checks return the offending rows themselves
(`select * ... where <violation>`), so a sample shows the row to fix; table-level checks (`row_count`,
`freshness`) return one row describing the violation. The registry is keyed by the config model's
`kind`, and a test holds it equal to the kinds the config accepts; each builder's docstring says what
fails and is the check's documentation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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
)
from datakit.config.models.common import format_duration
from datakit.quality.sql import relation, user_sql

if TYPE_CHECKING:
    from datakit.connectors import Engine

C = TypeVar("C", bound=CheckBase)
Builder = Callable[[C, str, "Engine"], list[str]]
"""`(check, table, engine) -> one failing-rows query per label of the check (see CheckBase.labels)`."""


@dataclass(frozen=True)
class BuiltinCheck(Generic[C]):
    """A registered check: the config model it reads and the builder of its SQL."""

    kind: str
    model: type[C]
    build: Builder[C]

    @property
    def doc(self) -> str:
        """What fails, for users (`datakit` docs and listings read it from here)."""
        return inspect.getdoc(self.build) or ""


REGISTRY: dict[str, BuiltinCheck[Any]] = {}


def builtin(model: type[C]) -> Callable[[Builder[C]], Builder[C]]:
    """Register the decorated function as the SQL builder of `model`'s checks."""

    def register(build: Builder[C]) -> Builder[C]:
        if model.kind in REGISTRY:
            raise ValueError(f"check '{model.kind}' is registered twice")
        REGISTRY[model.kind] = BuiltinCheck(model.kind, model, build)
        return build

    return register


def failing_rows_sql(check: CheckBase, table: str, engine: Engine) -> list[tuple[str, str]]:
    """`(label, sql)` for each result of `check` on `table`, in `engine`'s SQL."""
    queries = REGISTRY[check.kind].build(check, table, engine)
    return list(zip(check.labels(), queries, strict=True))


@builtin(NotNullCheck)
def not_null(check: NotNullCheck, table: str, sql: Engine) -> list[str]:
    """Fails on every row where the column is null; each listed column is its own check."""
    return [f"select * from {relation(sql, table)} where {sql.quote(c)} is null" for c in check.not_null]


@builtin(UniqueCheck)
def unique(check: UniqueCheck, table: str, sql: Engine) -> list[str]:
    """Fails once per key value held by more than one row, with how many rows hold it. A list of
    columns is one composite key. Keys with a null part are skipped, as a UNIQUE constraint does."""
    columns = ", ".join(sql.quote(c) for c in check.unique)
    present = " and ".join(f"{sql.quote(c)} is not null" for c in check.unique)
    return [
        f"select {columns}, count(*) as occurrences from {relation(sql, table)} where {present} "
        f"group by {columns} having count(*) > 1"
    ]


@builtin(AcceptedValuesCheck)
def accepted_values(check: AcceptedValuesCheck, table: str, sql: Engine) -> list[str]:
    """Fails on every row whose value is not in `values`. Nulls pass: pair with `not_null` to forbid them."""
    column = sql.quote(check.accepted_values.column)
    values = ", ".join(sql.literal(v) for v in check.accepted_values.values)
    return [f"select * from {relation(sql, table)} where {column} is not null and {column} not in ({values})"]


@builtin(RelationshipsCheck)
def relationships(check: RelationshipsCheck, table: str, sql: Engine) -> list[str]:
    """Fails on every row whose non-null `column` matches no `field` in the table `to` (an orphan)."""
    spec = check.relationships
    column = sql.quote(spec.column)
    field = sql.quote(spec.field or spec.column)
    parent = relation(sql, spec.to)
    return [
        f"select child.* from {relation(sql, table)} as child where child.{column} is not null "
        f"and not exists (select 1 from {parent} as parent where parent.{field} = child.{column})"
    ]


@builtin(RowCountCheck)
def row_count(check: RowCountCheck, table: str, sql: Engine) -> list[str]:
    """Fails with one row (`row_count` and the bound it breaks) when the table has fewer rows than
    `min`, more than `max`, or not as many as the table `equal_to`."""
    spec = check.row_count
    columns = ["row_count"]
    counts = [f"(select count(*) from {relation(sql, table)}) as row_count"]
    broken: list[str] = []
    if spec.min is not None:
        columns.append(f"{spec.min} as min_rows")
        broken.append(f"row_count < {spec.min}")
    if spec.max is not None:
        columns.append(f"{spec.max} as max_rows")
        broken.append(f"row_count > {spec.max}")
    if spec.equal_to is not None:
        columns.append("expected_rows")
        counts.append(f"(select count(*) from {relation(sql, spec.equal_to)}) as expected_rows")
        broken.append("row_count <> expected_rows")
    counted = f"(select {', '.join(counts)}) as counted"
    return [f"select {', '.join(columns)} from {counted} where {' or '.join(broken)}"]


@builtin(FreshnessCheck)
def freshness(check: FreshnessCheck, table: str, sql: Engine) -> list[str]:
    """Fails with one row (`latest` value and `max_age`) when the newest value of the timestamp column
    is older than `max_age` by the database's clock, or when there is none (empty table, all null)."""
    spec = check.freshness
    max_age = sql.string(format_duration(spec.max_age))
    return [
        f"select latest, {max_age} as max_age from (select max({sql.quote(spec.column)}) as latest "
        f"from {relation(sql, table)}) as newest "
        f"where latest is null or latest < {sql.older_than(spec.max_age)}"
    ]


@builtin(ExpressionCheck)
def expression(check: ExpressionCheck, table: str, sql: Engine) -> list[str]:
    """Fails on every row for which the SQL predicate is not true: false, and also null (a predicate
    every row must satisfy is not satisfied by unknown)."""
    return [f"select * from {relation(sql, table)} where ({user_sql(check.expression)}) is not true"]


@builtin(SqlCheck)
def custom_sql(check: SqlCheck, table: str, sql: Engine) -> list[str]:  # noqa: ARG001 - uniform builder
    """Fails on every row the query returns; the query is used as written (it names its own tables)."""
    return [user_sql(check.sql).strip()]
