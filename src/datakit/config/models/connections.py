"""Connection settings shared by sources and destinations of the same database kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from datakit.config.models.common import SecretRef, StrictModel

Port = Annotated[int, Field(ge=1, le=65535)]


class PostgresConnection(StrictModel):
    """A PostgreSQL server. The password comes from the secrets mapping, never from the YAML."""

    host: str = Field("localhost", description="Host name or address.")
    port: Port = 5432
    database: str = Field(min_length=1, description="Database name.")
    user: str | None = Field(None, description="Login role; defaults to the operating-system user.")
    password_secret_key: SecretRef | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    connect_timeout: Annotated[int, Field(ge=1, le=600)] = 10
    options: dict[str, str] = Field(
        default_factory=dict, description="Extra libpq connection parameters (application_name, ...)."
    )


class MysqlConnection(StrictModel):
    """A MySQL or MariaDB server."""

    host: str = "localhost"
    port: Port = 3306
    database: str = Field(min_length=1)
    user: str = "root"
    password_secret_key: SecretRef | None = None
    charset: str = "utf8mb4"
    connect_timeout: Annotated[int, Field(ge=1, le=600)] = 10


class FileDatabase(StrictModel):
    """A database in a file (SQLite, DuckDB); a relative path is relative to the project root."""

    database: str = Field(
        min_length=1, description="Path of the database file (relative to the project root)."
    )
