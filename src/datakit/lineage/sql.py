"""Column lineage of one SELECT: for each output column, the table columns it is made from, and how.

The query is parsed by sqlglot in the destination's dialect and qualified against the schemas of the
tables it reads (so `select *` and unqualified columns resolve), then walked scope by scope: an output
column's expression names columns of its scope's sources; a source that is a table ends the walk, a
CTE or a subquery continues it with the column it selects. The strongest step on the way says how
(`cast` inside `copied` is a `cast`; an aggregate anywhere makes it `aggregated`). Columns in join
conditions and in WHERE / HAVING / QUALIFY are followed the same way and reported as the rows'
`joined_on` / `filtered_by`. A query that cannot be parsed or resolved raises `SqlLineageError`: the
caller marks its edges unknown instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datakit.errors import DatakitError
from datakit.lineage.model import How, stronger

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

ColumnKey = tuple[str, str]
"""(table id, column)."""
TableSchemas = Mapping[tuple[str, str], Mapping[str, str]]
"""(schema, table) -> column -> type, for every table the query may read (any catalog)."""


class SqlLineageError(DatakitError):
    """The query could not be parsed or resolved; its lineage is unknown."""


@dataclass
class QueryLineage:
    """The output columns of a query in order, what each is made from, and what shapes its rows."""

    columns: list[str] = field(default_factory=list)
    direct: dict[str, dict[ColumnKey, How]] = field(default_factory=dict)
    rows: dict[ColumnKey, How] = field(default_factory=dict)
    """Columns joined on (`joined_on`) or filtered by (`filtered_by`); a join wins over a filter."""
    unresolved: set[str] = field(default_factory=set)
    """Relations the query reads that are not among the known tables (`catalog.schema.table`)."""
    expressions: dict[str, str] = field(default_factory=dict)
    """The SQL of each output column's expression (qualified), for a person to read."""


