"""`datakit.yaml` — the project file: name, default environment, paths, state store, notification settings,
run-history retention."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from datakit.config.models.airflow import AirflowProject
from datakit.config.models.common import Name, SecretRef, StrictModel
from datakit.config.models.connections import PostgresConnection
from datakit.config.models.retention import Retention, StepLogs
from datakit.config.models.secrets import SecretsSettings

DatakitName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Environment = Literal["dev", "stage", "prod"]


class Paths(StrictModel):
    config: str = "config"
    datakits: str = "datakits"
    transform: str = "transform"


class SqliteState(StrictModel):
    type: Literal["sqlite"]
    path: str = ".datakit/state.db"


class PostgresState(StrictModel):
    type: Literal["postgres"]
    connection: PostgresConnection
    schema_: str = Field("datakit_state", alias="schema")


StateStore = Annotated[SqliteState | PostgresState, Field(discriminator="type")]


class EmailSettings(StrictModel):
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password_secret_key: SecretRef | None = None
    starttls: bool = False


class WebhookSettings(StrictModel):
    url_secret_key: SecretRef


class NotificationSettings(StrictModel):
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None


SourceTests = Literal["none", "keys", "all"]


class DbtSettings(StrictModel):
    """How datakit writes what dbt reads."""

    source_tests: SourceTests = Field(
        "none",
        description="Tests datakit adds to the generated dbt sources: none (default: the loader already "
        "enforced the contracts on every row), keys (not_null and unique on single-column keys) or all "
        "(also not_null on every NOT NULL column).",
    )


class OpenLineageHttp(StrictModel):
    """Events POSTed to an OpenLineage endpoint (Marquez, DataHub, OpenMetadata, ...)."""

    type: Literal["http"]
    url: str = Field(min_length=1, description="Base URL of the receiver, e.g. http://localhost:5000.")
    endpoint: str = Field("api/v1/lineage", description="Path of the lineage endpoint under `url`.")
    timeout: Annotated[float, Field(gt=0)] = Field(5.0, description="Seconds to wait for the receiver.")
    api_key_secret_key: SecretRef | None = Field(None, description="Secret sent as `Authorization: Bearer`.")


class OpenLineageFile(StrictModel):
    """Events appended to a file, one JSON object per line."""

    type: Literal["file"]
    path: str = Field(min_length=1, description="The file, relative to the project root.")


class OpenLineageConsole(StrictModel):
    """Events logged (datakit's log, at INFO)."""

    type: Literal["console"]


OpenLineageTransport = Annotated[
    OpenLineageHttp | OpenLineageFile | OpenLineageConsole, Field(discriminator="type")
]


class OpenLineageSettings(StrictModel):
    """OpenLineage run events of every step a job runs (needs `pip install 'datakit[openlineage]'`)."""

    enabled: bool = True
    namespace: str | None = Field(None, description="The jobs' namespace (default: the project's name).")
    transport: OpenLineageTransport


def _specifier(text: str) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(
            f"{text!r} is not a version specifier (write it as pip does: '>=1.2,<2', '==1.2.0', '~=1.2')"
        ) from None
    return text


VersionSpecifier = Annotated[str, AfterValidator(_specifier)]


class DatakitPin(StrictModel):
    """An installed datakit the project uses: the versions it accepts, and the package that brings it."""

    version: VersionSpecifier = Field(description="Accepted versions, as pip writes them: '>=1.2,<2'.")
    package: str | None = Field(
        None, description="The distribution providing it (for the install hint), e.g. pagila-datakit."
    )


class ServeUser(StrictModel):
    """Someone who may log in to `datakit serve`'s pages and act there (start, cancel, pause...)."""

    name: Name = Field(description="The login name; the audit log names each action's user by it.")
    secret_key: SecretRef = Field(description="The user's password or token (a secrets mapping key).")


class ServeSettings(StrictModel):
    """`datakit serve`: who may act on its status pages."""

    users: list[ServeUser] = Field(
        default_factory=list,
        description="The users who may log in. Without any, the pages are read-only (unless --auth none).",
    )
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = Field(12.0, description="Hours a login lasts.")


class ProjectConfig(StrictModel):
    name: Name
    description: str | None = None
    version: Literal[1] = Field(1, description="Version of the config format.")
    default_environment: Environment = "dev"
    paths: Paths = Field(default_factory=Paths)
    state: StateStore = Field(default_factory=lambda: SqliteState(type="sqlite"))
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    dbt: DbtSettings = Field(default_factory=DbtSettings)
    airflow: AirflowProject = Field(
        default_factory=AirflowProject, description="Pools, priority and queue of the compiled Airflow DAGs."
    )
    serve: ServeSettings = Field(default_factory=ServeSettings)
    datakits: dict[DatakitName, VersionSpecifier | DatakitPin] = Field(
        default_factory=dict,
        description="Installed datakits (packages with a `datakit.datakits` entry point) the project uses, "
        "each pinned: `pagila: '>=1.2,<2'` or `pagila: {version: '>=1.2,<2', package: pagila-datakit}`. "
        "Datakits in the project's datakits/ folder need no pin.",
    )
    openlineage: OpenLineageSettings | None = Field(
        None, description="OpenLineage events of each step run (START / COMPLETE / FAIL); off when absent."
    )
    secrets: SecretsSettings = Field(
        default_factory=SecretsSettings,
        description="Where secret values are read by default: env (the default), dotenv, airflow.",
    )
    retention: Retention = Field(
        default_factory=Retention,
        description="How much run history the state store keeps (runs, their steps, attempts and logs).",
    )
    step_logs: StepLogs = Field(default_factory=StepLogs, description="How much of each step's log is kept.")


def pin_of(value: str | DatakitPin) -> DatakitPin:
    """A pin as its long form."""
    return value if isinstance(value, DatakitPin) else DatakitPin(version=value)
