"""Errors of the connectors, with retry decided by type and secrets kept out of every message.

Driver exceptions are translated at the connector boundary: a lost or refused connection becomes
`ConnectionLost` (transient, worth a retry), a refused user or password `AuthenticationFailed` (terminal:
retrying a wrong password only locks accounts), anything else `ConnectorError` (terminal). The driver's
own text is kept, because it is what a user needs to fix SQL or permissions, but every secret is masked
first (`datakit.log.redact`): libpq and connectorx may echo a connection string back.
"""

from __future__ import annotations

import re
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


class AuthenticationFailed(ConnectorError):
    """The server refused the user name or the password: the same credentials will fail again."""


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
# A refused login in the driver's words: MySQL/MariaDB errors 1045 and 1698 (not 1044, a refused
# database: that is a permission), PostgreSQL's failed password, and its unknown role at connection time
# (all a trust-auth server says about an unknown user; the same words in a statement's error are not
# about logging in, hence FATAL).
_REFUSED = (
    re.compile(
        r"(access denied for user '[^']*'@'[^']*'(?! to database)(?: \(using password: \w+\))?)", re.I
    ),
    re.compile(r"(password authentication failed for user \"[^\"]*\")", re.I),
    re.compile(r"fatal:\s+(role \"[^\"]*\" does not exist)", re.I),
    re.compile(r"(no password supplied)", re.I),
)


def translate(
    exc: BaseException,
    action: str,
    *,
    secrets: Iterable[str | None] = (),
    table: str | None = None,
    login: str | None = None,
) -> ConnectorError:
    """Wrap a driver exception as a `ConnectorError` (or a subclass) with every secret masked.

    `login` names who connected where (`user 'ann' at db:3306`), for an authentication failure's message.
    """
    if isinstance(exc, ConnectorError):
        return exc
    detail = redact(str(exc).strip(), secrets) or type(exc).__name__
    refused = _refusal(detail)
    if refused is not None:
        return AuthenticationFailed(
            f"authentication failed for {login}: {refused}" if login else f"{action}: {refused}",
            hint="check the connection's user, and the password its password_secret_key names",
            table=table,
        )
    first = detail.splitlines()[0][:2000]
    message = f"{action}: {first}"
    lowered = detail.lower()
    kind = ConnectionLost if any(sign in lowered for sign in _CONNECTION_SIGNS) else ConnectorError
    return kind(message, table=table)


def _refusal(detail: str) -> str | None:
    """The words of the driver's message that say the login was refused, if it says so."""
    for pattern in _REFUSED:
        match = pattern.search(detail)
        if match is not None:
            return match.group(1)
    return None
