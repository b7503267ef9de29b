"""Config objects -> connector parameters: secrets resolved, relative paths made absolute.

A destination's parameters are its engine's (`engines/<type>/params.py`); the sources' are built here.

The one place where a `password_secret_key` becomes a password: `Secrets.resolve` gives a `SecretStr`
that the parameters keep as one, so nothing here or downstream can print it by accident.
"""

from __future__ import annotations

from datakit.config.models.connections import MysqlConnection
from datakit.config.models.sources import (
    FilesSource,
    MysqlSource,
    PostgresSource,
    RestApiSource,
    SqliteSource,
)
from datakit.config.project import Project
from datakit.config.secrets import Secrets
from datakit.connectors.base import Destination
from datakit.connectors.engines import open_destination, params_from_config
from datakit.connectors.engines.postgres.params import PostgresParams, postgres_params
from datakit.connectors.files.params import FilesParams
from datakit.connectors.params import MysqlParams, Params, SqliteParams
from datakit.connectors.rest.params import RestParams

__all__ = [
    "SourceParams",
    "SqlSourceParams",
    "destination_params",
    "open_destination_named",
    "postgres_params",  # the state store's, when it lives in PostgreSQL
    "project_secrets",
    "source_params",
]

SqlSourceParams = PostgresParams | MysqlParams | SqliteParams
SourceParams = SqlSourceParams | RestParams | FilesParams


def project_secrets(project: Project) -> Secrets:
    """The secrets of the project's current environment, read by their providers (by default from the
    process environment)."""
    from datakit.config.secrets import project_providers

    return Secrets(
        mapping=project.secrets, environment=project.environment, providers=project_providers(project)
    )


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


def destination_params(project: Project, name: str, secrets: Secrets | None = None) -> Params:
    """Connection parameters of the destination `name`, as its engine builds them from the config."""
    params: Params = params_from_config(
        project.destination(name), project, secrets or project_secrets(project)
    )
    return params


def open_destination_named(project: Project, name: str, secrets: Secrets | None = None) -> Destination:
    """The destination `name` of the project, ready to open transactions and sessions on."""
    return open_destination(destination_params(project, name, secrets))


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
