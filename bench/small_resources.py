"""Small-resource benchmark: what datakit's own work costs per resource of a few rows (issue 21 item 2).

A pipeline of many small tables pays a load's fixed costs once per table: connections, catalog
look-ups, side tables, the load record. Measured in one run, on each destination (a DuckDB file; a
schema of PostgreSQL), with `--tables` (default 15) source tables of 3 rows each in a SQLite file (a
source that costs next to nothing, so the time is datakit's and the destination's):

- `grouped`: the loads of a grouped step (`datakit.orchestrate.loadgroup`): one held destination
  connection, and per resource the exactly-once question (`committed_load`) and `load_resource`
  (append, each its own transaction and load record);
- `ungrouped`: `load_resource` of each resource alone, as a step per resource calls it (its own
  connections; the step's process and run history come on top and are not counted here);
- `big`: one `load_resource` of a 4,000-row table, to compare with: before issue 21 a 3-row load cost
  as much as this one.

Each figure is the median over `--repeat` rounds (default 5) of one resource's wall time (a round's
total / tables), with the tables already there (a daily run's loads; the first round, which creates
them, is reported apart as `..._first_ms`). The last lines are the figures, `name: value`:
`small_resource_ms_duckdb` and `small_resource_ms_postgres` (grouped, goal < 30 ms).

    .venv/bin/python bench/small_resources.py
    .venv/bin/python bench/small_resources.py --tables 30 --repeat 9

PostgreSQL comes from DATAKIT_BENCH_DSN (default postgresql://datakit:datakit@127.0.0.1:5432/datakit_test;
a schema of its own, dropped at the end); without a server its lines say `n/a`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.connectors import (  # noqa: E402
    Destination,
    DuckDBParams,
    PostgresParams,
    ReadRequest,
    SqliteParams,
    TableRef,
    open_destination,
    open_source,
)
from datakit.contracts import contract_from_spec  # noqa: E402
from datakit.load.loader import load_resource  # noqa: E402
from datakit.load.plan import ResourcePlan, RunOptions  # noqa: E402
from datakit.load.state import committed_load  # noqa: E402

DSN = os.environ.get("DATAKIT_BENCH_DSN", "postgresql://datakit:datakit@127.0.0.1:5432/datakit_test")
SMALL_ROWS = 3
BIG_ROWS = 4_000
SPEC: dict[str, Any] = {
    "layer": "bronze",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "integer"},
        "name": {"type": "string", "max_length": 40, "nullable": False},
        "score": {"type": "integer", "min": 0, "max": 100},
        "updated": {"type": "timestamptz", "nullable": False},
    },
}


def build_source(folder: Path, tables: int) -> Path:
    """`tables` small tables `t00`.. and one big table `big`, in a SQLite file."""
    path = folder / "source.db"
    with sqlite3.connect(path) as conn:
        for name, rows in [*((f"t{i:02d}", SMALL_ROWS) for i in range(tables)), ("big", BIG_ROWS)]:
            conn.execute(f"CREATE TABLE {name} (id integer, name text, score integer, updated text)")
            conn.executemany(
                f"INSERT INTO {name} VALUES (?, ?, ?, ?)",
                [(i, f"name {i}", i % 100, "2026-12-01T00:00:00+00:00") for i in range(rows)],
            )
    return path


def plans(source_path: Path, names: list[str], schema: str | None, prefix: str) -> list[ResourcePlan]:
    source = open_source(SqliteParams(database=str(source_path)))
    return [
        ResourcePlan(
            pipeline="bench_small",
            resource=name,
            source=source,
            request=ReadRequest(table=TableRef(name)),
            contract=contract_from_spec({**SPEC, "table": name}),
            target=TableRef(f"{prefix}_{name}", schema),
            source_label=f"sqlite.{name}",
            write_disposition="append",
        )
        for name in names
    ]


def held(destination: Destination) -> AbstractContextManager[Any]:
    """The destination held (`Destination.held`), or nothing before datakit had it (a before figure)."""
    hold: Callable[[], AbstractContextManager[Any]] | None = getattr(destination, "held", None)
    return hold() if hold is not None else nullcontext()


def grouped(destination: Destination, group: list[ResourcePlan], run: str) -> float:
    """Seconds for the loads of one grouped step (see the module docstring)."""
    started = time.perf_counter()
    try:
        from datakit.orchestrate.loadgroup import load_plans
    except ImportError:  # before grouped steps: what a step per resource did, in one process
        with held(destination):
            for plan in group:
                step_id = f"{plan.pipeline}.{plan.resource}"
                assert committed_load(destination, step_id, [run], state_schema=plan.state_schema) is None
                load_resource(plan, destination, RunOptions(run_id=run, step_id=step_id))
        return time.perf_counter() - started
    outcomes, failures = load_plans(destination, group, full_refresh=False, runs=(run,), say=lambda _: None)
    assert not failures, failures
    assert all(o["status"] == "succeeded" for o in outcomes.values()), outcomes
    return time.perf_counter() - started


def ungrouped(destination: Destination, group: list[ResourcePlan]) -> float:
    started = time.perf_counter()
    for plan in group:
        load_resource(plan, destination)
    return time.perf_counter() - started


def measure(
    destination: Destination, source: Path, schema: str | None, tables: int, repeat: int
) -> dict[str, float]:
    """Milliseconds per resource of each approach (medians), and the first round's."""
    names = [f"t{i:02d}" for i in range(tables)]
    group = plans(source, names, schema, "g")
    alone = plans(source, names, schema, "u")
    (big,) = plans(source, ["big"], schema, "b")
    per = 1000 / tables
    first = {
        "grouped": grouped(destination, group, uuid.uuid4().hex) * per,
        "ungrouped": ungrouped(destination, alone) * per,
    }
    load_resource(big, destination)
    times: dict[str, list[float]] = {"grouped": [], "ungrouped": [], "big": []}
    for _ in range(repeat):  # interleaved, so a disturbance of the machine hits every approach alike
        times["grouped"].append(grouped(destination, group, uuid.uuid4().hex) * per)
        times["ungrouped"].append(ungrouped(destination, alone) * per)
        started = time.perf_counter()
        load_resource(big, destination)
        times["big"].append((time.perf_counter() - started) * 1000)
    figures = {name: statistics.median(values) for name, values in times.items()}
    figures.update({f"{name}_first": value for name, value in first.items()})
    return figures


