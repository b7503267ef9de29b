"""Create contracts' tables in a live DuckDB or PostgreSQL database.

The thin executing side of `ddl.py`: it picks the dialect from the connection, creates the schema and
runs the statements in one transaction, so a failed deploy leaves nothing half-made behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datakit.contracts.ddl import LayerRules, create_schema_sql, create_tables_sql
from datakit.contracts.model import Contract, Layer
from datakit.contracts.sqltypes import Dialect


def connection_dialect(connection: Any) -> Dialect:
    """The dialect of a duckdb or psycopg connection."""
    module = type(connection).__module__
    if module.startswith(("duckdb", "_duckdb")):
        return Dialect.DUCKDB
    if module.startswith("psycopg"):
        return Dialect.POSTGRES
    raise TypeError(f"expected a duckdb or psycopg connection, not {type(connection).__qualname__}")


def deploy_contracts(
    contracts: Sequence[Contract],
    connection: Any,
    schema: str,
    *,
    layer_rules: LayerRules | Layer | str | None = None,
) -> list[str]:
    """Create `schema` (if absent) and the contracts' tables in it; returns the statements it ran."""
    dialect = connection_dialect(connection)
    statements = [
        create_schema_sql(schema),
        *create_tables_sql(contracts, dialect, schema, layer_rules=layer_rules),
    ]
    if dialect is Dialect.DUCKDB:
        connection.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                connection.execute(statement)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    else:
        with connection.transaction():
            for statement in statements:
                connection.execute(statement)
    return statements
