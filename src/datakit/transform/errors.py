"""Errors of dbt steps: one type, carrying what the run history keeps and what retry decides on.

`DbtFailed.transient` is set per instance (the class default of `DatakitError` is False): a dbt step
that could not reach its database, or met a lock or a serialization failure, may succeed when tried
again; a model with wrong SQL or a failing test will not. `orchestrate.retry.is_transient` reads the
attribute, so this package needs nothing from the orchestrator.
"""

from __future__ import annotations

from typing import Any

from datakit.errors import DatakitError

# Lower-cased signs, in a database's or dbt's message, of a failure that another attempt may not meet.
_TRANSIENT_SIGNS = (
    "could not connect",
    "connection refused",
    "connection to server",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "too many connections",
    "timeout expired",
    "could not serialize access",
    "deadlock detected",
    "could not set lock on file",  # DuckDB: another process holds the file
)


class DbtFailed(DatakitError):
    """A dbt invocation failed: the message names each failing node (or file) and the database's words.

    `details` is the JSON-able record of the invocation (the same as `DbtResult.details()`), `log` the
    tail of dbt's log; the executor stores both with the attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any],
        log: str = "",
        transient: bool = False,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.details = details
        self.log = log
        self.transient = transient
        self.file = file


def looks_transient(text: str) -> bool:
    """True when an error text says the database was unreachable or busy, not that the SQL is wrong."""
    lowered = text.lower()
    return any(sign in lowered for sign in _TRANSIENT_SIGNS)
