"""How DuckDB fails: one writing process per file, and errors told apart by exception type.

DuckDB has no error codes. Its exception types say what failed (`IOException`, `CatalogException`,
`ConstraintException`, ...); a file held by another process is an `IOException` whose text says so
("Could not set lock on file ... (PID n)"), the one case read from the text, here only. That one is
transient (`FileLocked`): the step is tried again once the other process is done.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from datakit.connectors import errors
from datakit.connectors.errors import ConnectionLost, ConnectorError, Diagnosis, network_or_terminal

if TYPE_CHECKING:
    from datakit.connectors.engines.duckdb.params import DuckDBParams

_LOCKED = re.compile(r"could not set lock on file", re.IGNORECASE)
_HOLDER = re.compile(r"\(PID (\d+)\)")


class FileLocked(ConnectionLost):
    """Another process holds the DuckDB file: DuckDB admits one writing process per file (and no reader
    beside a writer). Transient: the step is tried again, per its job's `retries`, once that one is done."""


def locked(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB refusing a file another process holds."""
    import duckdb

    return isinstance(exc, duckdb.IOException) and _LOCKED.search(str(exc)) is not None


def classify(exc: BaseException) -> Diagnosis:
    """A held file is transient; other DuckDB errors are terminal (see the module's docstring)."""
    if locked(exc):
        return Diagnosis(FileLocked)
    return network_or_terminal(exc)


def lock_conflict(exc: BaseException, params: DuckDBParams) -> FileLocked | None:
    """`exc` as a `FileLocked` naming the destination, its file and the process holding it; None when
    `exc` is not DuckDB's "Could not set lock on file ... Conflicting lock is held in ... (PID n)"."""
    if not locked(exc):
        return None
    pid = _HOLDER.search(str(exc))
    holder = f"another process (PID {pid.group(1)})" if pid else "another process"
    name = f"destination {params.destination} (file {params.database})" if params.destination else None
    return FileLocked(
        f"{name or f'DuckDB file {params.database}'} is locked by {holder}",
        hint="DuckDB admits one writing process per file: the step is retried per the job's `retries`; "
        "stop the other process, or give the job more attempts or a longer retry_delay",
    )


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
