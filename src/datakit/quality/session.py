"""Read-only connections for running checks: one per suite, opened, used and closed.

Checks only read, so sessions are read-only (DuckDB `read_only=True`; PostgreSQL
`default_transaction_read_only`): a custom `sql:` check cannot change data by accident, and a DuckDB
file — which admits one writing process — is held only as long as the suite runs.

Each statement runs on its own (autocommit), so one failing check (a missing table) does not abort
the transaction the next check would run in. A statement's failure is a `ConnectorError` carrying the
database's own message; a lost connection is a `ConnectionLost`, which the orchestrator retries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from datakit.connectors.errors import ConnectionLost, ConnectorError, translate
from datakit.connectors.params import DuckDBParams, PostgresParams
from datakit.log import redact

if TYPE_CHECKING:
    import duckdb
    import psycopg

Rows = tuple[list[str], list[tuple[Any, ...]]]
MAX_ERROR = 4000
_EXCERPT = re.compile(r"^LINE \d+:.*(\n[ \t]*\^+[ \t]*$)?", re.MULTILINE)
_LOCKED = "could not set lock"  # DuckDB: another process holds the file for writing


class Session(Protocol):
    """Runs one query and returns its column names and rows."""

    def query(self, sql: str) -> Rows: ...


@contextmanager
def open_session(params: DuckDBParams | PostgresParams) -> Iterator[Session]:
    """A read-only session on the destination `params` describes, closed on exit."""
    if isinstance(params, DuckDBParams):
        with _duckdb(params) as duck:
            yield duck
    else:
        with _postgres(params) as pg:
            yield pg


def _message(exc: BaseException, secrets: tuple[str | None, ...]) -> str:
    """The database's message, minus its `LINE n: ... ^` excerpt: that points into the wrapping
    count/sample query, not into the check's SQL that results show."""
    text = redact(str(exc), secrets)
    text = re.sub(r"\n\s*\n", "\n", _EXCERPT.sub("", text)).strip() or type(exc).__name__
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


class DuckDBSession:
    """A read-only DuckDB connection."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def query(self, sql: str) -> Rows:
        import duckdb

        try:
            cursor = self.conn.execute(sql)
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise ConnectorError(_message(exc, ())) from None
        return [d[0] for d in cursor.description or []], rows


@contextmanager
def _duckdb(params: DuckDBParams) -> Iterator[DuckDBSession]:
    import duckdb

    memory = params.database == ":memory:"  # nothing to protect, and read-only needs an existing file
    try:
        conn = duckdb.connect(params.database, read_only=not memory)
    except duckdb.Error as exc:
        message = f"opening {params.describe()} to run checks: {_message(exc, ())}"
        if _LOCKED in message.lower():
            raise ConnectionLost(
                message, hint="another process is writing to it; retry when it is done"
            ) from None
        raise ConnectorError(message, hint="checks read tables that a load or dbt step has written") from None
    try:
        yield DuckDBSession(conn)
    finally:
        conn.close()


class PostgresSession:
    """An autocommit, read-only PostgreSQL connection; messages are scrubbed of the password."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], secrets: tuple[str | None, ...]) -> None:
        self.conn = conn
        self.secrets = secrets

    def query(self, sql: str) -> Rows:
        import psycopg

        try:
            cursor = self.conn.execute(sql)  # no parameters: sent as written, `%` included
            rows = cursor.fetchall()
        except psycopg.Error as exc:
            lost = translate(exc, "running checks", secrets=self.secrets)
            if self.conn.broken or isinstance(lost, ConnectionLost):
                raise ConnectionLost(lost.message) from None
            raise ConnectorError(_message(exc, self.secrets)) from None
        return [d.name for d in cursor.description or []], rows


@contextmanager
def _postgres(params: PostgresParams) -> Iterator[PostgresSession]:
    import psycopg

    secrets = params.secrets()
    try:
        conn = psycopg.connect(params.conninfo(), autocommit=True)
        conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        raise translate(exc, f"connecting to {params.describe()} to run checks", secrets=secrets) from None
    try:
        yield PostgresSession(conn, secrets)
    finally:
        conn.close()
