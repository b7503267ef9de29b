"""Authentication of REST requests as `httpx.Auth` flows, so httpx applies them to every request.

Credentials stay `SecretStr` until the flow puts them on a request. OAuth2 client credentials fetch a
token through the same flow (httpx sends the token request on the same client), cache it until shortly
before `expires_in`, and fetch a new one once when the API answers 401 to a cached token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx

from datakit.connectors.rest.errors import RestError, RestUnavailable
from datakit.connectors.rest.params import (
    ApiKeyAuthParams,
    AuthParams,
    BasicAuthParams,
    BearerAuthParams,
    OAuth2ClientCredentialsParams,
)

if TYPE_CHECKING:
    from datakit.connectors.rest.redact import SecretSet

_EXPIRY_LEEWAY_S = 30.0
_UNAUTHORIZED = 401
_TOO_MANY = 429
_CLIENT_ERROR = 400
_SERVER_ERROR = 500


class BearerAuth(httpx.Auth):
    """A static bearer token."""

    def __init__(self, params: BearerAuthParams) -> None:
        self._params = params

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._params.token.get_secret_value()}"
        yield request


class ApiKeyAuth(httpx.Auth):
    """An API key in a header or in the query string."""

    def __init__(self, params: ApiKeyAuthParams) -> None:
        self._params = params

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key = self._params.key.get_secret_value()
        if self._params.location == "header":
            request.headers[self._params.name] = key
        else:
            request.url = request.url.copy_set_param(self._params.name, key)
        yield request


class OAuth2ClientCredentials(httpx.Auth):
    """OAuth2 client credentials grant with a cached, refreshed access token."""

    requires_response_body = True

    def __init__(self, params: OAuth2ClientCredentialsParams, secrets: SecretSet) -> None:
        self._params = params
        self._secrets = secrets
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid_token()
        if token is None:
            token = yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == _UNAUTHORIZED:  # revoked or expired early: one fresh token, once
            with self._lock:
                self._token = None
            token = yield from self._fetch()
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _valid_token(self) -> str | None:
        with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            return None

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        data = {"grant_type": "client_credentials"}
        if self._params.scopes:
            data["scope"] = " ".join(self._params.scopes)
        token_request = httpx.Request(
            "POST",
            self._params.token_url,
            data=data,
            headers={"Accept": "application/json"},
        )
        basic = httpx.BasicAuth(self._params.client_id, self._params.client_secret.get_secret_value())
        token_request = next(basic.auth_flow(token_request))
        response = yield token_request
        response.read()
        shown = self._secrets.url(self._params.token_url)
        if response.status_code == _TOO_MANY or response.status_code >= _SERVER_ERROR:
            raise RestUnavailable(
                f"OAuth2 token request to {shown} failed with HTTP {response.status_code}",
                status=response.status_code,
                url=shown,
            )
        if response.status_code >= _CLIENT_ERROR:
            raise RestError(
                f"OAuth2 token request to {self._secrets.url(self._params.token_url)} failed "
                f"with HTTP {response.status_code}: {self._secrets.text(response.text[:300])}",
                status=response.status_code,
                url=self._secrets.url(self._params.token_url),
                hint="check client_id and the client secret",
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise RestError(
                f"OAuth2 token response from {self._secrets.url(self._params.token_url)} "
                f"has no access_token ({type(exc).__name__})",
                url=self._secrets.url(self._params.token_url),
            ) from None
        self._secrets.add(token)
        with self._lock:
            self._token = token
            self._expires_at = time.monotonic() + max(0.0, expires_in - _EXPIRY_LEEWAY_S)
        return token


def build_auth(params: AuthParams | None, secrets: SecretSet) -> httpx.Auth | None:
    """The httpx auth flow for `params` (None: no authentication)."""
    if params is None:
        return None
    if isinstance(params, BearerAuthParams):
        return BearerAuth(params)
    if isinstance(params, BasicAuthParams):
        return httpx.BasicAuth(params.username, params.password.get_secret_value())
    if isinstance(params, ApiKeyAuthParams):
        return ApiKeyAuth(params)
    return OAuth2ClientCredentials(params, secrets)
