"""The vectorized validator: exact rejections, conversions, and the partition property."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakit.contracts.casting import cast_column
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract
from datakit.contracts.spec import contract_from_spec
from datakit.contracts.validate import validate_batch

CONTRACT = contract_from_spec(
    {
        "table": "orders",
        "primary_key": ["id"],
        "columns": {
            "id": {"type": "integer"},
            "email": {"type": "string", "max_length": 20, "pattern": "^[^@]+@[^@]+$"},
            "rating": {"type": "string", "accepted_values": ["G", "PG"]},
            "amount": {"type": "decimal", "precision": 5, "scale": 2, "min": 0},
            "qty": {"type": "smallint", "max": 100},
            "day": {"type": "date"},
            "at": {"type": "timestamptz"},
            "ok": {"type": "boolean"},
            "doc": {"type": "json"},
            "ref": {"type": "uuid"},
        },
    }
)
GOOD_ROW = {
    "id": "1",
    "email": "a@b.c",
    "rating": "G",
    "amount": "12.50",
    "qty": "3",
    "day": "2022-05-24",
    "at": "2022-05-24 22:53:30+00",
    "ok": "true",
    "doc": '{"a": [1, 2]}',
    "ref": "123e4567-e89b-12d3-a456-426614174000",
}
# one bad value per kind: (column, value, rule, reason)
BAD = {
    "not_a_number": ("id", "x1", "type", "cannot convert 'x1' to int32"),
    "overflow": ("id", "99999999999", "type", "cannot convert '99999999999' to int32"),
    "null_key": ("id", None, "not_null", "null in a column that is not nullable"),
    "too_long": (
        "email",
        "someone@example.com.au",
        "max_length",
        "'someone@example.com.au' is longer than 20 characters",
    ),
    "no_at": ("email", "nobody", "pattern", "'nobody' does not match ^[^@]+@[^@]+$"),
    "unknown_rating": ("rating", "R", "accepted_values", "'R' is not one of G, PG"),
    "negative": ("amount", "-0.01", "range", "'-0.01' is below the minimum 0"),
    "too_precise": ("amount", "1.005", "type", "cannot convert '1.005' to decimal(5,2)"),
    "too_big": ("amount", "1000", "type", "cannot convert '1000' to decimal(5,2)"),
    "above_max": ("qty", "101", "range", "'101' is above the maximum 100"),
    "smallint_overflow": ("qty", "40000", "type", "cannot convert '40000' to int16"),
    "february_30": ("day", "2023-02-30", "type", "cannot convert '2023-02-30' to date"),
    "bad_time": ("at", "soon", "type", "cannot convert 'soon' to timestamptz"),
    "bad_bool": ("ok", "maybe", "type", "cannot convert 'maybe' to boolean"),
    "bad_json": ("doc", "{bad", "type", "'{bad' is not valid JSON"),
    "bad_uuid": ("ref", "nope", "type", "'nope' is not a UUID (8-4-4-4-12 hexadecimal digits)"),
}


def batch_of(rows: list[dict[str, str | None]]) -> pa.RecordBatch:
    names = list(GOOD_ROW)
    return pa.record_batch({name: pa.array([row[name] for row in rows], pa.string()) for name in names})


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_rule_rejects_with_its_reason(kind: str) -> None:
    column, value, rule, reason = BAD[kind]
    rows = [dict(GOOD_ROW, id=str(index)) for index in range(3)]
    rows[1][column] = value
    result = validate_batch(CONTRACT, batch_of(rows))
    assert result.good.num_rows == 2
    assert result.good.column("id").to_pylist() == [0, 2]
    [rejected] = result.rejected.to_pylist()
    assert rejected["_dk_row_index"] == 1
    assert (rejected["_dk_failed_column"], rejected["_dk_failed_rule"], rejected["_dk_reason"]) == (
        column,
        rule,
        reason,
    )
    assert rejected[column] == value  # the raw value, as text
    others = {name: rejected[name] for name in GOOD_ROW if name not in (column, "id")}
    assert others == {name: GOOD_ROW[name] for name in others}


def test_good_rows_come_out_typed() -> None:
    result = validate_batch(CONTRACT, batch_of([GOOD_ROW]))
    assert result.rejected.num_rows == 0
    assert result.good.schema.field("amount").type == pa.decimal128(5, 2)
    assert result.good.to_pylist() == [
        {
            "id": 1,
            "email": "a@b.c",
            "rating": "G",
            "amount": Decimal("12.50"),
            "qty": 3,
            "day": date(2022, 5, 24),
            "at": datetime(2022, 5, 24, 22, 53, 30, tzinfo=UTC),
            "ok": True,
            "doc": '{"a": [1, 2]}',
            "ref": "123e4567-e89b-12d3-a456-426614174000",
        }
    ]


KINDS = sorted(BAD)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["good", *KINDS]), min_size=1, max_size=60))
def test_every_row_is_either_good_or_rejected_with_its_own_reason(kinds: list[str]) -> None:
    rows = []
    for index, kind in enumerate(kinds):
        row: dict[str, str | None] = dict(GOOD_ROW, id=str(index))
        if kind != "good":
            column, value, _, _ = BAD[kind]
            row[column] = value
        rows.append(row)
    result = validate_batch(CONTRACT, batch_of(rows))
    assert result.good.num_rows + result.rejected.num_rows == len(rows)
    assert result.good.column("id").to_pylist() == [
        index for index, kind in enumerate(kinds) if kind == "good"
    ]
    rejected = result.rejected.to_pylist()
    assert [row["_dk_row_index"] for row in rejected] == [i for i, kind in enumerate(kinds) if kind != "good"]
    for row in rejected:
        column, value, rule, reason = BAD[kinds[row["_dk_row_index"]]]
        assert (row["_dk_failed_column"], row["_dk_failed_rule"], row["_dk_reason"]) == (column, rule, reason)
        assert row[column] == value
    assert sum(result.rejected_by_rule().values()) == len(rejected)


def test_first_broken_rule_wins_in_column_then_rule_order() -> None:
    row = dict(GOOD_ROW, email="x" * 30, rating="R", amount="-5")
    [rejected] = validate_batch(CONTRACT, batch_of([row])).rejected.to_pylist()
    assert (rejected["_dk_failed_column"], rejected["_dk_failed_rule"]) == ("email", "max_length")


def test_missing_required_column_is_a_contract_error() -> None:
    batch = pa.record_batch({"email": pa.array(["a@b"])})
    with pytest.raises(ContractError, match="orders: the batch lacks required column id") as info:
        validate_batch(CONTRACT, batch)
    assert info.value.hint == "the batch has: email"


def test_missing_nullable_columns_are_filled_and_extra_columns_reported() -> None:
    batch = pa.record_batch({"extra": pa.array([7]), "id": pa.array([1], pa.int64())})
    result = validate_batch(CONTRACT, batch)
    assert result.missing_columns == tuple(name for name in GOOD_ROW if name != "id")
    assert result.extra_columns == ("extra",)
    assert result.good.schema.names == list(GOOD_ROW)
    assert result.good.column("email").to_pylist() == [None]
    kept = validate_batch(CONTRACT, batch, keep_extra=True)
    assert kept.good.schema.names == [*GOOD_ROW, "extra"]
    assert kept.good.column("extra").to_pylist() == [7]


def test_repeated_column_names_are_a_contract_error() -> None:
    batch = pa.RecordBatch.from_arrays([pa.array([1]), pa.array([2])], names=["id", "id"])
    with pytest.raises(ContractError, match="repeats columns id"):
        validate_batch(CONTRACT, batch)


def test_rejected_table_has_its_schema_when_empty() -> None:
    result = validate_batch(CONTRACT, batch_of([GOOD_ROW]))
    assert result.rejected.num_rows == 0
    assert result.rejected.schema.names == [
        *GOOD_ROW,
        "_dk_row_index",
        "_dk_failed_column",
        "_dk_failed_rule",
        "_dk_reason",
    ]
    assert result.rejected_by_rule() == {}


def typed(name: str, kind: str, **rules: object) -> Contract:
    return contract_from_spec({"table": "t", "columns": {name: {"type": kind, **rules}}})


def reasons(contract: Contract, array: pa.Array) -> list[tuple[int, str]]:
    result = validate_batch(contract, pa.record_batch({contract.columns[0].name: array}))
    return [(row["_dk_row_index"], row["_dk_reason"]) for row in result.rejected.to_pylist()]


def test_typed_sources_are_checked_too() -> None:
    assert reasons(typed("v", "int32"), pa.array([1, 2**40, -3], pa.int64())) == [
        (1, "cannot convert '1099511627776' to int32")
    ]
    assert reasons(typed("v", "int16"), pa.array([1.0, 2.5, float("nan")])) == [
        (1, "cannot convert '2.5' to int16"),
        (2, "cannot convert 'nan' to int16"),
    ]
    assert reasons(typed("v", "decimal(4,2)"), pa.array([Decimal("1.234"), Decimal("1.20")])) == [
        (0, "cannot convert '1.234' to decimal(4,2)")
    ]
    nanos = pa.array([1_653_432_810_123_456_789], pa.timestamp("ns", tz="UTC"))
    result = validate_batch(typed("v", "timestamptz"), pa.record_batch({"v": nanos}))
    assert result.good.column("v").to_pylist() == [datetime(2022, 5, 24, 22, 53, 30, 123456, tzinfo=UTC)]


def test_timestamp_strings() -> None:
    strings = pa.array(
        [
            "2022-05-24 22:53:30+00",
            "2022-05-24T22:53:30Z",
            "2022-05-24 22:53:30",  # no offset: read as UTC
            "2022-05-24",
            "2022-05-25 00:53:30.123456789+02:00",  # nanoseconds: truncated to microseconds
            "2022-05-24 25:00:00",
        ]
    )
    result = validate_batch(typed("v", "timestamptz"), pa.record_batch({"v": strings}))
    assert result.good.column("v").to_pylist() == [
        datetime(2022, 5, 24, 22, 53, 30, tzinfo=UTC),
        datetime(2022, 5, 24, 22, 53, 30, tzinfo=UTC),
        datetime(2022, 5, 24, 22, 53, 30, tzinfo=UTC),
        datetime(2022, 5, 24, tzinfo=UTC),
        datetime(2022, 5, 24, 22, 53, 30, 123456, tzinfo=UTC),
    ]
    assert result.rejected.column("_dk_row_index").to_pylist() == [5]
    naive = validate_batch(typed("v", "timestamp"), pa.record_batch({"v": strings}))
    assert naive.rejected.column("_dk_row_index").to_pylist() == [0, 1, 4, 5]  # zoned text for a naive column


def test_time_strings_and_hex_integers() -> None:
    result = validate_batch(
        typed("v", "time"), pa.record_batch({"v": pa.array(["10:00", "23:59:59.5", "24:00", None])})
    )
    assert result.good.column("v").to_pylist() == [time(10), time(23, 59, 59, 500000), None]
    assert reasons(typed("v", "int32"), pa.array(["0x1F", "+1", "-7"])) == [
        (1, "cannot convert '+1' to int32")
    ]


def test_dictionary_and_large_strings_are_read_as_text() -> None:
    result = validate_batch(
        typed("v", "int32"), pa.record_batch({"v": pa.array(["1", "x", "1"]).dictionary_encode()})
    )
    assert result.good.column("v").to_pylist() == [1, 1]
    assert reasons(typed("v", "string", max_length=2), pa.array(["ab", "abc"], pa.large_string())) == [
        (1, "'abc' is longer than 2 characters")
    ]


def test_binary_uuids_become_canonical_text() -> None:
    value = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    array = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([value.bytes], pa.binary(16)))
    result = validate_batch(typed("v", "uuid"), pa.record_batch({"v": array}))
    assert result.good.column("v").to_pylist() == [str(value)]


def test_raw_values_of_any_type_survive_in_rejected_rows() -> None:
    contract = contract_from_spec(
        {
            "table": "t",
            "columns": {
                "id": {"type": "integer", "nullable": False},
                "blob": {"type": "binary"},
                "tags": {"type": "array<int32>"},
            },
        }
    )
    batch = pa.record_batch(
        {
            "id": pa.array([None, 1], pa.int32()),
            "blob": pa.array([b"\xff\x00", b"ok"]),
            "tags": pa.array([[1, 2], None], pa.list_(pa.int64())),
        }
    )
    [rejected] = validate_batch(contract, batch).rejected.to_pylist()
    assert rejected["blob"] == "\\xff00"
    assert rejected["tags"] == "[1, 2]"
    assert rejected["_dk_reason"] == "null in a column that is not nullable"


def test_long_values_are_cut_in_the_reason_but_kept_whole() -> None:
    value = "y" * 100
    [rejected] = validate_batch(
        typed("v", "string", max_length=5), pa.record_batch({"v": [value]})
    ).rejected.to_pylist()
    assert rejected["v"] == value
    assert rejected["_dk_reason"] == f"'{'y' * 60}…' is longer than 5 characters"


def test_a_type_without_any_conversion_is_schema_drift() -> None:
    batch = pa.record_batch({"v": pa.array([[1]], pa.list_(pa.int32()))})
    with pytest.raises(ContractError, match=r"t\.v: cannot convert list<item: int32> to int32"):
        validate_batch(typed("v", "int32"), batch)


def test_range_bounds_beyond_the_type_and_exclusive_bounds() -> None:
    assert reasons(typed("v", "int16", min=-100000, max=5), pa.array([5, 6], pa.int16())) == [
        (1, "'6' is above the maximum 5")
    ]
    assert reasons(typed("v", "float64", min=0, min_exclusive=True), pa.array([0.0, 0.5])) == [
        (0, "'0' is at or below the minimum 0.0")
    ]
    day = typed("v", "date", min="2020-01-01")
    assert reasons(day, pa.array([date(2019, 12, 31), date(2020, 1, 1)])) == [
        (0, "'2019-12-31' is below the minimum 2020-01-01")
    ]


# -- the cast is value by value: a value is accepted exactly when Arrow casts it alone ---------------------

ALPHABET = "0123456789-+.eExXaAfFnN :TZ"
TARGETS = [
    pa.int32(),
    pa.int8(),
    pa.float64(),
    pa.decimal128(5, 2),
    pa.bool_(),
    pa.date32(),
    pa.timestamp("us"),
]


def single(value: str | None, target: pa.DataType) -> object:
    try:
        return pc.cast(pa.array([value], pa.string()), target)[0].as_py()
    except pa.ArrowInvalid:
        return "FAILED"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(ALPHABET, max_size=12),
            st.sampled_from(
                ["1", "-1", "0x1F", "1e3", "inf", "true", "2022-01-01", "2022-01-01 10:00", "nan", ""]
            ),
            st.none(),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(TARGETS),
)
def test_cast_is_value_by_value(values: list[str | None], target: pa.DataType) -> None:
    cast = cast_column(pa.array(values, pa.string()), target)
    failed = cast.failed.to_pylist() if cast.failed is not None else [False] * len(values)
    got = cast.values.to_pylist()
    for value, is_failed, result in zip(values, failed, got, strict=True):
        expected = single(value, target)
        if expected == "FAILED":
            assert is_failed, (value, target)
        else:
            assert not is_failed, (value, target)
            both_nan = isinstance(result, float) and math.isnan(result) and math.isnan(float(str(expected)))
            assert result == expected or both_nan


TEMPORAL_SEEDS = [
    "2022-01-01T10:00:00Z",
    "2022-01-01 10:00:00+02",
    "2022-01-01 10:00:00.1234567",
    "2022-01-01",
    "10:00:00",
    "10:00",
    "2022-05-24 22:53:30-05",
]


@st.composite
def mangled(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(TEMPORAL_SEEDS))
    cut = draw(st.integers(0, len(base)))
    return base[:cut] + draw(st.text("0123456789-+.:TZ ", max_size=1)) + base[cut + draw(st.integers(0, 1)) :]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(mangled(), min_size=1, max_size=30),
    st.sampled_from([pa.timestamp("us"), pa.timestamp("us", tz="UTC"), pa.time64("us")]),
)
def test_temporal_parsing_does_not_depend_on_the_rest_of_the_batch(
    values: list[str], target: pa.DataType
) -> None:
    together = cast_column(pa.array(values), target)
    failed = together.failed.to_pylist() if together.failed is not None else [False] * len(values)
    for value, is_failed, result in zip(values, failed, together.values.to_pylist(), strict=True):
        alone = cast_column(pa.array([value]), target)
        assert (alone.failed is not None and alone.failed[0].as_py()) == is_failed, value
        assert alone.values[0].as_py() == result, value


def test_an_empty_batch_gives_empty_results() -> None:
    result = validate_batch(CONTRACT, batch_of([]))
    assert (result.good.num_rows, result.rejected.num_rows) == (0, 0)
    assert result.good.schema.field("id").type == pa.int32()


def test_nan_is_above_any_maximum_as_in_sql() -> None:
    assert reasons(typed("v", "float64", max=10), pa.array([1.0, float("nan")])) == [
        (1, "'nan' is above the maximum 10.0")
    ]
    assert reasons(typed("v", "float64", min=0), pa.array([1.0, float("nan")])) == []