def postgres(source: Path, tables: int, repeat: int) -> dict[str, float] | None:
    import psycopg

    schema = f"bench_small_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        print(f"postgres: not reachable ({exc}); its figures are n/a")
        return None
    try:
        return measure(open_destination(PostgresParams.from_dsn(DSN)), source, schema, tables, repeat)
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute("DELETE FROM _datakit.loads WHERE pipeline = 'bench_small'")
            conn.execute("DELETE FROM _datakit.tables WHERE schema_name = %s", [schema])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = build_source(folder, args.tables)
        duck = open_destination(DuckDBParams(database=str(folder / "warehouse.duckdb")))
        results["duckdb"] = measure(duck, source, "bronze", args.tables, args.repeat)
        results["postgres"] = postgres(source, args.tables, args.repeat)
    print(f"\n{args.tables} tables of {SMALL_ROWS} rows, {args.repeat} rounds (medians, ms per resource)")
    big = f"{BIG_ROWS} rows"
    heads = f"{'grouped':>9} {'ungrouped':>10} {big:>11} {'first grouped':>14} {'first ungrouped':>16}"
    print(f"{'destination':12} {heads}")
    for name, figures in results.items():
        if figures is None:
            continue
        print(
            f"{name:12} {figures['grouped']:9.1f} {figures['ungrouped']:10.1f} {figures['big']:11.1f} "
            f"{figures['grouped_first']:14.1f} {figures['ungrouped_first']:16.1f}"
        )
    for name, figures in results.items():
        value = "n/a" if figures is None else f"{figures['grouped']:.1f}"
        print(f"small_resource_ms_{name}: {value}")
    for name, figures in results.items():
        value = "n/a" if figures is None else f"{figures['ungrouped']:.1f}"
        print(f"small_resource_ungrouped_ms_{name}: {value}")


if __name__ == "__main__":
    main()
