"""A check suite as a tenant runs it: every table it names moved into the tenant's schemas.

Suites are written once, with the names the project without tenants has (`silver.customer`,
`main.customers`, or a bare `customers` in the connection's default schema); a tenant's tables are
the same names with the schema prefixed (`datakit.config.tenancy`). Table references from config
(the checked table, a relationship's `to`, a row count's `equal_to`) are renamed directly. SQL the
user wrote (`sql` checks, and `expression` checks that read another table in a subquery) is parsed
with sqlglot in the destination engine's dialect (`Engine.name`) and every table reference in it
renamed the same way — except the names of the query's own CTEs. A query sqlglot cannot parse is
refused for a tenant rather than run against the wrong tenant's tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.config.models.checks import (
    CheckBase,
    CheckSuite,
    ExpressionCheck,
    RelationshipsCheck,
    RowCountCheck,
    SqlCheck,
)
from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.tenancy import Tenant
    from datakit.connectors import Engine


def for_tenant(
    suite: CheckSuite, table: str, check: CheckBase, tenant: Tenant, engine: Engine
) -> tuple[str, CheckBase]:
    """The checked table and the check with every table reference in the tenant's schemas."""
    where = f"check suite {suite.name!r} on {table} for warehouse {tenant.name!r}"

    def moved(ref: str) -> str:
        return tenant.table(ref if "." in ref else f"{engine.default_schema}.{ref}")

    if isinstance(check, SqlCheck):
        check = check.model_copy(update={"sql": tenant_sql(check.sql, tenant, engine, where)})
    elif isinstance(check, ExpressionCheck):
        check = check.model_copy(update={"expression": tenant_sql(check.expression, tenant, engine, where)})
    elif isinstance(check, RelationshipsCheck):
        relationships = check.relationships.model_copy(update={"to": moved(check.relationships.to)})
        check = check.model_copy(update={"relationships": relationships})
    elif isinstance(check, RowCountCheck) and check.row_count.equal_to is not None:
        row_count = check.row_count.model_copy(update={"equal_to": moved(check.row_count.equal_to)})
        check = check.model_copy(update={"row_count": row_count})
    return moved(table), check


def tenant_sql(text: str, tenant: Tenant, engine: Engine, where: str) -> str:
    """`text` (a query or a predicate) with every table it reads in `tenant`'s schemas; unchanged when
    it reads no table (most predicates), so what the user wrote is what runs whenever possible."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(text, read=engine.name)
    except ParseError as exc:
        raise DatakitError(
            f"{where}: datakit cannot read this SQL to move its tables into the warehouse's schemas: "
            f"{str(exc).splitlines()[0]}",
            hint="simplify the query, or check this table with the built-in checks",
        ) from None
    own = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if t.name and not (not t.db and t.name in own)]
    if not tables:
        return text
    for table in tables:
        schema = tenant.schema(table.db or engine.default_schema)
        table.set("db", exp.to_identifier(schema, quoted=True))
    return tree.sql(dialect=engine.name)
