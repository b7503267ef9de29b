"""Resolved connection parameters: what a connector needs to connect, with the password kept secret.

These mirror `datakit.config.models.connections` field for field, minus the secret references: the
config layer resolves `password_secret_key` into a `SecretStr` and builds one of these. The password is
revealed only inside the methods that hand it to a driver, so reprs, logs and errors never show it.
Each destination engine keeps its own in its folder (`engines/<name>/params.py`); the MySQL and
SQLite sources' are here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Port = Annotated[int, Field(ge=1, le=65535)]


class Params(BaseModel):
    """Base of every connection's parameters: strict and immutable, `type` naming the connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str

    def secrets(self) -> tuple[str | None, ...]:
        """The values to mask wherever the connection's errors are shown."""
        return ()

    def describe(self) -> str:
        """Where, without secrets, for messages."""
        return self.type


class MysqlParams(Params):
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

    def sqlalchemy_url(self) -> str:
        """A SQLAlchemy URL for reflection (contains the password: for SQLAlchemy only)."""
        from urllib.parse import quote

        password = ":" + quote(self.password.get_secret_value(), safe="") if self.password else ""
        return (
            f"mysql+pymysql://{quote(self.user, safe='')}{password}@{self.host}:{self.port}/"
            f"{quote(self.database, safe='')}?charset={self.charset}"
        )

    def login(self) -> str:
        """Who logs in where, for an authentication failure's message."""
        return f"user '{self.user}' at {self.host}:{self.port}"


class SqliteParams(Params):
    """A SQLite database file (opened read-only by the source)."""

    type: Literal["sqlite"] = "sqlite"
    database: Path

    def secrets(self) -> tuple[str | None, ...]:
        return ()

    def describe(self) -> str:
        return f"sqlite {self.database}"

    def sqlalchemy_url(self) -> str:
        """A SQLAlchemy URL for reflection."""
        return f"sqlite:///{Path(self.database).resolve()}"
