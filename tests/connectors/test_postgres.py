"""PostgreSQL source and destination against the real Pagila database: every table, every type, exactly."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from datakit.connectors import DuckDBParams, Incremental, PostgresParams, ReadRequest, TableRef, pipe
from datakit.connectors.engines.duckdb.destination import DuckDBDestination
from datakit.connectors.engines.postgres.destination import PostgresDestination
from datakit.connectors.engines.postgres.source import PostgresSource
from tests.connectors.checksums import arrow_checksums, pg_checksums
from tests.pagila import UNSCALED_ROWS

pytestmark = pytest.mark.postgres
TABLES = sorted(UNSCALED_ROWS)


def read_all(source: PostgresSource, request: ReadRequest) -> pa.Table:
    batches = list(source.read(request))
    assert all(b.num_rows <= request.batch_size for b in batches)
    return pa.Table.from_batches(batches, schema=source.arrow_schema(request))


@pytest.mark.parametrize("name", TABLES)
def test_read_matches_postgres_checksums(pagila: PostgresParams, name: str) -> None:
    source = PostgresSource(pagila)
    table = TableRef(name, "public")
    columns = source.columns(table)
    data = read_all(source, ReadRequest(table=table))
    with psycopg.connect(pagila.conninfo()) as conn:
        expected = pg_checksums(conn, f"public.{name}", columns)
    assert expected["#rows"] == UNSCALED_ROWS[name]
    assert arrow_checksums(data, columns) == expected


@pytest.mark.parametrize("name", TABLES)
def test_round_trip_to_postgres_and_duckdb(
    pagila: PostgresParams, scratch_schema: str, tmp_path: Path, name: str
) -> None:
    source = PostgresSource(pagila)
    table = TableRef(name, "public")
    columns = source.columns(table)
    with psycopg.connect(pagila.conninfo()) as conn:
        expected = pg_checksums(conn, f"public.{name}", columns)

    # -> PostgreSQL, through the concurrent pipe, into a copy with Pagila's own types (enum, domain, tsvector)
    target = TableRef(name, scratch_schema)
    destination = PostgresDestination(pagila)
    with destination.transaction() as tx:
        tx.execute(f"CREATE TABLE {tx.quote(scratch_schema, name)} (LIKE public.{tx.quote(name)})")
        written = pipe(source.read(ReadRequest(table=table, batch_size=4096)), lambda b: tx.write(target, b))
    assert written == UNSCALED_ROWS[name]
    with psycopg.connect(pagila.conninfo()) as conn:
        assert pg_checksums(conn, f'"{scratch_schema}"."{name}"', columns) == expected

    # -> DuckDB, into a table DuckDB types from the Arrow schema, read back as Arrow
    duck = DuckDBDestination(DuckDBParams(database=str(tmp_path / "rt.duckdb")))
    schema = source.arrow_schema(ReadRequest(table=table))
    with duck.transaction() as tx:
        _create_duckdb_table(tx, name, schema)
        assert tx.write(TableRef(name), source.read(ReadRequest(table=table))) == UNSCALED_ROWS[name]
    import duckdb

    with duckdb.connect(str(tmp_path / "rt.duckdb")) as conn:
        back = conn.sql(f'SELECT * FROM "{name}"').to_arrow_table()
    assert arrow_checksums(back, columns) == expected


def _create_duckdb_table(tx: object, name: str, schema: pa.Schema) -> None:
    """DuckDB's own type for each Arrow field, via an empty Arrow table."""
    import duckdb

    conn = tx._conn  # type: ignore[attr-defined]  # test-only: let DuckDB derive column types
    assert isinstance(conn, duckdb.DuckDBPyConnection)
    empty = schema.empty_table()  # noqa: F841 - referenced by name from SQL
    conn.execute(f'CREATE TABLE "{name}" AS SELECT * FROM empty')


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_small_batches_give_identical_data(pagila: PostgresParams, batch_size: int) -> None:
    source = PostgresSource(pagila)
    table = TableRef("film", "public")
    whole = read_all(source, ReadRequest(table=table, order_by=["film_id"]))
    small = read_all(source, ReadRequest(table=table, order_by=["film_id"], batch_size=batch_size))
    assert small.num_rows == whole.num_rows == UNSCALED_ROWS["film"]
    assert small.equals(whole)


