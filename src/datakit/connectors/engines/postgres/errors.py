"""How PostgreSQL's drivers fail, read by exception type and SQLSTATE: the one place that decides.

psycopg and ADBC carry the server's SQLSTATE (`exc.sqlstate`); SQLAlchemy wraps them
(`exc.orig`). Transient: connection exceptions (class 08), the server shutting down or starting up
(57P01-57P03), too many connections (53300), serialization failures and deadlocks (40001, 40P01).
Refused logins (28000, 28P01) are `AuthenticationFailed`. Everything else is terminal.

libpq reports no SQLSTATE for a connection attempt that failed (psycopg's `OperationalError` and ADBC's
IO error without one): its text is all there is. Such a failure is a lost connection (network, server
down, missing database), unless the server's answer says it refused the login, which is told by the
words libpq passes on from the server (`_REFUSED`); this is the only place text is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datakit.connectors import errors
from datakit.connectors.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ConnectorError,
    Diagnosis,
    network_or_terminal,
)

TRANSIENT = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
REFUSED_LOGIN = frozenset({"28000", "28P01"})
_ADBC_IO = 10  # AdbcStatusCode ADBC_STATUS_IO: libpq could not connect or lost the connection
_REFUSED = (
    re.compile(r"(password authentication failed for user \"[^\"]*\")", re.I),
    re.compile(r"fatal:\s+(role \"[^\"]*\" does not exist)", re.I),
    re.compile(r"(no password supplied)", re.I),
)


def classify(exc: BaseException) -> Diagnosis:
    """Transient, refused login or terminal, by SQLSTATE (see the module's docstring)."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError
    code = getattr(exc, "sqlstate", None)
    if isinstance(code, str) and code:
        if code in REFUSED_LOGIN:
            return Diagnosis(AuthenticationFailed)
        if code.startswith("08") or code in TRANSIENT:
            return Diagnosis(ConnectionLost)
        return Diagnosis(ConnectorError)
    if _connection_attempt(exc):
        text = str(exc)
        for pattern in _REFUSED:
            match = pattern.search(text)
            if match is not None:
                return Diagnosis(AuthenticationFailed, match.group(1))
        return Diagnosis(ConnectionLost)
    return network_or_terminal(exc)


def _connection_attempt(exc: BaseException) -> bool:
    """Whether `exc` is libpq failing to connect (or losing the connection), which has no SQLSTATE."""
    import psycopg

    if isinstance(exc, psycopg.OperationalError):
        return True
    module = type(exc).__module__
    return module.startswith("adbc_driver_manager") and getattr(exc, "status_code", None) == _ADBC_IO


def translate(
    exc: BaseException,
    action: str,
    *,
    secrets: Iterable[str | None] = (),
    table: str | None = None,
    login: str | None = None,
) -> ConnectorError:
    """`exc` as the `ConnectorError` `classify` says it is (see `datakit.connectors.errors.translate`)."""
    return errors.translate(exc, action, classify=classify, secrets=secrets, table=table, login=login)
