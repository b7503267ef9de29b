"""PostgreSQL source: ADBC reads the data (binary COPY decoded in C++), psycopg reads the catalog.

One data path, chosen by measurement (`bench/load.py`, Pagila rental, 2 cores shared with other work,
load average 5-20, Dec 2026). ADBC (adbc-driver-postgresql 1.13) was measured against the two paths this
source also had until then: asyncpg's binary COPY decoded by an in-house numpy codec (tables whose
columns are all fixed-width), and the same split into two TID-range partitions in one snapshot (tables
over 64 MB). Read alone at 2M rows (`pg_read`, best / median of 3 and of 7 interleaved rounds): ADBC
1.93 / 1.97 s and 1.29 / 1.96 s; asyncpg, two streams, 1.87 / 2.16 s and 1.49 / 2.38 s; one stream
2.24 / 2.30 s. Same client CPU (0.70 against 0.67 CPU-s), a third less server CPU with ADBC (0.58-0.64
against 0.84-0.94: no `coalesce`/`IS NULL` columns to make rows fixed-width) and ~30 MiB less peak RSS.
Whole loads into DuckDB (`pg_to_duckdb`), ADBC against asyncpg: at 2M rows best 3.18 / 3.23 s against
3.20 / 2.10 s, medians 4.10 / 4.52 s against 3.60 / 4.58 s; at 500k rows best 0.95 s against 1.03 s,
median 1.59 s against 1.21 s. By the benchmark's own measure (the best, least disturbed run) they are
equal, and the medians went either way, so the codec, its network thread, its partitions and the
asyncpg dependency went. Earlier candidates, slower than both: connectorx (arrow_stream ~0.95M rows/s),
COPY csv into pyarrow (~0.85M), psycopg's COPY (one Python call per row).

ADBC is exact for every type (text, numeric, arrays...); a type it cannot decode is read as `::text`,
which is lossless (`catalog.natively_read`). Catalog lookups and query descriptions use psycopg, which
reports type modifiers (numeric precision) that ADBC does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from datakit.connectors.arrow import conform
from datakit.connectors.base import Column, JdbcRead, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.engines.postgres import catalog
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.connectors.engines.postgres.errors import translate
from datakit.connectors.engines.postgres.params import PostgresParams
from datakit.connectors.errors import ConnectorError
from datakit.connectors.sources.reflecting import InspectedSource
from datakit.connectors.sources.requested import requested_columns, requested_schema

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa


# ADBC sizes its batches in bytes; we ask for roughly batch_size rows of ~64 bytes, then slice exactly.
_MIN_HINT, _MAX_HINT, _ROW_BYTES_GUESS = 1 << 20, 16 << 20, 64


class PostgresSource(InspectedSource):
    """Reads tables or SELECTs from one PostgreSQL database."""

    capabilities = SourceCapabilities(
        cheap_estimate=True, catalog_types=True, catalog=True, cursor_windows=True, native_reads=True
    )
    default_schema = POSTGRES.default_schema

    def __init__(self, params: PostgresParams) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"PostgresSource({self.params.describe()})"

    def reflection_error(self, exc: BaseException, action: str) -> ConnectorError:
        return translate(exc, action, secrets=self.params.secrets(), login=self.params.login())

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
        return requested_schema(request, self._describe(request))

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

    def native_read(self, request: ReadRequest, *, split_by: str | None = None) -> JdbcRead | None:
        """The read as PostgreSQL's JDBC driver does it, split on `split_by` (an integer column) between
        its lowest and highest value (one indexed lookup each, for a key)."""
        from psycopg import sql

        from datakit.contracts.types import TypeKind

        columns = self._describe(request)
        query = self._select(request, columns, ordered=False)
        split = None
        column = next((c for c in columns if c.name == split_by), None)
        if column is not None and column.type is not None and column.type.kind is TypeKind.INTEGER:
            ident = sql.Identifier(column.name).as_string()
            low, high = self._catalog(
                f"SELECT min({ident}), max({ident}) FROM ({query}) AS q", request.label
            )[0]
            if low is not None and high is not None:
                split = (column.name, int(str(low)), int(str(high)))
        params = self.params
        host = f"[{params.host}]" if ":" in params.host else params.host
        url = f"jdbc:postgresql://{host}:{params.port}/{quote(params.database, safe='')}"
        if params.sslmode:
            url += f"?sslmode={params.sslmode}"
        return JdbcRead(
            url=url,
            query=query,
            driver="org.postgresql.Driver",
            user=params.user,
            password=params.password.get_secret_value() if params.password is not None else None,
            split=split,
            label=request.label,
        )

    # -- SQL -----------------------------------------------------------------------------------------
    def _describe(self, request: ReadRequest) -> list[Column]:
        """Columns of the table (catalog) or of the query (its result description), in read order."""
        if request.table is not None:
            available = self.columns(request.table)
        else:
            available = self._describe_query(str(request.query))
        return requested_columns(request, available)

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

        items: list[str] = []
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
        if inc is not None:
            cursor = sql.Identifier(inc.cursor).as_string()
            where = []
            if inc.lower is not None:
                op = ">=" if inc.inclusive else ">"
                where.append(f"{cursor} {op} {sql.Literal(inc.lower).as_string()}")
            if inc.upper is not None:
                where.append(f"{cursor} < {sql.Literal(inc.upper).as_string()}")
            if where:
                text += " WHERE " + " AND ".join(where)
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
