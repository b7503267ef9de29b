"""Config objects -> connector parameters: secrets resolved, relative paths made absolute.

The one place where a `password_secret_key` becomes a password: `Secrets.resolve` gives a `SecretStr`
that the parameters keep as one, so nothing here or downstream can print it by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datakit.config.models.connections import MysqlConnection, PostgresConnection
from datakit.config.models.destinations import DuckDBDestination, PostgresDestination
from datakit.config.models.sources import (
    FilesSource,
    MysqlSource,
    PostgresSource,
    RestApiSource,
    SqliteSource,
)
from datakit.config.project import Project
from datakit.config.secrets import Secrets
from datakit.connectors.errors import translate
from datakit.connectors.files.params import FilesParams
from datakit.connectors.params import DuckDBParams, MysqlParams, PostgresParams, SqliteParams
from datakit.connectors.rest.params import RestParams
from datakit.errors import DatakitError

MEMORY = ":memory:"

SqlSourceParams = PostgresParams | MysqlParams | SqliteParams
SourceParams = SqlSourceParams | RestParams | FilesParams
DestinationParams = PostgresParams | DuckDBParams


def project_secrets(project: Project) -> Secrets:
    """The secrets of the project's current environment, read from the process environment."""
    return Secrets(mapping=project.secrets, environment=project.environment)


def source_params(project: Project, name: str, secrets: Secrets | None = None) -> SourceParams:
    """Connection parameters of the source `name` (a name or a `x.yaml` file reference)."""
    source = project.source(name)
    secrets = secrets or project_secrets(project)
    if isinstance(source, PostgresSource):
        return postgres_params(source.connection, secrets)
    if isinstance(source, MysqlSource):
        return _mysql(source.connection, secrets)
    if isinstance(source, SqliteSource):
        return SqliteParams(database=project.path(source.connection.database))
    from datakit.connectors.from_config_rest import files_params, rest_params

    if isinstance(source, RestApiSource):
        return rest_params(source, secrets)
    assert isinstance(source, FilesSource)
    return files_params(source, project.root)


def destination_params(project: Project, name: str, secrets: Secrets | None = None) -> DestinationParams:
    """Connection parameters of the destination `name`; a DuckDB path is relative to the project root."""
    destination = project.destination(name)
    if isinstance(destination, PostgresDestination):
        return postgres_params(destination.connection, secrets or project_secrets(project))
    assert isinstance(destination, DuckDBDestination)
    database = destination.connection.database
    if database != MEMORY:
        path = project.path(database)
        path.parent.mkdir(parents=True, exist_ok=True)
        database = str(path)
    return DuckDBParams(database=database, destination=name)


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


def _mysql(connection: MysqlConnection, secrets: Secrets) -> MysqlParams:
    password = (
        secrets.resolve(connection.password_secret_key, user=connection.user)
        if connection.password_secret_key
        else None
    )
    return MysqlParams(
        host=connection.host,
        port=connection.port,
        database=connection.database,
        user=connection.user,
        password=password,
        charset=connection.charset,
        connect_timeout=connection.connect_timeout,
    )


def sqlalchemy_url(params: SqlSourceParams | DestinationParams) -> str:
    """A SQLAlchemy URL for reflection (contains the password: hand it to SQLAlchemy, never print it)."""
    if isinstance(params, PostgresParams):
        return params.uri().replace("postgresql://", "postgresql+psycopg://", 1)
    if isinstance(params, MysqlParams):
        from urllib.parse import quote

        password = ":" + quote(params.password.get_secret_value(), safe="") if params.password else ""
        return (
            f"mysql+pymysql://{quote(params.user, safe='')}{password}@{params.host}:{params.port}/"
            f"{quote(params.database, safe='')}?charset={params.charset}"
        )
    if isinstance(params, SqliteParams):
        return f"sqlite:///{Path(params.database).resolve()}"
    raise DatakitError(f"cannot reflect a {params.type} database through SQLAlchemy")


@contextmanager
def reflection_errors(params: SqlSourceParams | DestinationParams, action: str) -> Iterator[None]:
    """Errors of a reflection through `sqlalchemy_url` as the connector's own (a refused login says so)."""
    import sqlalchemy.exc

    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        login = params.login() if isinstance(params, PostgresParams | MysqlParams) else None
        raise translate(exc.orig or exc, action, secrets=params.secrets(), login=login) from None
