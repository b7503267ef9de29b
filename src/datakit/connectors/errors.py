"""Errors of the connectors, with retry decided by type and secrets kept out of every message.

Driver exceptions are translated at the connector boundary: a lost or refused connection becomes
`ConnectionLost` (transient, worth a retry), anything else `ConnectorError` (terminal). The driver's own
text is kept, because it is what a user needs to fix SQL or permissions, but every secret is masked
first (`datakit.log.redact`): libpq and connectorx may echo a connection string back.
"""

from __future__ import annotations

from collections.abc import Iterable

from datakit.errors import DatakitError
from datakit.log import redact


class ConnectorError(DatakitError):
    """A source or destination failed; `table` names what was being read or written when known."""

    def __init__(self, message: str, *, hint: str | None = None, table: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.table = table


class ConnectionLost(ConnectorError):
    """The server could not be reached or dropped the connection: the same step may succeed on retry."""

    transient = True


class NoRowsToInfer(ConnectorError):
    """A source without a catalog (REST API, files) had no rows to infer a schema from."""


class SchemaMismatch(ConnectorError):
    """Data does not fit the target Arrow schema or table (missing column, lossy cast, unknown type)."""


# Substrings of driver messages that mean the connection, not the statement, failed.
_CONNECTION_SIGNS = (
    "connection refused",
    "could not connect",
    "connection to server",
    "server closed the connection",
    "terminating connection",
    "connection reset",
    "broken pipe",
    "timeout expired",
    "lost connection",
    "can't connect",
    "gone away",
    "no route to host",
    "could not translate host name",
)


def translate(
    exc: BaseException, action: str, *, secrets: Iterable[str | None] = (), table: str | None = None
) -> ConnectorError:
    """Wrap a driver exception as a `ConnectorError` (or `ConnectionLost`) with every secret masked."""
    if isinstance(exc, ConnectorError):
        return exc
    detail = redact(str(exc).strip(), secrets) or type(exc).__name__
    first = detail.splitlines()[0][:2000]
    message = f"{action}: {first}"
    lowered = detail.lower()
    kind = ConnectionLost if any(sign in lowered for sign in _CONNECTION_SIGNS) else ConnectorError
    return kind(message, table=table)
