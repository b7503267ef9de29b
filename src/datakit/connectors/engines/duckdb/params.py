"""Connection parameters of a DuckDB destination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from datakit.connectors.params import Params

if TYPE_CHECKING:
    from datakit.config.models.destinations import DuckDBDestination
    from datakit.config.project import Project
    from datakit.config.secrets import Secrets

MEMORY = ":memory:"


class DuckDBParams(Params):
    """A DuckDB database file, or ':memory:'."""

    type: Literal["duckdb"] = "duckdb"
    database: str = "warehouse.duckdb"
    destination: str | None = Field(None, description="The destination's name in the project, for messages.")
    threads: int | None = Field(None, ge=1, description="DuckDB worker threads; default: DuckDB's own.")
    memory_limit: str | None = Field(
        None,
        description="DuckDB's buffer pool cap, e.g. '256MB'. DuckDB keeps the blocks a load writes cached up "
        "to this limit (default 80% of RAM), so it bounds the RSS of large loads.",
    )

    def secrets(self) -> tuple[str | None, ...]:
        return ()

    def describe(self) -> str:
        return f"duckdb {self.database}"


def from_config(config: DuckDBDestination, project: Project, secrets: Secrets) -> DuckDBParams:  # noqa: ARG001
    """The file relative to the project root (its folder made), or ':memory:'."""
    database = config.connection.database
    if database != MEMORY:
        path = project.path(database)
        path.parent.mkdir(parents=True, exist_ok=True)
        database = str(path)
    return DuckDBParams(database=database, destination=config.name)
