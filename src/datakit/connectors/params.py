"""Resolved connection parameters: what a connector needs to connect, with the password kept secret.

These mirror `datakit.config.models.connections` field for field, minus the secret references: the
config layer resolves `password_secret_key` into a `SecretStr` and builds one of these. The password is
revealed only inside the methods that hand it to a driver, so reprs, logs and errors never show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Port = Annotated[int, Field(ge=1, le=65535)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostgresParams(_Params):
    """A PostgreSQL database."""

    type: Literal["postgres"] = "postgres"
    host: str = "localhost"
    port: Port = 5432
    database: str = Field(min_length=1)
    user: str | None = None
    password: SecretStr | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    connect_timeout: int = 10
    options: dict[str, str] = Field(default_factory=dict)

    def secrets(self) -> tuple[str | None, ...]:
        return (self.password.get_secret_value() if self.password else None,)

    def conninfo(self) -> str:
        """libpq key=value string (contains the password: pass it to a driver, never print it)."""
        from psycopg.conninfo import make_conninfo

        params: dict[str, str | int] = {"host": self.host, "port": self.port, "dbname": self.database}
        params["connect_timeout"] = self.connect_timeout
        if self.user:
            params["user"] = self.user
        if self.password:
            params["password"] = self.password.get_secret_value()
        if self.sslmode:
            params["sslmode"] = self.sslmode
        params.update(self.options)
        return make_conninfo("", **params)

    def uri(self) -> str:
        """postgresql:// URI for drivers that want one (ADBC); contains the password."""
        from urllib.parse import quote, urlencode

        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + quote(self.password.get_secret_value(), safe="")
            auth += "@"
        query: dict[str, str] = {"connect_timeout": str(self.connect_timeout), **self.options}
        if self.sslmode:
            query["sslmode"] = self.sslmode
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}{host}:{self.port}/{quote(self.database, safe='')}?{urlencode(query)}"

    def describe(self) -> str:
        """Where, without secrets, for messages."""
        return f"postgres {self.user + '@' if self.user else ''}{self.host}:{self.port}/{self.database}"

    def login(self) -> str:
        """Who logs in where, for an authentication failure's message."""
        return f"user '{self.user}' at {self.host}:{self.port}" if self.user else f"{self.host}:{self.port}"

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresParams:
        """Parse a libpq DSN or URI (tests, benchmarks, ad-hoc use)."""
        from psycopg.conninfo import conninfo_to_dict

        raw = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        known = {"host", "port", "dbname", "user", "password", "sslmode", "connect_timeout"}
        return cls(
            host=raw.get("host", "localhost"),
            port=int(raw.get("port", 5432)),
            database=raw.get("dbname", raw.get("user", "postgres")),
            user=raw.get("user"),
            password=SecretStr(raw["password"]) if raw.get("password") else None,
            sslmode=raw.get("sslmode"),  # type: ignore[arg-type]  # validated by pydantic
            connect_timeout=int(raw.get("connect_timeout", 10)),
            options={k: v for k, v in raw.items() if k not in known},
        )


class MysqlParams(_Params):
    """A MySQL or MariaDB database."""

    type: Literal["mysql"] = "mysql"
    host: str = "localhost"
    port: Port = 3306
    database: str = Field(min_length=1)
    user: str = "root"
    password: SecretStr | None = None
    charset: str = "utf8mb4"
    connect_timeout: int = 10

    def secrets(self) -> tuple[str | None, ...]:
        return (self.password.get_secret_value() if self.password else None,)

    def describe(self) -> str:
        return f"mysql {self.user}@{self.host}:{self.port}/{self.database}"

    def login(self) -> str:
        """Who logs in where, for an authentication failure's message."""
        return f"user '{self.user}' at {self.host}:{self.port}"


class SqliteParams(_Params):
    """A SQLite database file (opened read-only by the source)."""

    type: Literal["sqlite"] = "sqlite"
    database: Path

    def secrets(self) -> tuple[str | None, ...]:
        return ()

    def describe(self) -> str:
        return f"sqlite {self.database}"


class DuckDBParams(_Params):
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


SourceParams = Annotated[PostgresParams | MysqlParams | SqliteParams, Field(discriminator="type")]
DestinationParams = Annotated[PostgresParams | DuckDBParams, Field(discriminator="type")]
