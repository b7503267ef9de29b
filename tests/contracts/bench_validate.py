"""How fast `validate_batch` is on ~2M rows shaped like Pagila's `rental` (a script, not a test).

    .venv/bin/python tests/contracts/bench_validate.py [rows]

Four inputs: columns already of the contract's types (a typed source such as ADBC or Parquet), typed
but wider (int64 ids, nanosecond timestamps), all text (CSV), and text with 0.1% bad values. Prints the
best of three runs in rows per second.
"""

from __future__ import annotations

import random
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc

from datakit.contracts.spec import contract_from_spec
from datakit.contracts.validate import validate_batch

RENTAL = contract_from_spec(
    {
        "table": "rental",
        "primary_key": ["rental_id"],
        "unique": [["rental_date", "inventory_id", "customer_id"]],
        "columns": {
            "rental_id": {"type": "integer"},
            "rental_date": {"type": "timestamptz", "nullable": False},
            "inventory_id": {"type": "integer", "nullable": False, "foreign_key": "inventory.inventory_id"},
            "customer_id": {"type": "integer", "nullable": False, "foreign_key": "customer.customer_id"},
            "return_date": {"type": "timestamptz"},
            "staff_id": {"type": "integer", "nullable": False, "foreign_key": "staff.staff_id"},
            "last_update": {"type": "timestamptz", "nullable": False},
        },
    }
)


def rental_batch(rows: int) -> pa.RecordBatch:
    ids = pc.cumulative_sum(pc.fill_null(pa.nulls(rows, pa.int32()), 1))
    micros = pc.add(pc.multiply(pc.cast(ids, pa.int64()), 1_000_000), 1_653_430_410_000_000)
    stamps = pc.cast(micros, pa.timestamp("us", tz="UTC"))
    returned = pc.if_else(pc.equal(pc.bit_wise_and(ids, 63), 0), pa.scalar(None, stamps.type), stamps)
    return pa.record_batch(
        {
            "rental_id": ids,
            "rental_date": stamps,
            "inventory_id": pc.bit_wise_and(ids, 4095),
            "customer_id": pc.bit_wise_and(ids, 511),
            "return_date": returned,
            "staff_id": pc.bit_wise_and(ids, 1),
            "last_update": stamps,
        }
    )


def best_of(batch: pa.RecordBatch, runs: int = 3) -> tuple[float, int]:
    validate_batch(RENTAL, batch.slice(0, 1000))  # warm the plan cache
    best, rejected = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        result = validate_batch(RENTAL, batch)
        best = min(best, time.perf_counter() - start)
        rejected = result.rejected.num_rows
    return best, rejected


def main(rows: int) -> None:
    typed = rental_batch(rows)
    wide = pa.record_batch(
        {
            name: pc.cast(
                column, pa.int64() if pa.types.is_integer(column.type) else pa.timestamp("ns", tz="UTC")
            )
            for name, column in zip(typed.schema.names, typed.columns, strict=True)
        }
    )
    text = pa.record_batch(
        {
            name: pc.cast(column, pa.string())
            for name, column in zip(typed.schema.names, typed.columns, strict=True)
        }
    )
    customers = text.column("customer_id").to_pylist()
    for index in random.Random(0).sample(range(rows), rows // 1000):
        customers[index] = "n/a"
    dirty = text.set_column(3, "customer_id", pa.array(customers, pa.string()))
    print(f"validate_batch on {rows:,} rental-shaped rows (best of 3)")
    for label, batch in (
        ("typed as the contract", typed),
        ("typed, int64 + ns timestamps", wide),
        ("text (CSV-like)", text),
        ("text, 0.1% bad customer_id", dirty),
    ):
        seconds, rejected = best_of(batch)
        speed = rows / seconds / 1e6
        print(f"  {label:30s} {speed:7.1f} M rows/s  {seconds * 1000:7.0f} ms  rejected {rejected:,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)
