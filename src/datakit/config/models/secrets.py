"""`secrets_mapping.yaml` — secret key -> where its value is kept (seed 002 format, extended).

By default a secret is an environment variable per environment (`env_var_dev`/`_stage`/`_prod`, or
`env_var` for all). A secret may instead be read by another provider (`provider:`; the project's default
is `secrets.provider` in datakit.yaml): `dotenv` reads the same variable names from a `.env` file,
`airflow` reads an Airflow Connection's field or an Airflow Variable (`airflow:`).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from datakit.config.models.common import SUGGESTED, StrictModel

ENVIRONMENTS = ("dev", "stage", "prod")

ProviderName = Literal["env", "dotenv", "airflow"]
"""Where secret values are read: the process environment (the default), a `.env` file, Airflow."""

ConnectionField = Literal["password", "login", "host", "port", "schema", "uri", "extra"]


class AirflowSecret(StrictModel):
    """Which Airflow Connection field or Variable holds the secret (provider `airflow`)."""

    connection: str | None = Field(None, min_length=1, description="An Airflow Connection's id.")
    field: ConnectionField = Field(
        "password",
        description="The connection's field: password (default), login, host, port, schema, "
        "uri (the whole connection as a URI) or extra (one key of its extra JSON, named by `extra_key`).",
    )
    extra_key: str | None = Field(None, min_length=1, description="With field: extra, the key to read.")
    variable: str | None = Field(None, min_length=1, description="An Airflow Variable's key.")

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if (self.connection is None) == (self.variable is None):
            raise PydanticCustomError(
                SUGGESTED,
                "name either an Airflow connection or an Airflow variable",
                {"suggestion": "write `connection: <conn id>` (and `field:`) or `variable: <key>`"},
            )
        if self.variable is not None and "field" in self.model_fields_set:
            raise PydanticCustomError(
                SUGGESTED,
                "`field` belongs to a connection",
                {"suggestion": "remove `field`, or use `connection:`"},
            )
        if (self.field == "extra") != (self.extra_key is not None):
            raise PydanticCustomError(
                SUGGESTED,
                "`extra_key` goes with `field: extra`",
                {"suggestion": "write both `field: extra` and `extra_key: <key>`, or neither"},
            )
        return self


class SecretSpec(StrictModel):
    env_var_dev: str | None = None
    env_var_stage: str | None = None
    env_var_prod: str | None = None
    env_var: str | None = Field(None, description="Variable used in every environment without its own.")
    description: str | None = None
    required: bool = True
    provider: ProviderName | None = Field(
        None, description="Where the value is read (default: datakit.yaml `secrets.provider`, else env)."
    )
    airflow: AirflowSecret | None = Field(
        None,
        description="For provider airflow: the Connection field or Variable (default: the Variable "
        "named like this secret's key).",
    )

    def env_var_for(self, environment: str) -> str | None:
        """The variable that holds this secret in `environment`."""
        specific: str | None = getattr(self, f"env_var_{environment}", None)
        return specific or self.env_var


class SecretsSettings(StrictModel):
    """The project's default secrets provider (datakit.yaml `secrets:`)."""

    provider: ProviderName = Field(
        "env", description="Where secrets without a `provider:` of their own are read (default env)."
    )
    dotenv: str = Field(
        ".env", min_length=1, description="The .env file of provider dotenv (project-relative)."
    )
