"""PostgreSQL destination: binary COPY through psycopg inside one transaction on one connection.

Chosen by measurement (bench/load.py, rental at 2M rows, 2 cores): the COPY data is encoded by
`pgwire` with numpy (~0.1 s of client CPU per 2M rows of rental, ~0.4 s with the bronze audit
columns) and handed to psycopg a batch at a time. On two cores every client CPU second is taken from
the two PostgreSQL backends. Against the plain way, CSV text into `COPY ... (FORMAT csv)`, the same
read -> validate -> write took 3.3 s instead of 19.5 s (Dec 2026, `pg_to_pg_steps` against
`pg_to_pg_steps_csv`); ADBC's `adbc_ingest` spent ~0.85 s encoding in C++ and writes on a connection
of its own, outside the load's one transaction.

Also its read-only session (checks, reports) and its dbt target (dbt-postgres, password by env var).

Types `pgwire.encodable` does not cover (arrays, numerics wider than 18 digits) are dumped by
psycopg's own binary dumpers value by value into the same stream: exact, but slower. Columns whose
binary COPY format differs from anything Arrow holds (tsvector, jsonb, uuid, ranges...) are written
through a temporary table of text columns and cast by the server in the same transaction. Statements
take `$1` parameters (psycopg's `RawCursor`), like DuckDB's.
"""

from __future__ import annotations

import getpass
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from datakit.connectors.arrow import conform
from datakit.connectors.base import DBT_PASSWORD_ENV, Column, DbtTarget, Rows, TableRef
from datakit.connectors.engines.postgres import catalog
from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.connectors.engines.postgres.errors import classify, translate
from datakit.connectors.engines.postgres.params import PostgresParams
from datakit.connectors.errors import ConnectionLost, ConnectorError, SchemaMismatch, query_message
from datakit.connectors.held import CatalogCache, HeldConnection
from datakit.connectors.stamp import Stamp, stamped

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa


class PostgresDestination:
    """Loads Arrow batches into one PostgreSQL database."""

    engine = POSTGRES

    def __init__(self, params: PostgresParams) -> None:
        self.params = params
        self._held: HeldConnection[Any] = HeldConnection(self._connect, _close)

    def __repr__(self) -> str:
        return f"PostgresDestination({self.params.describe()})"

    def dbt_target(self, *, schema: str | None = None, threads: int) -> DbtTarget:
        """dbt-postgres on the same database; the password is an env var dbt reads (never in the file)."""
        params = self.params
        output: dict[str, Any] = {
            "type": "postgres",
            "host": params.host,
            "port": params.port,
            "user": params.user or getpass.getuser(),  # libpq's own default when the config names none
            "password": "{{ env_var('" + DBT_PASSWORD_ENV + "', '') }}",
            "dbname": params.database,
            "schema": schema or self.engine.default_schema,
            "threads": threads,
            "connect_timeout": params.connect_timeout,
        }
        if params.sslmode:
            output["sslmode"] = params.sslmode
        env = {DBT_PASSWORD_ENV: params.password.get_secret_value()} if params.password is not None else {}
        return DbtTarget(output, env)

    @contextmanager
    def session(self) -> Iterator[PostgresSession]:
        """Autocommit and `default_transaction_read_only`: a custom check cannot change data."""
        import psycopg

        secrets = self.params.secrets()
        try:
            conn = psycopg.connect(self.params.conninfo(), autocommit=True)
            conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            action = f"connecting to {self.params.describe()} to run checks"
            raise translate(exc, action, secrets=secrets) from None
        try:
            yield PostgresSession(conn, secrets)
        finally:
            conn.close()

    def held(self) -> AbstractContextManager[None]:
        """Run this thread's transactions on one connection until the block ends (`connectors.held`):
        one connection (and authentication) per step, not per transaction."""
        return self._held.held()

    def _connect(self) -> Any:
        import psycopg

        try:  # autocommit off: each `transaction` is one transaction
            return psycopg.connect(self.params.conninfo(), cursor_factory=psycopg.RawCursor)
        except Exception as exc:
            action = f"connecting to {self.params.describe()}"
            raise translate(exc, action, secrets=self.params.secrets()) from None

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        secrets = self.params.secrets()
        with self._held.connection() as conn:
            try:
                yield PostgresTransaction(conn, self.params)
                try:
                    conn.commit()
                except Exception as exc:
                    action = f"committing to {self.params.describe()}"
                    raise translate(exc, action, secrets=secrets) from None
            except BaseException:
                _quietly(conn.rollback)
                raise

    def columns(self, table: TableRef) -> list[Column]:
        with self.transaction() as tx:
            return tx.columns(table)


