"""`source:` files — where data comes from. One class per `type:`, joined in a discriminated union."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BeforeValidator, Field, model_validator

from datakit.config.models.common import (
    Description,
    Duration,
    Name,
    SecretRef,
    StrictModel,
    Tags,
    parse_duration,
)
from datakit.config.models.connections import FileDatabase, MysqlConnection, PostgresConnection
from datakit.config.models.paginators import AutoPaginator, Paginator

WriteDisposition = Literal["append", "replace", "merge"]


def _lag(value: object) -> object:
    """A string is a duration (`5m`, for time cursors); a number stays a number (for numeric cursors)."""
    return parse_duration(value) if isinstance(value, str) else value


Lag = Annotated[
    timedelta | int | float,
    BeforeValidator(_lag),
    Field(
        description=(
            "Re-read this far behind the saved cursor to catch late-arriving rows: a duration (`10m`) "
            "for time cursors, a number for numeric cursors. Rows re-read are merged, not duplicated."
        )
    ),
]


class Incremental(StrictModel):
    """Load only rows whose cursor is past the last saved cursor value."""

    enabled: bool = True
    cursor_field: str = Field(min_length=1, description="Column whose value only grows (e.g. updated_at).")
    initial_value: str | int | float | datetime | date | None = Field(
        None, description="Cursor value to start from on the first run."
    )
    lag: Lag | None = None


class Resource(StrictModel):
    """What every resource (table, endpoint, file set) declares about how it lands."""

    name: Name
    description: Description
    primary_key: list[str] = Field(default_factory=list)
    write_disposition: WriteDisposition = "append"
    incremental: Incremental | None = None
    contract: str | None = Field(
        None,
        min_length=1,
        description="Table of the pipeline's datakit whose contract this resource loads into; "
        "defaults to the resource name.",
    )
    transform: str | None = Field(
        None,
        min_length=1,
        description="Name of a typed row transform registered in the pipeline's datakit (@transform).",
    )


class SqlResource(Resource):
    """A table (or query) of a SQL database."""

    table: str | None = Field(None, description="Table to read; defaults to the resource name.")
    schema_: str | None = Field(
        None, alias="schema", description="Schema of the table; defaults to the source's."
    )
    query: str | None = Field(None, description="A SELECT to read instead of a table.")
    columns: list[str] | dict[str, str] | None = Field(
        None,
        description="A list: the columns to read (default all). A mapping: column -> SQL expression "
        "over the source row (e.g. `email: lower(email)`), replacing the column of that name or adding "
        "one; the other columns pass through. Run by DuckDB on each Arrow batch: the vectorized "
        "alternative to a row transform.",
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlResource:
        if self.query is not None and (self.table is not None or self.schema_ is not None):
            raise ValueError("give either `query` or `table`/`schema`, not both")
        if isinstance(self.columns, dict) and self.transform is not None:
            raise ValueError("give either `transform` or column expressions in `columns`, not both")
        return self

    @property
    def expressions(self) -> dict[str, str] | None:
        """The SQL column expressions, when `columns` is a mapping."""
        return self.columns if isinstance(self.columns, dict) else None

    @property
    def read_columns(self) -> list[str] | None:
        """The columns to read, when `columns` is a list."""
        return self.columns if isinstance(self.columns, list) else None


class SourceBase(StrictModel):
    name: Name
    description: Description
    tags: Tags

    @property
    def default_schema(self) -> str | None:
        """The schema of a resource that names none (None: the source has no schemas of its own)."""
        return None


class PostgresSource(SourceBase):
    """A PostgreSQL database."""

    type: Literal["postgres"]
    connection: PostgresConnection
    schema_: str = Field("public", alias="schema", description="Default schema of the resources.")
    resources: list[SqlResource] = Field(min_length=1)

    @property
    def default_schema(self) -> str | None:
        """The schema of a resource that names none."""
        return self.schema_


class SqliteSource(SourceBase):
    """A SQLite database file."""

    type: Literal["sqlite"]
    connection: FileDatabase
    resources: list[SqlResource] = Field(min_length=1)


class MysqlSource(SourceBase):
    """A MySQL or MariaDB database."""

    type: Literal["mysql"]
    connection: MysqlConnection
    resources: list[SqlResource] = Field(min_length=1)

    @property
    def default_schema(self) -> str | None:
        """The database: MySQL's schemas are its databases."""
        return self.connection.database


class BearerAuth(StrictModel):
    type: Literal["bearer"]
    credentials_secret_key: SecretRef


class BasicAuth(StrictModel):
    type: Literal["basic"]
    username: str
    password_secret_key: SecretRef