def query_lineage(
    sql: str,
    dialect: str,
    schemas: TableSchemas,
    table_id: Callable[[str, str, str], str | None],
) -> QueryLineage:
    """The lineage of `sql` (one SELECT) in `dialect`; `table_id(catalog, schema, table)` names a table
    the query reads (None: not a known table)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    try:
        parsed = sqlglot.parse_one(sql, read=dialect)
        read = {(t.db.lower(), t.name.lower()) for t in parsed.find_all(exp.Table)}
        qualified = qualify(
            parsed,
            dialect=dialect,
            schema=_mapping({k: schemas[k] for k in read if k in schemas}),  # type: ignore[arg-type]
            validate_qualify_columns=False,
            identify=False,
            quote_identifiers=False,
        )
        root = build_scope(qualified)
    except (SqlglotError, ValueError, KeyError) as exc:
        raise SqlLineageError(f"cannot read the SQL: {_first_line(exc)}") from None
    if root is None:
        raise SqlLineageError("not a query (no SELECT)")
    walker = _Walker(table_id)
    result = QueryLineage()
    try:
        for select in _selects(root):
            name = select.alias_or_name
            result.columns.append(name)
            result.direct[name] = walker.column(root, name)
            result.expressions[name] = _expression_sql(select, dialect)
        for scope in root.traverse():
            for key, how in walker.row_shapers(scope).items():
                if result.rows.get(key) is not How.JOINED_ON:
                    result.rows[key] = how
    except (SqlglotError, ValueError, KeyError, RecursionError) as exc:
        raise SqlLineageError(f"cannot follow the SQL's columns: {_first_line(exc)}") from None
    result.unresolved = walker.unresolved
    return result


def _mapping(schemas: TableSchemas) -> dict[str, dict[str, dict[str, str]]]:
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for (schema, table), columns in schemas.items():
        nested.setdefault(schema, {})[table] = dict(columns)
    return nested


def _selects(scope: Scope) -> list[exp.Expr]:
    from sqlglot import exp

    expression = scope.expression
    while isinstance(expression, exp.SetOperation):
        expression = expression.this  # a union's columns are named by its first branch
    return list(expression.selects) if isinstance(expression, exp.Query) else []


class _Walker:
    """Follows columns through the scopes of one qualified query, remembering what it has followed."""

    def __init__(self, table_id: Callable[[str, str, str], str | None]) -> None:
        self.table_id = table_id
        self.unresolved: set[str] = set()
        self._memo: dict[tuple[int, str], dict[ColumnKey, How]] = {}

    def column(self, scope: Scope, name: str) -> dict[ColumnKey, How]:
        """The table columns output column `name` of `scope` is made from."""
        key = (id(scope), name)
        if key not in self._memo:
            self._memo[key] = {}  # a recursive CTE reaches itself: stop there
            self._memo[key] = self._column(scope, name)
        return self._memo[key]

    def _column(self, scope: Scope, name: str) -> dict[ColumnKey, How]:
        from sqlglot import exp

        if isinstance(scope.expression, exp.SetOperation):
            index = next(i for i, s in enumerate(_selects(scope)) if s.alias_or_name == name)
            found: dict[ColumnKey, How] = {}
            branches = getattr(scope, "set_operation_scopes", None) or getattr(scope, "union_scopes", [])
            for branch in branches:  # sqlglot renamed `union_scopes` in version 26
                selects = _selects(branch)
                if index < len(selects):
                    _merge(found, self.column(branch, selects[index].alias_or_name))
            return found
        select = next((s for s in _selects(scope) if s.alias_or_name == name), None)
        if select is None:
            return {}
        expression = select.unalias() if isinstance(select, exp.Alias) else select
        return self.expression(scope, expression, _how(expression))

    def expression(self, scope: Scope, expression: exp.Expr, how: How) -> dict[ColumnKey, How]:
        """The table columns `expression` (evaluated in `scope`) reads, each at least as `how`."""
        found: dict[ColumnKey, How] = {}
        for column in _columns_in_scope(expression):
            for key, step in self.source_column(scope, column).items():
                _merge(found, {key: stronger(step, how)})
        for inner in _subquery_scopes(scope, expression):
            for select in _selects(inner):
                for key, step in self.column(inner, select.alias_or_name).items():
                    _merge(found, {key: stronger(step, How.TRANSFORMED if how is How.COPIED else how)})
        return found

    def source_column(self, scope: Scope, column: exp.Column) -> dict[ColumnKey, How]:
        """Where a column reference of `scope` leads: a table's column, or a CTE's or subquery's."""
        from sqlglot import exp

        source = scope.sources.get(column.table)
        if isinstance(source, exp.Table):
            table = self.table_id(source.catalog, source.db, source.name)
            if table is None:
                self.unresolved.add(".".join(p for p in (source.catalog, source.db, source.name) if p))
                return {}
            return {(table, column.name): How.COPIED}
        if source is not None and hasattr(source, "expression"):
            return self.column(source, column.name)
        return {}

    def row_shapers(self, scope: Scope) -> dict[ColumnKey, How]:
        """Columns of the join conditions and filters of `scope`, followed to their tables."""
        from sqlglot import exp

        found: dict[ColumnKey, How] = {}
        expression = scope.expression
        if not isinstance(expression, exp.Select):
            return found
        conditions: list[tuple[exp.Expr, How]] = []
        for join in expression.args.get("joins") or []:
            for part in ("on", "using"):
                value = join.args.get(part)
                if isinstance(value, exp.Expr):
                    conditions.append((value, How.JOINED_ON))
                elif isinstance(value, list):
                    conditions.extend((v, How.JOINED_ON) for v in value if isinstance(v, exp.Expr))
        for part in ("where", "having", "qualify"):
            value = expression.args.get(part)
            if value is not None:
                conditions.append((value, How.FILTERED_BY))
        for condition, how in conditions:
            for key in self.expression(scope, condition, How.COPIED):
                if found.get(key) is not How.JOINED_ON:
                    found[key] = how
        return found


def _merge(into: dict[ColumnKey, How], more: Mapping[ColumnKey, How]) -> None:
    for key, how in more.items():
        into[key] = stronger(into[key], how) if key in into else how


def _how(expression: exp.Expr) -> How:
    """How one select expression makes its value from the columns it names."""
    from sqlglot import exp

    if isinstance(expression, exp.Column):
        return How.COPIED
    if isinstance(expression, exp.Cast | exp.TryCast) and isinstance(expression.this, exp.Column):
        return How.CAST
    for node in expression.walk():
        if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window):
            return How.AGGREGATED
    return How.TRANSFORMED


def _columns_in_scope(expression: exp.Expr) -> Iterable[exp.Column]:
    """Column references of `expression`, not those inside its subqueries (they have scopes of their own)."""
    from sqlglot import exp

    top: object = expression
    for node in expression.walk(prune=lambda n: isinstance(n, exp.Query) and n is not top):
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            yield node


def _subquery_scopes(scope: Scope, expression: exp.Expr) -> list[Scope]:
    """The scopes of the subqueries inside `expression` (a scalar subquery in a select, an IN (...))."""
    from sqlglot import exp

    inner = {id(s.expression): s for s in scope.subquery_scopes}
    return [
        inner[id(node)]
        for node in expression.walk()
        if isinstance(node, exp.Query) and id(node) != id(expression) and id(node) in inner
    ]


def _expression_sql(select: exp.Expr, dialect: str) -> str:
    from sqlglot import exp

    inner = select.unalias() if isinstance(select, exp.Alias) else select
    return str(inner.sql(dialect=dialect))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