class PostgresTransaction:
    """An open transaction; see `datakit.connectors.base.Transaction`."""

    engine = POSTGRES

    def __init__(self, conn: Any, params: PostgresParams) -> None:
        self._conn = conn
        self._params = params
        self._temp_seq = itertools.count()
        self._catalog = CatalogCache()

    def quote(self, *parts: str) -> str:
        return POSTGRES.quote(*parts)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._catalog.ran(sql)
        with self._cursor(sql) as cur:
            cur.execute(sql, list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._catalog.ran(sql)
        with self._cursor(sql) as cur:
            cur.execute(sql, list(params) or None)
            return list(cur.fetchall())

    def columns(self, table: TableRef) -> list[Column]:
        return self._catalog.columns(table, lambda: self._look_up(table))

    def _look_up(self, table: TableRef) -> list[Column]:
        return catalog.to_columns(
            self.query(catalog.COLUMNS_SQL.format(relation=catalog.relation_literal(table)))
        )

    def write(self, table: TableRef, batches: Iterable[pa.RecordBatch], stamp: Stamp | None = None) -> int:
        import pyarrow as pa

        iterator = stamped(batches, stamp)
        first = next(iterator, None)
        if first is None:
            return 0
        existing = {c.name: c for c in self.columns(table)}
        if not existing:
            raise ConnectorError(f"table {table} does not exist", table=str(table))
        targets = [_target(existing, name, table) for name in first.schema.names]
        direct = all(catalog.natively_written(c) for c in targets)
        wire = pa.schema(
            [
                pa.field(c.name, c.arrow_type if direct or catalog.natively_written(c) else pa.string())
                for c in targets
            ]
        )
        if direct:
            return self._ingest(table, wire, itertools.chain([first], iterator))
        # Some column needs the server's text input function: land as text in a temporary table first.
        temp = TableRef(f"_datakit_stage_{next(self._temp_seq)}", "pg_temp")
        ddl = ", ".join(f"{self.quote(f.name)} {_temp_type(c)}" for f, c in zip(wire, targets, strict=True))
        self.execute(f"CREATE TEMPORARY TABLE {self.quote(temp.name)} ({ddl}) ON COMMIT DROP")  # in pg_temp
        rows = self._ingest(temp, wire, itertools.chain([first], iterator))
        names = ", ".join(self.quote(c.name) for c in targets)
        casts = ", ".join(f"{self.quote(c.name)}::{c.db_type}" for c in targets)
        self.execute(
            f"INSERT INTO {catalog.quote(table)} ({names}) SELECT {casts} FROM {self.quote(temp.name)}"
        )
        self.execute(f"DROP TABLE {self.quote(temp.name)}")
        return rows

    def _ingest(self, table: TableRef, wire: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        import pyarrow as pa

        from datakit.connectors.engines.postgres import pgwire

        dumpers = self._dumpers(table, wire)
        columns = ", ".join(self.quote(name) for name in pgwire.copy_order(_encoded_schema(wire, dumpers)))
        rows = 0
        failure: list[BaseException] = []
        try:
            with (
                self._conn.cursor() as cur,
                cur.copy(f"COPY {catalog.quote(table)} ({columns}) FROM STDIN (FORMAT binary)") as copy,
            ):
                copy.write(pgwire.HEADER)
                for batch in _marked(batches, failure):
                    out = conform(batch, wire, label=str(table))
                    rows += out.num_rows
                    for name, dump in dumpers.items():
                        index = out.schema.get_field_index(name)
                        out = out.set_column(
                            index, pa.field(name, pa.large_binary()), dump(out.column(index))
                        )
                    copy.write(pgwire.encode(out))
                copy.write(pgwire.TRAILER)
        except Exception as exc:
            if failure:  # the batches' own error (a failed source), not the driver's
                raise failure[0] from None
            raise translate(
                exc, f"writing {table}", secrets=self._params.secrets(), table=str(table)
            ) from None
        return rows

    def _dumpers(self, table: TableRef, wire: pa.Schema) -> dict[str, Callable[[pa.Array], pa.Array]]:
        """psycopg's binary dumpers, value by value, for the columns `pgwire` cannot encode (arrays...)."""
        import pyarrow as pa

        from datakit.connectors.engines.postgres import pgwire

        others = [f.name for f in wire if not pgwire.encodable(pa.schema([f]))]
        if not others:
            return {}
        existing = {c.name: c for c in self.columns(table)}  # asked before the COPY starts
        return {name: _dumper(self._conn, _copy_type(existing[name])) for name in others}

    @contextmanager
    def _cursor(self, sql: str) -> Iterator[Any]:
        try:
            with self._conn.cursor() as cur:
                yield cur
        except ConnectorError:
            raise
        except Exception as exc:
            short = " ".join(sql.split())[:200]
            raise translate(exc, f"running `{short}`", secrets=self._params.secrets()) from None


def _target(existing: dict[str, Column], name: str, table: TableRef) -> Column:
    if name in existing:
        return existing[name]
    from datakit.errors import did_you_mean

    hint = did_you_mean(name, existing) or f"columns of {table}: {', '.join(existing)}"
    raise SchemaMismatch(f"table {table} has no column '{name}'", hint=hint, table=str(table))


def _temp_type(column: Column) -> str:
    return (
        column.db_type
        if catalog.natively_written(column)
        else ("text[]" if column.db_type.endswith("[]") else "text")
    )


def _marked(batches: Iterable[pa.RecordBatch], failure: list[BaseException]) -> Iterator[pa.RecordBatch]:
    """`batches`, noting in `failure` an exception raised by the iterator itself."""
    iterator = iter(batches)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except BaseException as exc:
            failure.append(exc)
            raise
        yield batch


def _copy_type(column: Column) -> str:
    """The type psycopg dumps a column's values as: built-in base types; enums and others as text."""
    array = "[]" if column.db_type.endswith("[]") else ""
    name = catalog.bare(column.base_type)
    if column.base_type == "enum" or not catalog.natively_written(column) or name in catalog.TEXT_LIKE:
        return "text" + array
    return name + array


def _dumper(conn: Any, type_name: str) -> Callable[[pa.Array], pa.Array]:
    """A function turning an Arrow column into the binary COPY payloads psycopg dumps for `type_name`."""
    import pyarrow as pa
    from psycopg import pq
    from psycopg.adapt import PyFormat, Transformer

    transformer = Transformer(conn)
    transformer.set_dumper_types([conn.adapters.types.get_oid(type_name)], pq.Format.BINARY)

    def dump(array: pa.Array) -> pa.Array:
        payloads = [
            None if value is None else bytes(transformer.dump_sequence([value], [PyFormat.BINARY])[0] or b"")
            for value in array.to_pylist()
        ]
        return pa.array(payloads, pa.large_binary())

    return dump


def _encoded_schema(wire: pa.Schema, dumpers: dict[str, Any]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(f.name, pa.large_binary()) if f.name in dumpers else f for f in wire])


def _close(conn: Any) -> None:
    _quietly(conn.close)


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception:  # the connection may already be gone; the original error matters more
        return


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
            if self.conn.broken or issubclass(classify(exc).kind, ConnectionLost):
                lost = translate(exc, "running checks", secrets=self.secrets)
                raise ConnectionLost(lost.message) from None
            raise ConnectorError(query_message(exc, self.secrets)) from None
        return [d.name for d in cursor.description or []], rows

    def tables(self) -> list[TableRef]:
        from psycopg import sql

        _, rows = self.query(catalog.TABLES_SQL.format(schema=sql.Literal(None).as_string()))
        return [TableRef(str(name), str(schema)) for schema, name in rows]


def open(params: PostgresParams) -> PostgresDestination:
    """The destination `params` describe (see `datakit.connectors.engines`)."""
    return PostgresDestination(params)
