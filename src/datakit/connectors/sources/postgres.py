"""PostgreSQL source: binary COPY, decoded with numpy when every column is fixed-width, else by ADBC.

Chosen by measurement (rental, 2M rows, 2 cores; bench/load.py and an earlier read-path benchmark). The
server alone needs ~1.2 s to produce the binary COPY of rental, and on two cores every client CPU
second is taken from the server backends, so the read path is judged by its client CPU:

- ADBC decodes binary COPY in C++ at ~1.5M rows/s but spends ~1.2-1.8 s of CPU per 2M rows; connectorx
  (arrow_stream ~0.95M rows/s), COPY csv into pyarrow (~0.85M) and psycopg's COPY (one Python call per
  row: ~1.75 s of CPU before any decoding) are slower;
- asyncpg hands over the COPY stream in ~20 KB chunks (~0.3 s of CPU per 2M rows, see
  `postgres_copy`), and `pgwire.Decoder` turns fixed-width rows into Arrow arrays with numpy in
  ~0.3 s. Tables whose columns are all fixed-width (integers, floats, booleans, dates, times,
  timestamps: facts and events) take this path; the SELECT makes every row the same width (see
  `pgwire.fixed_select`). Reading rental this way into DuckDB (read -> validate -> write) ran at
  1.00x the raw `psql | psql` pipe (median of 5 rounds on a busy machine; best 1.05x; ADBC: 1.03x
  before the validation step).
- A large plain table is read by `_PARTITIONS` connections at once, each a TID range scan over its
  share of the blocks, all in one exported snapshot (consistent as a single read): one backend needs
  ~1.2 s to produce rental's 2M rows as binary COPY, which bounds any single-stream load.

Other tables (text, numeric, arrays...) use ADBC, which is exact for all of them. Catalog lookups and
query descriptions use psycopg, which reports type modifiers (numeric precision) that ADBC does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from datakit.connectors import postgres_catalog as catalog
from datakit.connectors.arrow import conform
from datakit.connectors.base import Column, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.errors import ConnectorError, translate
from datakit.connectors.params import PostgresParams
from datakit.connectors.sources.postgres_copy import POLL_SECONDS, copy_out
from datakit.connectors.sources.requested import requested_columns, requested_schema

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

# ADBC sizes its batches in bytes; we ask for roughly batch_size rows of ~64 bytes, then slice exactly.
_MIN_HINT, _MAX_HINT, _ROW_BYTES_GUESS = 1 << 20, 16 << 20, 64
_PARTITIONS = 2  # connections reading one large table at once (the benchmark machine has 2 cores)
PARTITION_MIN_BYTES = 64 << 20  # smaller tables are read by one connection
_CHUNKS_IN_FLIGHT = 8  # blocks of ~1 MB between the network thread and the decoder


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
        return requested_schema(request, self._describe(request))

    # -- data ----------------------------------------------------------------------------------------
    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        columns = self._describe(request)
        target = self.arrow_schema(request)
        if _fast_path_available(self.params, columns):
            selects = self._fixed_selects(request, columns)
            return self._stream_fixed(selects, columns, target, request)
        return self._stream(self._select(request, columns, ordered=True), target, request)

    def _fixed_selects(self, request: ReadRequest, columns: list[Column]) -> list[str]:
        """One SELECT per partition, each making every row the same width (`pgwire.fixed_select`)."""
        from psycopg import sql

        from datakit.connectors import pgwire

        items = pgwire.fixed_select(
            [
                (sql.Identifier(c.name).as_string(), pgwire.zero_literal(c.arrow_type), c.nullable)
                for c in columns
            ]
        )
        base = self._select(request, columns, ordered=True, items=items)
        blocks = self._partition_blocks(request)
        if blocks is None:
            return [base]
        joiner = " AND " if " WHERE " in base else " WHERE "
        step = -(-blocks // _PARTITIONS)
        selects = []
        for index in range(_PARTITIONS):
            low, high = index * step, (index + 1) * step
            bound = f"ctid >= '({low},0)'::tid" + (
                "" if index == _PARTITIONS - 1 else f" AND ctid < '({high},0)'::tid"
            )
            selects.append(base + joiner + bound)
        return selects

    def _partition_blocks(self, request: ReadRequest) -> int | None:
        """The table's size in blocks when it is worth reading in TID-range partitions, else None."""
        if request.table is None or request.order_by or _PARTITIONS < 2:
            return None
        rows = self._catalog(
            "SELECT c.relkind, pg_relation_size(c.oid), current_setting('block_size')::int, "
            "current_setting('server_version_num')::int "
            f"FROM pg_class c WHERE c.oid = to_regclass({catalog.relation_literal(request.table)})",
            request.label,
        )
        if not rows:
            return None
        kind, size, block, version = rows[0]
        if kind != "r" or int(version) < 140000 or int(size) < PARTITION_MIN_BYTES:
            return None  # TID range scans arrived in PostgreSQL 14; views and partitioned tables have none
        return int(size) // int(block)

    def _stream_fixed(
        self, selects: list[str], columns: list[Column], target: pa.Schema, request: ReadRequest
    ) -> Iterator[pa.RecordBatch]:
        import queue
        import threading

        import pyarrow as pa

        from datakit.connectors import pgwire

        action = f"reading {request.label} from {self.params.describe()}"
        read_schema = pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in columns])
        nullable = [c.nullable for c in columns]
        decoders = [pgwire.Decoder(read_schema, nullable, min_rows=request.batch_size) for _ in selects]
        chunks: queue.Queue[tuple[int, bytes] | BaseException | None] = queue.Queue(_CHUNKS_IN_FLIGHT)
        stop = threading.Event()
        network = threading.Thread(
            target=copy_out,
            args=(self.params, selects, chunks, stop),
            name="datakit-pg-copy",
            daemon=True,
        )
        network.start()
        try:
            while True:
                item = chunks.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise translate(item, action, secrets=self.params.secrets(), table=request.label)
                decoded = decoders[item[0]].feed(item[1])
                if decoded is not None:
                    yield from _sliced(conform(decoded, target, label=request.label), request.batch_size)
            for decoder in decoders:
                rest = decoder.finish()
                if rest is not None:
                    yield from _sliced(conform(rest, target, label=request.label), request.batch_size)
        finally:
            stop.set()
            while network.is_alive():
                try:
                    chunks.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
            network.join()

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

    def _select(
        self, request: ReadRequest, columns: list[Column], *, ordered: bool, items: list[str] | None = None
    ) -> str:
        from psycopg import sql

        given, items = items is not None, list(items or [])
        for column in [] if given else columns:
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


def _fast_path_available(params: PostgresParams, columns: list[Column]) -> bool:
    """Whether `pgwire` can decode these columns and asyncpg + numpy are installed."""
    import importlib.util

    from datakit.connectors import pgwire

    if params.options or not columns:
        return False  # libpq options (search_path, ...) are honoured by ADBC only
    if importlib.util.find_spec("asyncpg") is None or importlib.util.find_spec("numpy") is None:
        return False
    return all(catalog.natively_read(c) and c.arrow_type is not None for c in columns) and pgwire.decodable(
        [(c.name, c.arrow_type) for c in columns if c.arrow_type is not None]
    )


def _sliced(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)
