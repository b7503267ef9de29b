"""The numpy binary COPY encoder: every covered type, NULLs and edge values survive PostgreSQL exactly;
and rental, the benchmark's table, reads back exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from datakit.connectors import PostgresParams, ReadRequest, TableRef
from datakit.connectors.engines.postgres import pgwire
from datakit.connectors.engines.postgres.destination import PostgresDestination
from datakit.connectors.engines.postgres.source import PostgresSource
from tests.connectors.checksums import arrow_checksums, pg_checksums

pytestmark = pytest.mark.postgres
UTC = dt.UTC

# (column, PostgreSQL type, Arrow type, values) -- values include NULLs and the awkward cases.
COLUMNS: list[tuple[str, str, pa.DataType, list[Any]]] = [
    ("i2", "smallint", pa.int16(), [0, -32768, 32767, None, 7]),
    ("i4", "integer", pa.int32(), [0, -(2**31), 2**31 - 1, 5, None]),
    ("i8", "bigint", pa.int64(), [None, -(2**63), 2**63 - 1, 0, 1]),
    ("f4", "real", pa.float32(), [1.5, float("inf"), -0.0, None, float("-inf")]),
    ("f8", "double precision", pa.float64(), [0.1, 1e308, -5e-324, float("inf"), None]),
    ("b", "boolean", pa.bool_(), [True, False, None, True, False]),
    (
        "d",
        "date",
        pa.date32(),
        [dt.date(2000, 1, 1), dt.date(1, 1, 1), None, dt.date(9999, 12, 31), dt.date(1970, 1, 1)],
    ),
    (
        "t",
        "time",
        pa.time64("us"),
        [dt.time(0, 0), dt.time(23, 59, 59, 999999), None, dt.time(12, 0, 0, 1), dt.time(1)],
    ),
    (
        "ts",
        "timestamp",
        pa.timestamp("us"),
        [
            dt.datetime(2000, 1, 1),
            dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
            None,
            dt.datetime(2262, 4, 11),
            dt.datetime(1, 1, 1),
        ],
    ),
    (
        "tstz",
        "timestamptz",
        pa.timestamp("us", tz="UTC"),
        [
            dt.datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC),
            None,
            dt.datetime(1900, 1, 1, tzinfo=UTC),
            dt.datetime(2000, 1, 1, tzinfo=UTC),
            dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
        ],
    ),
    (
        "span",
        "interval",
        pa.month_day_nano_interval(),
        [
            pa.MonthDayNano([1, 2, 3000]),
            pa.MonthDayNano([0, 0, 86_400_000_000_000]),
            None,
            pa.MonthDayNano([-1, -2, -3000]),
            pa.MonthDayNano([0, 1, 0]),
        ],
    ),
    (
        "n52",
        "numeric(5,2)",
        pa.decimal128(5, 2),
        [Decimal("999.99"), Decimal("-999.99"), Decimal("0.00"), None, Decimal("0.01")],
    ),
    (
        "n44",
        "numeric(4,4)",
        pa.decimal128(4, 4),
        [Decimal("0.9999"), Decimal("-0.0001"), None, Decimal("0.0000"), Decimal("0.1")],
    ),
    (
        "n184",
        "numeric(18,4)",
        pa.decimal128(18, 4),
        [
            Decimal("99999999999999.9999"),
            Decimal("-12345678901234.5678"),
            Decimal("10000"),
            None,
            Decimal("0.0001"),
        ],
    ),
    (
        "n100",
        "numeric(10,0)",
        pa.decimal128(10, 0),
        [Decimal("9999999999"), Decimal("-1"), Decimal("10000"), Decimal("0"), None],
    ),
    (
        "n3812",
        "numeric(38,12)",
        pa.decimal128(38, 12),
        [
            Decimal("12345678901234567890123456.123456789012"),
            None,
            Decimal("-1.5"),
            Decimal("0"),
            Decimal("1"),
        ],
    ),
    ("txt", "text", pa.string(), ["plain", "", None, 'quote " and \\ backslash\nnew\tline', "ünïcødé ✓ 𝄞"]),
    ("vc", "varchar(8)", pa.string(), ["a", None, "12345678", "", "é"]),
    ("same", "text", pa.string(), ["abcd", "efgh", "ijkl", "mnop", "qrst"]),
    ("blob", "bytea", pa.binary(), [b"\x00\x01\xff", b"", None, b"\\x00", bytes(range(256))]),
    ("ints", "integer[]", pa.list_(pa.int32()), [[1, 2, None], [], None, [-(2**31)], [0]]),
    ("tags", "text[]", pa.list_(pa.string()), [["a", 'b"c', None], [], None, ["{x}"], ["é"]]),
]


def _batch(rows: int = 5, offset: int = 0) -> pa.RecordBatch:
    arrays = {name: pa.array(values, kind) for name, _, kind, values in COLUMNS}
    return pa.record_batch(arrays).slice(offset, rows)


@pytest.fixture
def typed_table(pagila: PostgresParams, scratch_schema: str) -> TableRef:
    ddl = ", ".join(f"{name} {pg_type}" for name, pg_type, _, _ in COLUMNS)
    with psycopg.connect(pagila.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{scratch_schema}".typed (pos serial, {ddl})')
    return TableRef("typed", scratch_schema)


def test_encodable_types() -> None:
    batch = _batch()
    covered = {name for name in batch.schema.names if pgwire.encodable(pa.schema([batch.schema.field(name)]))}
    assert covered == set(batch.schema.names) - {"n3812", "ints", "tags"}
    assert pgwire.copy_order(batch.schema)[-4:] == ["txt", "vc", "same", "blob"]


@pytest.mark.parametrize("offset", [0, 1])
def test_values_survive_the_trip_through_postgres(
    pagila: PostgresParams, typed_table: TableRef, offset: int
) -> None:
    batch = _batch(5 - offset, offset)
    with PostgresDestination(pagila).transaction() as tx:
        assert tx.write(typed_table, [batch, batch.slice(0, 0), batch]) == 2 * batch.num_rows
    names = [name for name, _, _, _ in COLUMNS]
    with psycopg.connect(pagila.conninfo()) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        found = conn.execute(
            f'SELECT {", ".join(names)}, span::text FROM "{typed_table.schema}".typed ORDER BY pos'
        ).fetchall()
    expected = batch.to_pylist()
    spans = _interval_texts(pagila, batch)
    assert len(found) == 2 * len(expected)
    for index, (got, want) in enumerate(zip(found, expected * 2, strict=True)):
        for name, value in zip(names, got, strict=False):
            wanted = want[name]
            if name == "span":
                assert got[-1] == spans[index % len(spans)]  # exactly, through the text form
            elif isinstance(wanted, float) and isinstance(value, float):
                assert str(value) == str(wanted), name  # -0.0 and inf too
            else:
                assert value == wanted, name


def _interval_texts(pagila: PostgresParams, batch: pa.RecordBatch) -> list[str | None]:
    out: list[str | None] = []
    with psycopg.connect(pagila.conninfo()) as conn:
        for value in batch.column("span").to_pylist():
            if value is None:
                out.append(None)
                continue
            months, days, nanos = value
            row = conn.execute(
                "SELECT make_interval(months => %s, days => %s, secs => %s / 1e9)::text",
                (months, days, nanos),
            ).fetchone()
            assert row is not None
            out.append(row[0])
    return out


def test_interval_with_nanoseconds_is_refused(pagila: PostgresParams, typed_table: TableRef) -> None:
    from datakit.connectors import ConnectorError

    batch = pa.record_batch({"span": pa.array([pa.MonthDayNano([0, 0, 1])], pa.month_day_nano_interval())})
    with pytest.raises(ConnectorError, match="nanoseconds"), PostgresDestination(pagila).transaction() as tx:
        tx.write(typed_table, [batch])


def test_rental_reads_exactly(pagila: PostgresParams) -> None:
    """rental (the benchmark's table: fixed-width columns, a nullable return_date) matches PostgreSQL."""
    source = PostgresSource(pagila)
    table = TableRef("rental", "public")
    columns = source.columns(table)
    request = ReadRequest(table=table, batch_size=1000)
    batches = list(source.read(request))
    assert all(b.num_rows <= 1000 for b in batches)
    data = pa.Table.from_batches(batches, schema=source.arrow_schema(request))
    with psycopg.connect(pagila.conninfo()) as conn:
        assert arrow_checksums(data, columns) == pg_checksums(conn, "public.rental", columns)
    assert data.column("rental_id").null_count == 0
    assert data.column("return_date").null_count > 0


def test_read_with_incremental_predicate_and_order(pagila: PostgresParams) -> None:
    from datakit.connectors import Incremental

    source = PostgresSource(pagila)
    request = ReadRequest(
        table=TableRef("rental", "public"),
        incremental=Incremental("rental_id", 16000),
        order_by=["rental_id"],
        batch_size=10,
    )
    ids = [v for b in source.read(request) for v in b.column("rental_id").to_pylist()]
    with psycopg.connect(pagila.conninfo()) as conn:
        expected = [
            r[0] for r in conn.execute("SELECT rental_id FROM rental WHERE rental_id > 16000 ORDER BY 1")
        ]
    assert ids == expected
