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

    def target(self) -> str:
        """Where the data lands, for listings: a database, a file, a warehouse folder."""
        database: str = getattr(self, "connection").database  # noqa: B009 - each subclass has one
        return database


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


class SparkConnection(StrictModel):
    """Where Spark runs, where its tables live, and which catalog names them."""

    master: str = Field(
        "local[*]",
        min_length=1,
        description="Spark master: local[*], local[N], or a standalone cluster's spark://host:7077.",
    )
    remote: str | None = Field(
        None,
        pattern=r"^sc://",
        description="A Spark Connect server (sc://host:15002) instead of a master; needs pyspark's "
        "connect extras.",
    )
    warehouse: str = Field(
        "spark-warehouse",
        min_length=1,
        description="Folder of the tables (relative to the project root); on a cluster, a path every "
        "executor and the driver see alike (a shared file system).",
    )
    metastore: str | None = Field(
        None,
        description="The catalog: a Hive metastore's thrift://host:9083; default: Spark's built-in "
        "metastore on Derby in <warehouse>/_datakit/metastore_db (one process at a time).",
    )
    table_format: Literal["parquet", "delta"] = Field(
        "parquet",
        description="Format of the tables datakit writes; delta needs Delta Lake's jars and settings in "
        "`conf` (spark.jars, spark.sql.extensions, spark.sql.catalog.spark_catalog).",
    )
    conf: dict[str, str] = Field(
        default_factory=dict, description="Further Spark settings (spark.executor.memory, ...)."
    )


class SparkDestination(DestinationBase):
    """Apache Spark: tables in an open format in a warehouse folder, named by a Hive catalog."""

    type: Literal["spark"]
    connection: SparkConnection = Field(default_factory=SparkConnection)

    def exclusive(self, path: Callable[[str], Path]) -> str | None:
        """The warehouse: datakit's Spark loads switch table versions one writer at a time (and the
        built-in Derby metastore admits one process)."""
        if self.connection.remote is not None:
            return f"spark:{self.connection.remote}"
        return f"spark:{path(self.connection.warehouse).resolve()}"

    def target(self) -> str:
        return self.connection.remote or self.connection.warehouse


Destination = Annotated[
    DuckDBDestination | PostgresDestination | SparkDestination, Field(discriminator="type")
]
