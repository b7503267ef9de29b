"""SQLite source: the standard library's sqlite3, opened read-only, converted to Arrow per batch.

DuckDB's SQLite reader would be faster but is an extension DuckDB downloads on first use, which fails
offline (`sqlite_scanner` is not bundled with the duckdb wheel), so the stdlib driver it is.
Declared types are only hints in SQLite (`exact_types=False`): values are cast exactly to the target
type, and a value that does not fit fails the read with the column's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from datakit.connectors import errors
from datakit.connectors.arrow import sqlite_type
from datakit.connectors.base import Column, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.errors import ConnectionLost, ConnectorError, Diagnosis, network_or_terminal
from datakit.connectors.params import SqliteParams
from datakit.connectors.rows import cursor_batches
from datakit.connectors.sources.reflecting import InspectedSource
from datakit.connectors.sources.requested import requested_columns, requested_schema

if TYPE_CHECKING:
    import sqlite3

    import pyarrow as pa


BUSY = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED: a writer holds the file; it will let go


def classify(exc: BaseException) -> Diagnosis:
    """A busy or locked file is transient; other SQLite errors are terminal (by result code)."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in BUSY:  # extended codes keep the primary in the low byte
        return Diagnosis(ConnectionLost)
    return network_or_terminal(exc)


def translate(exc: BaseException, action: str, *, table: str | None = None) -> ConnectorError:
    return errors.translate(exc, action, classify=classify, table=table)


def quote(*parts: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def _table_sql(table: TableRef) -> str:
    return quote(table.schema, table.name) if table.schema else quote(table.name)


class SqliteSource(InspectedSource):
    """Reads tables or SELECTs from a SQLite file."""

    capabilities = SourceCapabilities(exact_types=False, schemas=False, catalog=True, cursor_windows=True)
    default_schema = "main"

    def __init__(self, params: SqliteParams) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"SqliteSource({self.params.describe()})"

    def reflection_error(self, exc: BaseException, action: str) -> ConnectorError:
        return translate(exc, action)

    def columns(self, table: TableRef) -> list[Column]:
        prefix = quote(table.schema) + "." if table.schema else ""
        with closing(self._connect()) as conn:
            rows = self._run(
                conn, f"PRAGMA {prefix}table_info({quote(table.name)})", (), str(table)
            ).fetchall()
        if not rows:
            raise ConnectorError(
                f"table {table} does not exist in {self.params.describe()}", table=str(table)
            )
        return [
            Column(name, decl or "", not notnull and not pk, decl or "", sqlite_type(decl or ""))
            for _, name, decl, notnull, _, pk in rows
        ]

    def tables(self, schema: str | None = None) -> list[TableRef]:
        catalog = quote(schema or "main") + ".sqlite_master"
        with closing(self._connect()) as conn:
            sql = f"SELECT name FROM {catalog} WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%'"
            return sorted((TableRef(n) for (n,) in self._run(conn, sql, (), "tables").fetchall()), key=str)

    def estimate_rows(self, table: TableRef) -> int | None:  # noqa: ARG002 - part of the protocol
        return None  # SQLite keeps no row statistics unless ANALYZE ran; only a scan knows

    def count(self, request: ReadRequest) -> int:
        sql, params = self._select(request, self._describe(request), ordered=False)
        with closing(self._connect()) as conn:
            return int(self._run(conn, f"SELECT count(*) FROM ({sql})", params, request.label).fetchone()[0])

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        return requested_schema(request, self._describe(request))

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        columns = self._describe(request)
        schema = self.arrow_schema(request)
        sql, params = self._select(request, columns, ordered=True)
        return self._stream(sql, params, schema, request)

    def _stream(
        self, sql: str, params: tuple[Any, ...], schema: pa.Schema, request: ReadRequest
    ) -> Iterator[pa.RecordBatch]:
        import sqlite3

        conn = self._connect()
        try:
            cursor = self._run(conn, sql, params, request.label)
            try:
                yield from cursor_batches(cursor, schema, request.batch_size, request.label)
            except sqlite3.Error as exc:
                raise translate(exc, f"reading {request.label}", table=request.label) from None
        finally:
            conn.close()

    def _describe(self, request: ReadRequest) -> list[Column]:
        if request.table is not None:
            available = self.columns(request.table)
        else:
            with closing(self._connect()) as conn:
                cursor = self._run(conn, f"SELECT * FROM ({request.query}) LIMIT 0", (), "query")
                # A query's declared types are unknown to sqlite3: text is the lossless default.
                available = [Column(d[0], "", True, "", sqlite_type("TEXT")) for d in cursor.description]
        return requested_columns(request, available)

    def _select(
        self, request: ReadRequest, columns: list[Column], *, ordered: bool
    ) -> tuple[str, tuple[Any, ...]]:
        items = ", ".join(quote(c.name) for c in columns) or "*"
        source = _table_sql(request.table) if request.table is not None else f"({request.query})"
        sql = f"SELECT {items} FROM {source}"
        params: tuple[Any, ...] = ()
        inc = request.incremental
        if inc is not None:
            where = []
            for value, op in ((inc.lower, ">=" if inc.inclusive else ">"), (inc.upper, "<")):
                if value is None:
                    continue
                column, bound = quote(inc.cursor), "?"
                if _is_time(value):  # compared as instants: the stored text may or may not carry a zone
                    column, bound = f"julianday({column})", "julianday(?)"
                where.append(f"{column} {op} {bound}")
                params += (_sqlite_value(value),)
            if where:
                sql += " WHERE " + " AND ".join(where)
        if ordered and request.order_by:
            sql += " ORDER BY " + ", ".join(quote(name) for name in request.order_by)
        return sql, params

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        path = self.params.database
        if not path.exists():
            raise ConnectorError(f"SQLite database {path} does not exist")
        try:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, f"opening {self.params.describe()}") from None

    @staticmethod
    def _run(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], label: str) -> sqlite3.Cursor:
        import sqlite3

        try:
            return conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise translate(exc, f"reading {label}", table=label) from None


def _is_time(value: Any) -> bool:
    import datetime

    return isinstance(value, datetime.date)


def _sqlite_value(value: Any) -> Any:
    """A bound as SQLite's date functions read it (`YYYY-MM-DD HH:MM:SS[.fff][+HH:MM]`): SQLite keeps times
    as text, naive or zoned, so time bounds are compared through `julianday`, which reads both as UTC
    instants (to the millisecond; an inclusive bound then re-reads, never skips, a boundary row)."""
    import datetime

    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value