@pytest.mark.parametrize(
    ("cursor", "lower", "inclusive", "where"),
    [
        ("rental_id", 16000, False, "rental_id > 16000"),
        ("rental_id", 16000, True, "rental_id >= 16000"),
        ("rental_date", "2022-08-01 00:00:00+00", False, "rental_date > '2022-08-01 00:00:00+00'"),
        ("rental_date", "2022-08-01 00:00:00+00", True, "rental_date >= '2022-08-01 00:00:00+00'"),
    ],
)
def test_incremental_bounds(
    pagila: PostgresParams, cursor: str, lower: object, inclusive: bool, where: str
) -> None:
    source = PostgresSource(pagila)
    request = ReadRequest(
        table=TableRef("rental", "public"), incremental=Incremental(cursor, lower, inclusive)
    )
    with psycopg.connect(pagila.conninfo()) as conn:
        rows = conn.execute(f"SELECT rental_id FROM public.rental WHERE {where} ORDER BY 1").fetchall()
    expected = [r[0] for r in rows]
    assert 0 < len(expected) < UNSCALED_ROWS["rental"]
    got = sorted(read_all(source, request).column("rental_id").to_pylist())
    assert got == expected
    assert source.count(request) == len(expected)


def test_incremental_on_a_query_with_target_schema(pagila: PostgresParams) -> None:
    source = PostgresSource(pagila)
    schema = pa.schema([("payment_id", pa.int64()), ("amount", pa.decimal128(7, 2))])
    request = ReadRequest(
        query="SELECT payment_id, amount, payment_date FROM public.payment",
        columns=["payment_id", "amount"],
        incremental=Incremental("payment_id", 32000, inclusive=True),
        order_by=["payment_id"],
        schema=schema,
    )
    data = read_all(source, request)
    assert data.schema == schema
    with psycopg.connect(pagila.conninfo()) as conn:
        count, total = conn.execute(
            "SELECT count(*), sum(amount) FROM public.payment WHERE payment_id >= 32000"
        ).fetchone()
    assert data.num_rows == count
    assert pa.compute.sum(data.column("amount")).as_py() == total
    first = ReadRequest(table=TableRef("rental", "public"), incremental=Incremental("rental_date", None))
    assert source.count(first) == UNSCALED_ROWS["rental"]  # lower=None: first load, every row


def test_lossy_target_schema_fails_loudly(pagila: PostgresParams) -> None:
    from datakit.connectors import SchemaMismatch

    source = PostgresSource(pagila)
    narrow = pa.schema([("amount", pa.decimal128(5, 1))])  # 2.99 does not fit one decimal place
    with pytest.raises(SchemaMismatch, match="amount"):
        list(source.read(ReadRequest(table=TableRef("payment", "public"), columns=["amount"], schema=narrow)))


def test_catalog_and_estimates(pagila: PostgresParams) -> None:
    source = PostgresSource(pagila)
    columns = {c.name: c for c in source.columns(TableRef("film", "public"))}
    assert columns["rating"].base_type == "enum"
    assert columns["release_year"].db_type == "year" and columns["release_year"].base_type == "integer"
    assert columns["replacement_cost"].arrow_type == pa.decimal128(5, 2)
    assert not columns["title"].nullable and columns["description"].nullable
    assert TableRef("payment", "public") in source.tables("public")
    with psycopg.connect(pagila.conninfo(), autocommit=True) as conn:
        conn.execute("ANALYZE public.payment")
    estimate = source.estimate_rows(TableRef("payment", "public"))
    assert estimate is not None and abs(estimate - UNSCALED_ROWS["payment"]) < 100


@pytest.mark.parametrize("kind", ["postgres", "duckdb"])
def test_failed_write_leaves_target_untouched(
    pagila: PostgresParams, scratch_schema: str, tmp_path: Path, kind: str
) -> None:
    source = PostgresSource(pagila)
    request = ReadRequest(table=TableRef("rental", "public"), batch_size=1000)
    if kind == "postgres":
        destination: PostgresDestination | DuckDBDestination = PostgresDestination(pagila)
        target = TableRef("rental", scratch_schema)
    else:
        destination = DuckDBDestination(DuckDBParams(database=str(tmp_path / "fail.duckdb")))
        target = TableRef("rental")
    schema = source.arrow_schema(request)
    with destination.transaction() as tx:
        cols = "rental_id integer, rental_date timestamptz, inventory_id integer, customer_id integer, "
        cols += "return_date timestamptz, staff_id integer, last_update timestamptz"
        name = tx.quote(*([target.schema] if target.schema else []), target.name)
        tx.execute(f"CREATE TABLE {name} ({cols})")
        tx.write(target, [next(source.read(ReadRequest(table=TableRef("rental", "public"), batch_size=10)))])
    assert schema.names[0] == "rental_id"

    def failing() -> object:
        for i, batch in enumerate(source.read(request)):
            if i == 3:
                raise RuntimeError("source died mid-stream")
            yield batch

    def reload() -> None:
        with destination.transaction() as tx:
            tx.execute(f"DELETE FROM {name}")  # part of the same transaction: rolled back too
            pipe(failing(), lambda b: tx.write(target, b))  # type: ignore[arg-type]

    with pytest.raises(RuntimeError, match="mid-stream"):
        reload()
    with destination.transaction() as tx:
        assert tx.query(f"SELECT count(*) FROM {name}")[0][0] == 10


