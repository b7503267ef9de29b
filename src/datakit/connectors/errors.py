"""Errors of the connectors, with retry decided by type and secrets kept out of every message.

Driver exceptions are translated at the connector boundary: a lost or refused connection becomes
`ConnectionLost` (transient, worth a retry), a refused user or password `AuthenticationFailed` (terminal:
retrying a wrong password only locks accounts), anything else `ConnectorError` (terminal). Which is which
is decided in one place per engine or source, by the driver's exception types and error codes (SQLSTATE,
MySQL's numbers): its `classify` function, which `translate` is given. The driver's own text is kept,
because it is what a user needs to fix SQL or permissions, but every secret is masked first
(`datakit.log.redact`): libpq and connectorx may echo a connection string back.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Diagnosis:
    """What a driver exception means: the error to raise, and the driver's words worth showing."""

    kind: type[ConnectorError]
    detail: str | None = None
    """The message to keep (default: the exception's text)."""


Classify = Callable[[BaseException], Diagnosis]
"""An engine's (or a source's) reading of its drivers' exceptions."""


def network_or_terminal(exc: BaseException) -> Diagnosis:
    """The reading every driver shares: Python's own network, name-lookup and timeout errors are
    transient; anything else is terminal."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | socket.herror):
        return Diagnosis(ConnectionLost)
    return Diagnosis(ConnectorError)


def translate(
    exc: BaseException,
    action: str,
    *,
    classify: Classify = network_or_terminal,
    secrets: Iterable[str | None] = (),
    table: str | None = None,
    login: str | None = None,
) -> ConnectorError:
    """Wrap a driver exception as `classify` reads it, with every secret masked.

    `login` names who connected where (`user 'ann' at db:3306`), for an authentication failure's message.
    """
    if isinstance(exc, ConnectorError):
        return exc
    diagnosis = classify(exc)
    secrets = tuple(secrets)
    detail = redact((diagnosis.detail or str(exc)).strip(), secrets) or type(exc).__name__
    first = detail.splitlines()[0][:2000]
    if diagnosis.kind is AuthenticationFailed:
        return AuthenticationFailed(
            f"authentication failed for {login}: {first}" if login else f"{action}: {first}",
            hint="check the connection's user, and the password its password_secret_key names",
            table=table,
        )
    return diagnosis.kind(f"{action}: {first}", table=table)


MAX_MESSAGE = 4000
_EXCERPT = re.compile(r"^LINE \d+:.*(\n[ \t]*\^+[ \t]*$)?", re.MULTILINE)


def query_message(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """The database's message for a failed query, minus its `LINE n: ... ^` excerpt: that points into
    the wrapping query (a check's count or sample), not into the SQL a user wrote; capped in length."""
    text = redact(str(exc), tuple(secrets))
    text = re.sub(r"\n\s*\n", "\n", _EXCERPT.sub("", text)).strip() or type(exc).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
