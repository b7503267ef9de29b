"""Where a table lives, named the way OpenLineage names datasets: (namespace, name).

Each kind of source and destination has its own address (a server, a file, a URL, a folder), so the
naming sits with the connectors rather than branching on `type` in the lineage code. PostgreSQL is
`postgres://host:port` + `database.schema.table`, MySQL `mysql://host:port` + `database.table`, DuckDB
and SQLite their file (`duckdb:///path/warehouse.duckdb` + `catalog.schema.table`), a REST API its base
URL, files their folder; anything else `type://system` + its relation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def dataset_address(
    config: Any, system: str, schema: str | None, name: str, path: Callable[[str], Path]
) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of table `schema.name` of the source or destination `config`
    (named `system` in the project); `path` makes the config's relative file paths absolute."""
    kind = str(config.type)
    connection: Any = getattr(config, "connection", None)
    if kind in ("postgres", "mysql"):
        parts = (connection.database, schema if kind == "postgres" else None, name)
        return f"{kind}://{connection.host}:{connection.port}", ".".join(p for p in parts if p)
    if kind in ("duckdb", "sqlite"):
        file = path(connection.database)
        catalog = file.stem if kind == "duckdb" else None
        return f"{kind}://{file}", ".".join(p for p in (catalog, schema, name) if p)
    if kind == "rest_api":
        return str(connection.base_url).rstrip("/"), name
    if kind == "files":
        return f"file://{path(config.base_path)}", name
    return f"{kind}://{system}", ".".join(p for p in (schema, name) if p)