def test_server_side_failure_rolls_back(pagila: PostgresParams, scratch_schema: str) -> None:
    from datakit.connectors import ConnectorError

    source = PostgresSource(pagila)
    destination = PostgresDestination(pagila)
    target = TableRef("payment", scratch_schema)
    with destination.transaction() as tx:
        tx.execute(f"CREATE TABLE {tx.quote(scratch_schema, 'payment')} (LIKE public.payment)")
        tx.execute(f"ALTER TABLE {tx.quote(scratch_schema, 'payment')} ADD CHECK (payment_id < 20000)")

    def load() -> None:
        with destination.transaction() as tx:
            tx.write(target, source.read(ReadRequest(table=TableRef("payment", "public"), batch_size=2000)))

    with pytest.raises(ConnectorError, match="check constraint"):
        load()
    with destination.transaction() as tx:
        assert tx.query(f"SELECT count(*) FROM {tx.quote(scratch_schema, 'payment')}")[0][0] == 0


def test_write_rejects_unknown_column_with_suggestion(pagila: PostgresParams, scratch_schema: str) -> None:
    from datakit.connectors import SchemaMismatch

    destination = PostgresDestination(pagila)
    batch = pa.record_batch({"actor_idd": pa.array([1], pa.int32())})
    with destination.transaction() as tx:
        tx.execute(f"CREATE TABLE {tx.quote(scratch_schema, 'actor')} (LIKE public.actor)")

    def write() -> None:
        with destination.transaction() as tx:
            tx.write(TableRef("actor", scratch_schema), [batch])

    with pytest.raises(SchemaMismatch, match="actor_idd") as err:
        write()
    assert err.value.hint is not None and "actor_id" in err.value.hint


EXOTIC = """
SELECT g AS id,
       timestamp '2024-01-01 00:00:00' + g * interval '1 second 7 microseconds' AS ts,
       (g || '.' || g % 1000)::numeric AS free_numeric,
       md5(g::text)::uuid AS id_uuid,
       jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)) AS doc,
       json_build_object('g', g) AS doc_json,
       ('v' || g)::varchar(12) AS short_text,
       decode(lpad(to_hex(g), 8, '0'), 'hex') AS blob,
       g * interval '1 minute' AS span,
       ARRAY[g, g + 1]::int[] AS pair,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'x' || g END AS maybe
FROM generate_series(1, 5000) AS g
"""


def test_exotic_types_read_exactly_and_round_trip(pagila: PostgresParams, scratch_schema: str) -> None:
    """timestamp, numeric without precision, uuid, jsonb, bytea, interval, int[] through a query and back."""
    source = PostgresSource(pagila)
    request = ReadRequest(query=EXOTIC, order_by=["id"], batch_size=999)
    schema = source.arrow_schema(request)
    assert schema.field("ts").type == pa.timestamp("us")
    assert schema.field("free_numeric").type == pa.string()  # no precision: text is the exact form
    assert schema.field("pair").type == pa.list_(pa.int32())
    data = read_all(source, request)
    row = data.slice(41, 1).to_pylist()[0]
    with psycopg.connect(pagila.conninfo()) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        expected = conn.execute(
            "SELECT ts, free_numeric::text, id_uuid::text, doc::text, blob, pair "
            f"FROM ({EXOTIC}) q WHERE id = 42"
        ).fetchone()
    assert expected is not None
    assert (row["ts"], row["free_numeric"], row["id_uuid"], row["doc"]) == expected[:4]
    assert (row["blob"], row["pair"]) == (bytes(expected[4]), expected[5])

    destination = PostgresDestination(pagila)
    target = TableRef("exotic", scratch_schema)
    with destination.transaction() as tx:
        tx.execute(f"CREATE TABLE {tx.quote(scratch_schema, 'exotic')} AS {EXOTIC} LIMIT 0")
        assert tx.write(target, source.read(request)) == 5000
        same = tx.query(
            f"SELECT count(*) FROM ({EXOTIC}) a FULL JOIN {tx.quote(scratch_schema, 'exotic')} b USING (id) "
            "WHERE a::text IS DISTINCT FROM b::text"
        )
    assert same[0][0] == 0
