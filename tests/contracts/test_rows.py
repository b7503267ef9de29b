"""Rows of a table model to and from Arrow: the same values Arrow and Pydantic give, a column at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from sqlmodel import Field, SQLModel

from datakit.contracts.rows import ModelRows, python_values

WHEN = datetime(2024, 2, 29, 23, 59, 58, 123456)
AT = WHEN.replace(tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "array",
    [
        pa.array([date(2024, 2, 29), None, date(1, 1, 1), date(9999, 12, 31)], pa.date32()),
        pa.array([WHEN, None, datetime(1, 1, 1)], pa.timestamp("us")),
        pa.array([WHEN.replace(microsecond=0), None], pa.timestamp("s")),
        pa.array([WHEN.replace(microsecond=123000), None], pa.timestamp("ms")),
        pa.array(
            [WHEN.replace(tzinfo=UTC), None, datetime(9999, 12, 31, tzinfo=UTC)], pa.timestamp("us", "UTC")
        ),
        pa.array([AT.replace(microsecond=123000), None], pa.timestamp("ms", "+00:00")),
        pa.array([WHEN.replace(tzinfo=PARIS), None], pa.timestamp("us", "Europe/Paris")),
        pa.array([1, None, 3], pa.int32()),
        pa.array(["a", None], pa.string()),
    ],
    ids=lambda array: str(array.type),
)
def test_python_values_are_arrows_own(array: pa.Array) -> None:
    ours, arrows = python_values(array), array.to_pylist()
    assert ours == arrows
    assert [type(v) for v in ours] == [type(v) for v in arrows]
    assert [v.utcoffset() if isinstance(v, datetime) else None for v in ours] == [
        v.utcoffset() if isinstance(v, datetime) else None for v in arrows
    ]


class Reading(SQLModel, table=True):
    __tablename__ = "dk_test_reading"
    id: int = Field(primary_key=True)
    value: float
    taken: datetime
    note: str | None = None


def test_objects_are_the_models_with_the_values_pydantic_gives() -> None:
    batch = pa.RecordBatch.from_pylist(
        [{"id": 1, "value": "2", "taken": "2024-01-02T03:04:05Z"}, {"id": 2, "value": "x", "taken": "now"}]
    )
    objects, failures = ModelRows(Reading).objects(batch)
    first, second = list(objects)
    assert isinstance(first, Reading)
    assert first.model_dump() == Reading.model_validate(batch.to_pylist()[0]).model_dump()
    assert first.model_fields_set == {"id", "value", "taken"}
    assert (first.value, first.taken, first.note) == (2.0, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None)
    assert second is None
    assert [(f.row, f.column, f.reason) for f in failures] == [
        (1, "value", "value: Input should be a valid number, unable to parse string as a number")
    ]


def test_results_come_out_in_the_contracts_schema_and_order() -> None:
    rows = ModelRows(Reading)
    out, failures = rows.batch(
        [
            Reading(id=1, value=1.5, taken=AT),
            {"id": 2, "value": 2.5, "taken": AT, "note": "n"},
            Reading(id=3, value=0.5),  # `taken` is required
            "neither",
        ]
    )
    assert out.schema == rows.schema
    assert out.to_pylist() == [
        {"id": 1, "value": 1.5, "taken": AT, "note": None},
        {"id": 2, "value": 2.5, "taken": AT, "note": "n"},
    ]
    assert [(f.row, f.column, f.reason) for f in failures] == [
        (2, "taken", "taken: Field required"),
        (3, None, "returned str, not a Reading or a mapping"),
    ]


def test_a_value_of_another_type_makes_its_column_text_for_the_contract_to_read() -> None:
    rows = ModelRows(Reading)
    out, failures = rows.batch([Reading(id=1, value=1.5, taken=AT), Reading(id=2, value="lots", taken=AT)])
    assert failures == []
    assert out.schema.field("value").type == pa.string()
    assert out.column("value").to_pylist() == ["1.5", "lots"]
    assert out.schema.field("taken") == rows.schema.field("taken")
