"""The drift rules themselves (no database): what a target holds, what widens, what is refused."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datakit.connectors.engines.postgres.engine import POSTGRES
from datakit.contracts import parse_type
from datakit.load.drift import Shape, holds, logical_from_arrow, plan_drift
from datakit.load.errors import DriftError
from datakit.load.plan import DriftMode
from tests.load.helpers import customer_contract


def shape(name: str, kind: str, length: int | None = None, nullable: bool = True) -> Shape:
    return Shape(name, parse_type(kind), length, nullable)


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        (("int64",), ("int32",), True),
        (("int32",), ("int64",), False),
        (("float64",), ("float32",), True),
        (("decimal(7,2)",), ("decimal(5,2)",), True),
        (("decimal(5,2)",), ("decimal(5,3)",), False),
        (("decimal(12,2)",), ("int32",), True),
        (("decimal(9,0)",), ("int32",), False),
        (("string", 20), ("string", 10), True),
        (("string", 10), ("string", 20), False),
        (("string",), ("string", 20), True),
        (("int32",), ("string",), False),
        (("array<int64>",), ("array<int32>",), True),
    ],
)
def test_holds(have: tuple, want: tuple, expected: bool) -> None:
    assert holds(shape("c", *have), shape("c", *want), lengths=True) is expected


def test_lengths_do_not_count_in_duckdb() -> None:
    assert holds(shape("c", "string", 10), shape("c", "string", 20), lengths=False)


def test_arrow_types_map_to_logical_types() -> None:
    assert str(logical_from_arrow(pa.uint32())) == "int64"
    assert str(logical_from_arrow(pa.timestamp("us", tz="UTC"))) == "timestamptz"
    assert str(logical_from_arrow(pa.list_(pa.string()))) == "array<string>"
    assert logical_from_arrow(pa.struct([("a", pa.int8())])) is None


LIVE = [
    shape("id", "int32", nullable=False),
    shape("name", "string", 20, nullable=False),
    shape("score", "int32"),
    shape("updated", "timestamptz", nullable=False),
]


def test_freeze_lists_every_difference_at_once() -> None:
    delivered = [
        shape("id", "int64"),
        shape("score", "boolean"),
        shape("updated", "timestamptz"),
        shape("x", "date"),
    ]
    with pytest.raises(DriftError) as caught:
        plan_drift(customer_contract(), delivered, LIVE, engine=POSTGRES, mode=DriftMode.FREEZE, table="t")
    message = str(caught.value)
    for part in ("added column x (date)", "dropped column name", "retyped column id", "retyped column score"):
        assert part in message


def test_text_feeding_a_typed_column_is_parsed_not_drift() -> None:
    delivered = [
        shape("id", "string"),
        shape("name", "string"),
        shape("score", "string"),
        shape("updated", "string"),
    ]
    plan = plan_drift(customer_contract(), delivered, LIVE, engine=POSTGRES, mode=DriftMode.FREEZE, table="t")
    assert plan.changes == []
    assert plan.contract == customer_contract()


def test_evolve_widens_and_the_contract_follows() -> None:
    delivered = [
        shape("id", "int64"),
        shape("name", "string"),
        shape("score", "int32"),
        shape("updated", "timestamptz"),
    ]
    plan = plan_drift(customer_contract(), delivered, LIVE, engine=POSTGRES, mode=DriftMode.EVOLVE, table="t")
    assert [(c.kind, c.column, c.sql_type) for c in plan.changes] == [("widen", "id", "BIGINT")]
    assert str(plan.contract.column("id").type) == "int64"
    assert plan.contract.primary_key == ("id",)
