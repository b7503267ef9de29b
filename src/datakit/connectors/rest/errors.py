"""Errors of REST sources: the HTTP status and the URL (credentials masked) as structured fields."""

from __future__ import annotations

from datakit.connectors.errors import ConnectionLost, ConnectorError


class RestError(ConnectorError):
    """The API refused a request (4xx), returned unusable JSON, or paged without end: terminal."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        hint: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, table=table)
        self.status = status
        self.url = url


class RestUnavailable(ConnectionLost):
    """429, 5xx, timeouts or connection errors outlasted every retry: a later run may succeed."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
