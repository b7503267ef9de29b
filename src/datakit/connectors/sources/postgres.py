"""PostgreSQL source: ADBC's binary COPY reader, streamed and cast to the caller's Arrow schema.

Chosen by measurement (bench/load_io.py --readers, rental at 2M rows, 2 cores, median of 5): ADBC
decodes binary COPY in C++ at ~1.5M rows/s, ahead of connectorx (arrow_stream ~0.95M; partitioned
~1.15M, and that one does not stream), COPY csv through psycopg into pyarrow's CSV reader (~0.85M: the
server's text output is dearer than binary and psycopg hands over one row per call) and psycopg binary
COPY (a Python call per row before any decoding). Catalog lookups and query descriptions use psycopg,
which reports type modifiers (numeric precision) that ADBC does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from datakit.connectors import postgres_catalog as catalog
from datakit.connectors.arrow import conform
from datakit.connectors.base import Column, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.errors import ConnectorError, translate
from datakit.connectors.params import PostgresParams

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

# ADBC sizes its batches in bytes; we ask for roughly batch_size rows of ~64 bytes, then slice exactly.
_MIN_HINT, _MAX_HINT, _ROW_BYTES_GUESS = 1 << 20, 16 << 20, 64


class PostgresSource:
    """Reads tables or SELECTs from one PostgreSQL database."""

    capabilities = SourceCapabilities(dialect="postgres", cheap_estimate=True)

    def __init__(self, params: PostgresParams) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"PostgresSource({self.params.describe()})"

    # -- catalog -------------------------------------------------------------------------------------
    def columns(self, table: TableRef) -> list[Column]:
        rows = self._catalog(catalog.COLUMNS_SQL.format(relation=catalog.relation_literal(table)), str(table))
        if not rows:
            raise ConnectorError(
                f"table {table} does not exist in {self.params.describe()}", table=str(table)
            )
        return catalog.to_columns(rows)

    def tables(self, schema: str | None = None) -> list[TableRef]:
        from psycopg import sql

        rows = self._catalog(catalog.TABLES_SQL.format(schema=sql.Literal(schema).as_string()), "tables")
        return [TableRef(str(name), str(nsp)) for nsp, name in rows]

    def estimate_rows(self, table: TableRef) -> int | None:
        rows = self._catalog(
            catalog.ESTIMATE_SQL.format(relation=catalog.relation_literal(table)), str(table)
        )
        return None if not rows or rows[0][0] is None else int(float(str(rows[0][0])))

    def count(self, request: ReadRequest) -> int:
        columns = self._describe(request)
        sql = f"SELECT count(*) FROM ({self._select(request, columns, ordered=False)}) AS q"
        return int(str(self._catalog(sql, request.label)[0][0]))

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        import pyarrow as pa

        if request.schema is not None:
            return request.schema
        return pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in self._describe(request)])

    # -- data ----------------------------------------------------------------------------------------
    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        columns = self._describe(request)
        target = self.arrow_schema(request)
        return self._stream(self._select(request, columns, ordered=True), target, request)

    def _stream(self, sql: str, target: pa.Schema, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        import adbc_driver_postgresql.dbapi as adbc

        secrets = self.params.secrets()
        action = f"reading {request.label} from {self.params.describe()}"
        try:
            conn = adbc.connect(self.params.uri())
        except Exception as exc:
            raise translate(exc, action, secrets=secrets, table=request.label) from None
        hint = min(_MAX_HINT, max(_MIN_HINT, request.batch_size * _ROW_BYTES_GUESS))
        try:
            with conn.cursor() as cur:
                cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})
                cur.execute(sql)
                for batch in cur.fetch_record_batch():
                    shaped = conform(batch, target, label=request.label)
                    for start in range(0, shaped.num_rows, request.batch_size):
                        yield shaped.slice(start, request.batch_size)
        except ConnectorError:
            raise
        except Exception as exc:
            raise translate(exc, action, secrets=secrets, table=request.label) from None
        finally:
            conn.close()

    # -- SQL -----------------------------------------------------------------------------------------
    def _describe(self, request: ReadRequest) -> list[Column]:
        """Columns of the table (catalog) or of the query (its result description), in read order."""
        if request.table is not None:
            available = self.columns(request.table)
        else:
            available = self._describe_query(str(request.query))
        if request.columns is None:
            return available
        by_name = {c.name: c for c in available}
        missing = [name for name in request.columns if name not in by_name]
        if missing:
            from datakit.errors import did_you_mean

            hint = did_you_mean(missing[0], by_name) or f"columns: {', '.join(by_name)}"
            raise ConnectorError(
                f"{request.label} has no column '{missing[0]}'", hint=hint, table=request.label
            )
        return [by_name[name] for name in request.columns]

    def _describe_query(self, query: str) -> list[Column]:
        import psycopg

        with self._connect("describing query") as conn:
            try:
                cur = conn.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")  # the user's own SQL, run as such
            except psycopg.Error as exc:
                raise translate(exc, "describing query", secrets=self.params.secrets()) from None
            result = cur.pgresult
            assert result is not None
            fields = [(result.fname(i), result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
            rows = []
            for name, oid, mod in fields:
                found = conn.execute(
                    "SELECT format_type(t.oid, %s), format_type(COALESCE(NULLIF(t.typbasetype, 0), t.oid), "
                    "CASE WHEN t.typbasetype <> 0 THEN t.typtypmod ELSE %s END), "
                    "COALESCE((SELECT b.typtype FROM pg_type b WHERE b.oid = NULLIF(t.typbasetype, 0)), "
                    "t.typtype) "
                    "FROM pg_type t WHERE t.oid = %s",
                    (mod, mod, oid),
                ).fetchone()
                assert found is not None
                rows.append(((name or b"?column?").decode(), found[0], True, found[1], found[2]))
        return catalog.to_columns(rows)

    def _select(self, request: ReadRequest, columns: list[Column], *, ordered: bool) -> str:
        from psycopg import sql

        items = []
        for column in columns:
            ident = sql.Identifier(column.name).as_string()
            if catalog.natively_read(column):
                items.append(ident)
            else:  # tsvector, uuid, jsonb, ranges, ...: text is exact and ADBC reads it
                cast = "text[]" if column.db_type.endswith("[]") else "text"
                items.append(f"{ident}::{cast} AS {ident}")
        source = catalog.quote(request.table) if request.table is not None else f"({request.query}) AS q"
        text = f"SELECT {', '.join(items) or '*'} FROM {source}"
        inc = request.incremental
        if inc is not None and inc.lower is not None:
            op = ">=" if inc.inclusive else ">"
            text += (
                f" WHERE {sql.Identifier(inc.cursor).as_string()} {op} {sql.Literal(inc.lower).as_string()}"
            )
        if ordered and request.order_by:
            text += " ORDER BY " + ", ".join(sql.Identifier(name).as_string() for name in request.order_by)
        return text

    def _catalog(self, query: str, label: str) -> list[tuple[Any, ...]]:
        import psycopg

        with self._connect(f"reading the catalog of {label}") as conn:
            try:
                return list(conn.execute(query).fetchall())
            except psycopg.Error as exc:
                raise translate(exc, f"reading {label}", secrets=self.params.secrets(), table=label) from None

    def _connect(self, action: str) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self.params.conninfo(), autocommit=True)
        except psycopg.Error as exc:
            raise translate(
                exc, f"{action} in {self.params.describe()}", secrets=self.params.secrets()
            ) from None
