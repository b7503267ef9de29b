"""REST API and files sources in the config -> `RestParams` / `FilesParams` for the connectors.

The config models and the connector parameters are kept apart on purpose (the config layer may not
import connectors): this module is the one translation between them. Credentials come from the secrets
mapping only, as `SecretStr`s; a files source's `base_path` is made absolute from the project root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from datakit.config.models.sources import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    FilesSource,
    RestApiSource,
    RestResource,
)
from datakit.config.secrets import Secrets
from datakit.connectors.files.params import CsvParams, FileResourceParams, FilesParams
from datakit.connectors.rest.params import (
    ApiKeyAuthParams,
    AuthParams,
    BasicAuthParams,
    BearerAuthParams,
    OAuth2ClientCredentialsParams,
    RestParams,
    RestResourceParams,
    RetryParams,
)
from datakit.errors import DatakitError


def rest_params(source: RestApiSource, secrets: Secrets) -> RestParams:
    """Connector parameters of a REST API source, every credential resolved from the secrets mapping."""
    connection = source.connection
    retry = connection.retry
    return RestParams(
        base_url=str(connection.base_url).rstrip("/"),
        auth=_auth(source, secrets),
        timeout=connection.timeout.total_seconds(),
        retry=RetryParams(
            max_attempts=retry.max_attempts,
            backoff_factor=retry.backoff_factor,
            max_delay=retry.max_delay.total_seconds(),
            max_retry_after=retry.max_retry_after.total_seconds(),
        ),
        headers=dict(connection.headers),
        resources=[_rest_resource(resource) for resource in source.resources],
    )


def files_params(source: FilesSource, root: Path) -> FilesParams:
    """Connector parameters of a files source; `base_path` made absolute from the project `root`."""
    base = Path(source.base_path).expanduser()
    return FilesParams(
        base_path=base if base.is_absolute() else root / base,
        resources=[
            FileResourceParams(
                name=resource.name,
                path=resource.path,
                format=resource.format,
                csv=CsvParams(**resource.csv.model_dump()) if resource.csv is not None else CsvParams(),
            )
            for resource in source.resources
        ],
    )


def _rest_resource(resource: RestResource) -> RestResourceParams:
    incremental = resource.incremental if resource.incremental and resource.incremental.enabled else None
    fields: dict[str, Any] = {
        "name": resource.name,
        "endpoint": resource.endpoint,
        "method": resource.method,
        "params": dict(resource.params),
        "json_body": resource.json_body,
        "data_path": resource.data_path,
        "paginator": resource.paginator.model_dump(),
        "max_pages": resource.max_pages,
        "primary_key": list(resource.primary_key),
        "parent": resource.parent,
        "child_tables": resource.child_tables,
        "flatten": resource.flatten,
    }
    if incremental is not None:
        fields |= {
            "cursor_field": incremental.cursor_field,
            "initial_value": incremental.initial_value,
            "cursor_param": incremental.param,
        }
    return RestResourceParams.model_validate(fields)


def _auth(source: RestApiSource, secrets: Secrets) -> AuthParams | None:
    auth = source.connection.auth
    if auth is None:
        return None

    def secret(reference: str) -> SecretStr:
        value = secrets.resolve(reference)
        if value is None:
            raise DatakitError(
                f"source {source.name!r}: the {auth.type} credentials (secret {reference!r}) are not set",
                hint="set the secret's environment variable (see config/secrets_mapping.yaml)",
            )
        return value

    if isinstance(auth, BearerAuth):
        return BearerAuthParams(token=secret(auth.credentials_secret_key))
    if isinstance(auth, BasicAuth):
        return BasicAuthParams(username=auth.username, password=secret(auth.password_secret_key))
    if isinstance(auth, ApiKeyAuth):
        return ApiKeyAuthParams(
            name=auth.name, location=auth.location, key=secret(auth.credentials_secret_key)
        )
    return OAuth2ClientCredentialsParams(
        token_url=str(auth.token_url),
        client_id=auth.client_id,
        client_secret=secret(auth.client_secret_key),
        scopes=list(auth.scopes),
    )
