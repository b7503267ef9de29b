"""`destination:` files — where data lands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from datakit.config.models.airflow import AirflowDestination
from datakit.config.models.common import Description, Name, StrictModel, Tags
from datakit.config.models.connections import PostgresConnection


class DestinationSettings(StrictModel):
    schema_: str | None = Field(
        None, alias="schema", description="Default schema (dataset) for pipelines that name none."
    )
    create_indexes: bool = Field(False, description="Create indexes on primary and unique keys.")


class DestinationBase(StrictModel):
    name: Name
    description: Description
    tags: Tags
    settings: DestinationSettings = Field(default_factory=DestinationSettings)
    airflow: AirflowDestination = Field(
        default_factory=AirflowDestination, description="The Airflow pool of tasks working in it."
    )

    def exclusive(self, path: Callable[[str], Path]) -> str | None:  # noqa: ARG002 - DuckDB's needs it
        """What only one process may write at a time (steps on it never overlap), or None.

        `path` makes a configured path absolute (`Project.path`)."""
        return None


class DuckDBConnection(StrictModel):
    database: str = Field(
        "warehouse.duckdb",
        min_length=1,
        description="DuckDB file (relative to the project root), or ':memory:'.",
    )


class DuckDBDestination(DestinationBase):
    """An embedded DuckDB file: the zero-service default."""

    type: Literal["duckdb"]
    connection: DuckDBConnection = Field(default_factory=DuckDBConnection)

    def exclusive(self, path: Callable[[str], Path]) -> str | None:
        """The file: DuckDB admits one writing process per file (an in-memory database is private)."""
        database = self.connection.database
        return None if database == ":memory:" else f"duckdb:{path(database).resolve()}"


class PostgresDestination(DestinationBase):
    """A PostgreSQL warehouse."""

    type: Literal["postgres"]
    connection: PostgresConnection


Destination = Annotated[DuckDBDestination | PostgresDestination, Field(discriminator="type")]
