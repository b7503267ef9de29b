"""10,000 bad rows of nine kinds mixed into 30,000 good ones: every row is loaded or rejected, with why."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from tests.load.helpers import plan_for
from tests.matrix import WITH_SPARK, SourceDb, Target

SPEC: dict[str, Any] = {
    "table": "orders",
    "layer": "bronze",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "integer"},
        "name": {"type": "string", "max_length": 10, "nullable": False},
        "score": {"type": "integer", "min": 0, "max": 100},
        "status": {"type": "string", "accepted_values": ["new", "active", "closed"]},
        "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+$"},
        "qty": {"type": "integer"},
        "born": {"type": "date"},
        "amount": {"type": "decimal", "precision": 5, "scale": 2},
        "big": {"type": "integer"},
    },
}
# kind -> (column, rule) the validator must report
KINDS = {
    0: ("name", "not_null"),
    1: ("name", "max_length"),
    2: ("score", "range"),
    3: ("status", "accepted_values"),
    4: ("email", "pattern"),
    5: ("qty", "type"),  # text that is no integer
    6: ("born", "type"),  # 30 February
    7: ("amount", "type"),  # numeric overflow of decimal(5,2)
    8: ("big", "type"),  # integer overflow of int32
}
ROWS = 40_000


def order(g: int) -> tuple[object, ...]:
    """Row `g`: every fourth row is bad in the way of kind `(g // 4) % 9`, the others are good."""
    k = (g // 4) % 9 if g % 4 == 0 else -1
    return (
        g,
        None if k == 0 else f"toolongname{g}" if k == 1 else f"n{g % 1000}",
        101 + g % 50 if k == 2 else g % 101,
        "unknown" if k == 3 else ("new", "active", "closed")[g % 3],
        "no-at-sign" if k == 4 else f"u{g}@x.org",
        f"abc{g}" if k == 5 else str(g % 500),
        "2023-02-30" if k == 6 else f"2023-01-{1 + g % 28:02d}",
        "123456.78" if k == 7 else str(Decimal(g % 99999).scaleb(-2)),
        "99999999999" if k == 8 else str(g * 7),
    )


@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)
def test_bad_rows_are_rejected_with_reasons(dest: Target, source_db: SourceDb) -> None:
    source_db.create(
        "orders",
        "id int, name text, score int, status text, email text, qty text, born text, amount text, big text",
    )
    source_db.insert("orders", (order(g) for g in range(1, ROWS + 1)))
    expected = Counter(KINDS[(g // 4) % 9] for g in range(1, ROWS + 1) if g % 4 == 0)
    assert sum(expected.values()) == 10_000

    plan = plan_for(
        source_db.source,
        source_db.schema,
        "orders",
        contract_from_spec(SPEC),
        dest.table("orders"),
        batch_size=4096,
    )
    result = load_resource(plan, dest.destination)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (ROWS, 30_000, 10_000)
    assert dest.count("orders") == 30_000
    assert dest.query(f"SELECT count(*) FROM {dest.q('orders')} WHERE id % 4 = 0") == [(0,)]

    rejected = dest.query(
        f"SELECT _dk_failed_column, _dk_failed_rule, count(*), count(DISTINCT _dk_row_index), "
        f"min(_dk_load_id), max(_dk_load_id), min(length(_dk_reason)) "
        f"FROM {dest.q('orders__rejected')} GROUP BY 1, 2"
    )
    assert {(c, r): n for c, r, n, *_ in rejected} == dict(expected)
    for _column, _rule, n, distinct_rows, low_id, high_id, shortest in rejected:
        assert distinct_rows == n
        assert low_id == high_id == result.load_id
        assert shortest > 10
    samples = dict(
        dest.query(
            f"SELECT _dk_failed_rule || ':' || _dk_failed_column, min(_dk_reason) "
            f"FROM {dest.q('orders__rejected')} "
            "WHERE id IN ('4', '8', '12', '16', '20', '24', '28', '32', '36') "
            "GROUP BY 1"
        )
    )
    assert samples == {
        "range:score": "'109' is above the maximum 100",  # id 8: k = 2, 101 + 8
        "accepted_values:status": "'unknown' is not one of new, active, closed",
        "pattern:email": "'no-at-sign' does not match ^[^@ ]+@[^@ ]+$",
        "type:qty": "cannot convert 'abc20' to int32",
        "type:born": "cannot convert '2023-02-30' to date",
        "type:amount": "cannot convert '123456.78' to decimal(5,2)",
        "type:big": "cannot convert '99999999999' to int32",
        "not_null:name": "null in a column that is not nullable",
        "max_length:name": "'toolongname4' is longer than 10 characters",
    }
    raw = dest.query(f"SELECT qty, born, amount FROM {dest.q('orders__rejected')} WHERE id = '20'")
    assert raw == [("abc20", "2023-01-21", "0.20")]  # raw text of every column is kept
