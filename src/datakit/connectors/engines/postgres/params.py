"""Connection parameters of a PostgreSQL database (the source's and the destination's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr

from datakit.connectors.params import Params, Port

if TYPE_CHECKING:
    from datakit.config.models.connections import PostgresConnection
    from datakit.config.models.destinations import PostgresDestination
    from datakit.config.project import Project
    from datakit.config.secrets import Secrets


class PostgresParams(Params):
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

    def sqlalchemy_url(self) -> str:
        """A SQLAlchemy URL for reflection (contains the password: for SQLAlchemy only)."""
        return self.uri().replace("postgresql://", "postgresql+psycopg://", 1)

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


def from_config(config: PostgresDestination, project: Project, secrets: Secrets) -> PostgresParams:  # noqa: ARG001
    return postgres_params(config.connection, secrets)


def postgres_params(connection: PostgresConnection, secrets: Secrets) -> PostgresParams:
    """A PostgreSQL connection from config, its password resolved from the secrets mapping."""
    password = (
        secrets.resolve(connection.password_secret_key, user=connection.user)
        if connection.password_secret_key
        else None
    )
    return PostgresParams(
        host=connection.host,
        port=connection.port,
        database=connection.database,
        user=connection.user,
        password=password,
        sslmode=connection.sslmode,
        connect_timeout=connection.connect_timeout,
        options=dict(connection.options),
    )
