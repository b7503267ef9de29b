"""Typed transform benchmark: what `row_transform` costs a row beyond the user's function.

The Pagila datakit's `customer_bronze_transform` (source customer -> bronze customer, with the
transactional mixin) over `--rows` generated source customers (default 30,000, the demo's largest
scale) in batches of `--batch-size`, measured in one run, interleaved round by round:

- `function`: the bare function called on plain objects (one `SimpleNamespace` per row of
  `batch.to_pylist()`, made before the clock starts): what the user's code costs by itself, the
  construction of its `Bronze.Customer` included. The baseline of the last line.
- `function_on_models`: the same on `Source.Customer` objects made before the clock starts. The
  difference to `function` is SQLAlchemy's attribute descriptor, paid on every read of a table
  model's field: the price of handing the function real model objects, whoever makes them.
- `transform`: `datakit.load.transforms.row_transform` of the function on the Arrow batches, from
  source batch to target batch (input read and checked, objects made, function called, output
  converted).
- `validate`: the loader's `validate_batch` of the transform's output against the bronze contract,
  for reference: the loader runs it on every batch of every load, transform or not, and it is the
  only check of a transform's output.

Times are the process's CPU time, each approach's best of `--repeat` rounds, each round after a full
garbage collection: the machine has two cores and is shared, so wall time follows the other
processes. The last line is `customer_transform_us_per_row: X`, the transform's time minus the bare
function's, per row (goal < 10). Runs against any version of datakit (`PYTHONPATH=<checkout>/src`),
for before/after figures.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa

from datakit.contracts import contract_from_sqlmodel, validate_batch
from datakit.datakits import load_datakit
from datakit.load.times import LoadTimes
from datakit.load.transforms import row_transform

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def timed(run: Callable[[], Any]) -> float:
    gc.collect()  # every round starts with the same heap: no collection owed by the round before
    start = time.process_time()
    run()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    kit = load_datakit(EXAMPLES / "pagila" / "datakits", "pagila")
    typed = kit.transform("customer_bronze_transform")
    factories = __import__(f"{kit.module.__name__}.factories", fromlist=["customers"])
    table: pa.Table = factories.customers(args.rows, seed=1)
    batches = table.combine_chunks().to_batches(max_chunksize=args.batch_size)
    rows = table.to_pylist()
    inputs = [SimpleNamespace(**row) for row in rows]
    models = [typed.source_model.model_validate(row) for row in rows]
    transform = row_transform(typed.func, typed.source_model, typed.target_model)
    bronze = contract_from_sqlmodel(typed.target_model)
    checked = LoadTimes.of(bronze, datetime.now(UTC)).checked(bronze)  # as the loader validates

    outputs = [transform(batch) for batch in batches]  # once, to check it before timing it
    assert sum(o.batch.num_rows for o in outputs) == args.rows, "every generated customer transforms"
    assert all(o.rejected is None for o in outputs)
    assert all(validate_batch(checked, o.batch).rejected.num_rows == 0 for o in outputs)

    func = typed.func
    timings: dict[str, list[float]] = {name: [] for name in ("function", "models", "transform", "validate")}
    for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits each approach alike
        timings["function"].append(timed(lambda: [func(row) for row in inputs]))
        timings["models"].append(timed(lambda: [func(row) for row in models]))
        timings["transform"].append(timed(lambda: [transform(batch) for batch in batches]))
        timings["validate"].append(timed(lambda: [validate_batch(checked, o.batch) for o in outputs]))
    us = {name: min(values) / args.rows * 1e6 for name, values in timings.items()}
    print(f"customer_rows: {args.rows}")
    print(f"customer_function_us_per_row: {us['function']:.1f}")
    print(f"customer_function_on_models_us_per_row: {us['models']:.1f}")
    print(f"customer_transform_total_us_per_row: {us['transform']:.1f}")
    print(f"customer_validate_us_per_row: {us['validate']:.2f}")
    print(f"customer_transform_us_per_row: {us['transform'] - us['function']:.1f}")


if __name__ == "__main__":
    main()