class ApiKeyAuth(StrictModel):
    type: Literal["api_key"]
    name: str = Field("X-API-Key", description="Header or query parameter that carries the key.")
    location: Literal["header", "query"] = "header"
    credentials_secret_key: SecretRef


class OAuth2ClientCredentials(StrictModel):
    type: Literal["oauth2_client_credentials"]
    token_url: AnyHttpUrl
    client_id: str
    client_secret_key: SecretRef
    scopes: list[str] = Field(default_factory=list)


Auth = Annotated[
    BearerAuth | BasicAuth | ApiKeyAuth | OAuth2ClientCredentials,
    Field(discriminator="type"),
]


class HttpRetry(StrictModel):
    """Retries of 429, 5xx, timeouts and connection errors: exponential backoff with jitter."""

    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    backoff_factor: Annotated[float, Field(ge=0)] = 2.0
    max_delay: Duration = Field(
        timedelta(seconds=60), description="Longest wait between two attempts (backoff is capped here)."
    )
    max_retry_after: Duration = Field(
        timedelta(minutes=5), description="Longest `Retry-After` honoured; a longer one is capped to this."
    )


class RestConnection(StrictModel):
    base_url: AnyHttpUrl
    auth: Auth | None = None
    timeout: Duration = timedelta(seconds=30)
    retry: HttpRetry = Field(default_factory=HttpRetry)
    headers: dict[str, str] = Field(default_factory=dict)


class RestIncremental(Incremental):
    """`incremental` of a REST resource: also says which query parameter carries the lower bound."""

    param: str | None = Field(
        None,
        min_length=1,
        description="Query parameter that sends the saved cursor to the API (e.g. `since`); without it "
        "every page is fetched and old records are dropped client side.",
    )


class RestResource(Resource):
    """An endpoint returning JSON records."""

    endpoint: str = Field(
        min_length=1, description="Path below base_url, e.g. /users; a dependent one may hold {field}."
    )
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: dict[str, object] | None = Field(None, description="JSON body of POST requests.")
    data_path: str | None = Field(
        None, description="Dotted path to the records in the JSON, e.g. data.items."
    )
    paginator: Paginator = Field(default_factory=AutoPaginator)
    max_pages: Annotated[int, Field(ge=1)] = Field(
        10_000, description="Stop with an error past this many pages (a pager that never ends)."
    )
    incremental: RestIncremental | None = None
    parent: str | None = Field(
        None,
        min_length=1,
        description="Resource of the same source whose records fill {field} in this endpoint "
        "(e.g. /users/{id}/orders); rows carry the value as `_dk_parent__<field>`.",
    )
    child_tables: bool = Field(
        False,
        description="Lists as child tables `<target>__<column>` (lists in their elements as "
        "`<target>__<column>__<field>`, recursively) linked by `_dk_parent__<key>` and `_dk_list_idx` "
        "(needs a primary_key), loaded with the parent; false: lists are JSON text columns.",
    )
    flatten: bool = Field(
        True,
        description="Nested objects as columns named by their path (`user__address__city`); false: "
        "each top-level object is one column of JSON text.",
    )


class RestApiSource(SourceBase):
    """An HTTP API returning JSON."""

    type: Literal["rest_api"]
    connection: RestConnection
    resources: list[RestResource] = Field(min_length=1)


class CsvOptions(StrictModel):
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    header: bool = True
    encoding: str = "utf-8"
    quote: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    column_names: list[str] | None = Field(
        None, description="Names of the columns when the file has no header (default f0, f1, ...)."
    )
    null_values: list[str] = Field(default_factory=lambda: [""], description="Texts read as null.")

    @model_validator(mode="after")
    def _names_need_no_header(self) -> CsvOptions:
        if self.column_names is not None and self.header:
            raise ValueError("column_names apply to files without a header: set `header: false`")
        return self


class FileResource(Resource):
    """A set of files matched by a path or glob (relative to the source's base_path)."""

    path: str = Field(min_length=1, description="File path or glob, e.g. exports/*.csv.")
    format: Literal["csv", "parquet", "jsonl"]
    csv: CsvOptions | None = None


class FilesSource(SourceBase):
    """Local files: CSV, Parquet, JSON Lines."""

    type: Literal["files"]
    base_path: str = Field(
        ".", description="Folder the resource paths are relative to (from the project root)."
    )
    resources: list[FileResource] = Field(min_length=1)


Source = Annotated[
    PostgresSource | SqliteSource | MysqlSource | RestApiSource | FilesSource,
    Field(discriminator="type"),
]
