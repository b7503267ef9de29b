"""Resolved parameters of a REST API source: what `RestSource` needs, with every credential a `SecretStr`.

They mirror `datakit.config.models.sources.RestApiSource` minus the secret references (the config layer
resolves `credentials_secret_key` & co. into `SecretStr`s), plus the options the config does not spell yet
(pagination, incremental query parameter, dependent resources, flattening), each with a default that
works for the common API shapes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- auth -------------------------------------------------------------------------------------------


class BearerAuthParams(_Params):
    """`Authorization: Bearer <token>`."""

    type: Literal["bearer"] = "bearer"
    token: SecretStr


class BasicAuthParams(_Params):
    """HTTP basic auth."""

    type: Literal["basic"] = "basic"
    username: str
    password: SecretStr


class ApiKeyAuthParams(_Params):
    """An API key in a header or a query parameter (masked in every URL datakit shows or logs)."""

    type: Literal["api_key"] = "api_key"
    name: str = "X-API-Key"
    location: Literal["header", "query"] = "header"
    key: SecretStr


class OAuth2ClientCredentialsParams(_Params):
    """OAuth2 client credentials grant: a token fetched from `token_url`, cached until it expires."""

    type: Literal["oauth2_client_credentials"] = "oauth2_client_credentials"
    token_url: str
    client_id: str
    client_secret: SecretStr
    scopes: list[str] = Field(default_factory=list)


AuthParams = Annotated[
    BearerAuthParams | BasicAuthParams | ApiKeyAuthParams | OAuth2ClientCredentialsParams,
    Field(discriminator="type"),
]


# --- pagination -------------------------------------------------------------------------------------


class AutoPaginator(_Params):
    """Detect the style from the first response (see `paginate.detect`)."""

    type: Literal["auto"] = "auto"


class SinglePage(_Params):
    """The endpoint returns everything in one response."""

    type: Literal["single_page"] = "single_page"


class PageNumberPaginator(_Params):
    """`?page=1,2,3...`; stops on an empty page, or after `total_path` pages when the body says so."""

    type: Literal["page_number"] = "page_number"
    page_param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = Field(None, ge=1)
    total_path: str | None = Field(None, description="Dotted path to the number of pages in the body.")


class OffsetPaginator(_Params):
    """`?offset=0&limit=100`; stops on a short page, or at `total_path` records when the body says so."""

    type: Literal["offset"] = "offset"
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1)
    total_path: str | None = Field(None, description="Dotted path to the number of records in the body.")


class CursorPaginator(_Params):
    """A cursor found in the body at `cursor_path`, sent back as `cursor_param`; stops when it is empty."""

    type: Literal["cursor"] = "cursor"
    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"


class NextUrlPaginator(_Params):
    """The URL of the next page found in the body at `next_url_path`; stops when it is empty."""

    type: Literal["next_url"] = "next_url"
    next_url_path: str = "next"


class LinkHeaderPaginator(_Params):
    """RFC 8288 `Link: <url>; rel="next"` (GitHub style); stops when the header has no such link."""

    type: Literal["link_header"] = "link_header"
    rel: str = "next"


PaginatorParams = Annotated[
    AutoPaginator
    | SinglePage
    | PageNumberPaginator
    | OffsetPaginator
    | CursorPaginator
    | NextUrlPaginator
    | LinkHeaderPaginator,
    Field(discriminator="type"),
]


# --- connection and resources -----------------------------------------------------------------------


class RetryParams(_Params):
    """Retries of 429, 5xx, timeouts and connection errors: exponential backoff with jitter.

    The n-th retry waits `backoff_factor * 2**(n-1)` seconds scaled by a random factor in [0.5, 1],
    capped at `max_delay`; a `Retry-After` header replaces that delay, capped at `max_retry_after`.
    """

    max_attempts: int = Field(3, ge=1, le=20)
    backoff_factor: float = Field(2.0, ge=0)
    max_delay: float = Field(60.0, ge=0)
    max_retry_after: float = Field(300.0, ge=0)


class RestResourceParams(_Params):
    """One endpoint whose JSON records become one table (plus child tables for nested lists)."""

    name: str = Field(min_length=1)
    endpoint: str = Field(min_length=1, description="Path below base_url; may hold {field} of the parent.")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: dict[str, object] | None = Field(None, description="JSON body of POST requests.")
    data_path: str | None = Field(None, description="Dotted path to the records, e.g. data.items.")
    paginator: PaginatorParams = Field(default_factory=AutoPaginator)
    max_pages: int = Field(10_000, ge=1, description="Stop with an error past this many pages.")
    primary_key: list[str] = Field(default_factory=list)
    cursor_field: str | None = Field(None, description="Incremental cursor column (from `incremental`).")
    initial_value: str | int | float | datetime | date | None = Field(
        None, description="Cursor lower bound of the first run."
    )
    cursor_param: str | None = Field(
        None, description="Query parameter that sends the cursor's lower bound (e.g. since)."
    )
    parent: str | None = Field(None, description="Resource whose records fill {field} in the endpoint.")
    child_tables: bool = Field(True, description="Lists become child tables; False: JSON text columns.")
    flatten: bool = Field(True, description="Nested objects become columns a__b; False: JSON text columns.")


class RestParams(_Params):
    """A REST API source."""

    type: Literal["rest_api"] = "rest_api"
    base_url: str
    auth: AuthParams | None = None
    timeout: float = Field(30.0, gt=0, description="Seconds per request (connect, read, write).")
    retry: RetryParams = Field(default_factory=RetryParams)
    headers: dict[str, str] = Field(default_factory=dict)
    resources: list[RestResourceParams] = Field(min_length=1)

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, for masking in messages and logs."""
        auth = self.auth
        if auth is None:
            return ()
        if isinstance(auth, BearerAuthParams):
            return (auth.token.get_secret_value(),)
        if isinstance(auth, BasicAuthParams):
            return (auth.password.get_secret_value(),)
        if isinstance(auth, ApiKeyAuthParams):
            return (auth.key.get_secret_value(),)
        return (auth.client_secret.get_secret_value(),)

    def describe(self) -> str:
        """Where, without secrets, for messages."""
        return f"rest_api {self.base_url}"
