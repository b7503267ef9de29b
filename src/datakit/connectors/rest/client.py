"""The HTTP client of REST sources: httpx plus retries, with errors that never show a credential.

Retried: 429, 5xx, timeouts and connection errors, with exponential backoff and jitter, or the server's
`Retry-After` when it sends one (capped, so a hostile header cannot stall a load). Every other 4xx fails
at once: retrying a bad request or a refused credential only hammers the API.
"""

from __future__ import annotations

import functools
import random
import ssl
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from datakit.connectors.rest.auth import build_auth
from datakit.connectors.rest.errors import RestError, RestUnavailable
from datakit.connectors.rest.params import ApiKeyAuthParams, BasicAuthParams, RestParams, RetryParams
from datakit.connectors.rest.redact import SecretSet
from datakit.log import get_logger, register_secret

log = get_logger("datakit.connectors.rest")

_TOO_MANY = 429
_SERVER_ERROR = 500
_CLIENT_ERROR = 400
_SNIPPET = 300
Sleep = Callable[[float], None]


class Credentials:
    """The auth flow and the values to mask of one source, kept across reads (OAuth2 tokens stay cached)."""

    def __init__(self, params: RestParams) -> None:
        auth = params.auth
        query = [auth.name] if isinstance(auth, ApiKeyAuthParams) and auth.location == "query" else []
        if isinstance(auth, BasicAuthParams):  # an API echoing the Authorization header shows its forms
            register_secret(auth.password.get_secret_value(), user=auth.username)
        self.secrets = SecretSet(params.secrets(), query)
        self.auth = build_auth(auth, self.secrets)


class RestClient:
    """One httpx client (connection pool, auth, timeouts) with the retry policy of a source."""

    def __init__(
        self, params: RestParams, *, sleep: Sleep = time.sleep, credentials: Credentials | None = None
    ) -> None:
        credentials = credentials or Credentials(params)
        self.secrets = credentials.secrets
        self.retry = params.retry
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=params.base_url,
            auth=credentials.auth,
            timeout=params.timeout,
            headers={"Accept": "application/json", **params.headers},
            follow_redirects=True,
            verify=_ssl_context(),
        )

    @property
    def base_url(self) -> httpx.URL:
        return self._client.base_url

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """The response of a successful request (2xx/3xx), after retries of transient failures.

        Errors name the URL as it was sent (auth in the query string included), credentials masked.
        """
        planned = self._client.build_request(method, url, params=params).url
        shown = self.secrets.url(str(planned))
        attempts = self.retry.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.request(method, url, params=params, json=json)
            except httpx.TimeoutException as exc:
                shown = self._sent(exc, shown)
                problem, status, retry_after = f"timed out ({type(exc).__name__})", None, None
            except httpx.TransportError as exc:
                shown = self._sent(exc, shown)
                reason = self.secrets.text(str(exc)) or type(exc).__name__
                problem, status, retry_after = f"connection failed: {reason}", None, None
            except RestUnavailable as exc:  # the OAuth2 token endpoint is busy or down
                problem, status, retry_after = exc.message, exc.status, None
            else:
                shown = self.secrets.url(str(response.request.url))
                status = response.status_code
                if status < _CLIENT_ERROR:
                    return response
                if status != _TOO_MANY and status < _SERVER_ERROR:
                    raise self._refused(method, shown, response)
                problem, retry_after = f"HTTP {status}", response.headers.get("Retry-After")
                response.close()
            if attempt == attempts:
                raise RestUnavailable(
                    f"{method} {shown} failed after {attempts} attempt{'s' if attempts > 1 else ''}: "
                    f"{problem}",
                    status=status,
                    url=shown,
                )
            delay = backoff(self.retry, attempt, retry_after)
            log.warning(
                "%s %s: %s; retry %d/%d in %.2fs", method, shown, problem, attempt, attempts - 1, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sent(self, exc: httpx.RequestError, planned: str) -> str:
        """The URL of the request that failed, as it went out, safe to show."""
        try:
            return self.secrets.url(str(exc.request.url))
        except RuntimeError:  # raised before a request existed
            return planned

    def _refused(self, method: str, shown: str, response: httpx.Response) -> RestError:
        snippet = self.secrets.text(response.text[:_SNIPPET].strip())
        status = response.status_code
        hint = "check the credentials of the source" if status in (401, 403) else None
        return RestError(
            f"{method} {shown} returned HTTP {status} {response.reason_phrase}: {snippet}",
            status=status,
            url=shown,
            hint=hint,
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~30 ms per client otherwise."""
    return httpx.create_ssl_context()


def backoff(retry: RetryParams, attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number `attempt`: the server's Retry-After, else jittered backoff."""
    if retry_after is not None:
        seconds = _retry_after_seconds(retry_after)
        if seconds is not None:
            return min(max(seconds, 0.0), retry.max_retry_after)
    base = retry.backoff_factor * 2 ** (attempt - 1)
    jitter: float = random.uniform(0.5, 1.0)  # spreads the retries of parallel loads
    return float(min(base, retry.max_delay) * jitter)


def _retry_after_seconds(value: str) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()
