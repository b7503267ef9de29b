"""Spark benchmark: Pagila `rental` from PostgreSQL into Spark bronze, then dbt models, against DuckDB.

In one run, on the same source database (Pagila's rental scaled with `tests.pagila.ensure_pagila`):

- `spark_load`: `datakit.load.loader.load_resource` of rental into a Spark warehouse on `local[2]`:
  Spark's executors read PostgreSQL over JDBC in ranges of rental_id (`NativeSource.native_read`), the
  contract is validated as Spark expressions, the table version is written and switched;
- `duckdb_load`: the same load into a DuckDB file (the loader reads through ADBC and validates Arrow);
- `spark_dbt`, `duckdb_dbt`: two dbt models over the bronze table (silver: the latest row per key,
  typed; gold: rentals and distinct customers per month and store), by dbt-spark's session method and
  dbt-duckdb.

Each run is a child process (`--worker`), timed from the moment its engine is up (Spark's start is
not the load's), and its driver's peak RSS is measured: for Spark the Python process (wait4) plus the
driver JVM's high-water mark (VmHWM), which is where a load that pulled rows through the driver would
show. A second Spark load from a 5x larger copy gives `spark_rss_10m_vs_2m`.

    .venv/bin/python bench/spark.py                  # 2M + 10M rows (builds pagila_2m / pagila_10m once)
    .venv/bin/python bench/spark.py --rows 200000    # 200k timed, 1M for the memory run

The last three lines are the figures: `spark_load_rows_per_s`, `spark_vs_duckdb_load` (Spark's
throughput over DuckDB's: one 2-core machine is not Spark's home) and `spark_rss_10m_vs_2m`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from child import spawn  # bench/ is the script's folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

DSN = os.environ.get("DATAKIT_BENCH_DSN", "postgresql://datakit:datakit@127.0.0.1:5432/datakit_test")
RENTAL_ROWS = 16_044
BRONZE = "br__pagila__public"
RENTAL_SPEC: dict[str, Any] = {
    "table": "rental",
    "layer": "bronze",
    "primary_key": ["rental_id"],
    "columns": {
        "rental_id": {"type": "integer", "min": 1},
        "rental_date": {"type": "timestamptz", "nullable": False},
        "inventory_id": {"type": "integer", "nullable": False, "min": 1},
        "customer_id": {"type": "integer", "nullable": False, "min": 1},
        "return_date": {"type": "timestamptz"},
        "staff_id": {"type": "integer", "nullable": False, "min": 1},
        "last_update": {"type": "timestamptz", "nullable": False},
    },
}
MODELS = {
    "silver_rental.sql": """
{{ config(materialized='table') }}
select rental_id, rental_date, inventory_id, customer_id, return_date, staff_id from (
    select *, row_number() over (partition by rental_id order by _dk_load_id desc) as n
    from {{ source('bronze', 'rental') }}
) as ranked where n = 1
""",
    "gold_monthly.sql": """
{{ config(materialized='table') }}
select staff_id, {{ dbt.date_trunc('month', 'rental_date') }} as month,
       count(*) as rentals, count(distinct customer_id) as customers
from {{ ref('silver_rental') }} group by 1, 2
""",
}


def _destination(kind: str, where: str) -> Any:
    from datakit.connectors import DuckDBParams, open_destination
    from datakit.connectors.engines.spark.params import SparkParams

    if kind == "spark":
        return open_destination(SparkParams(master="local[2]", warehouse=where))
    return open_destination(DuckDBParams(database=where))


def _driver_rss_mib(destination: Any) -> int:
    """The driver JVM's peak resident memory (MiB), 0 without one."""
    spark = getattr(destination, "spark", None)
    if spark is None:
        return 0
    process = spark.sparkContext._gateway.proc  # py4j's launched JVM
    with open(f"/proc/{process.pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def load_worker(kind: str, src: str, where: str) -> dict[str, Any]:
    from datakit.connectors import PostgresParams, ReadRequest, TableRef
    from datakit.connectors.engines.postgres.source import PostgresSource
    from datakit.contracts import contract_from_spec
    from datakit.load.loader import load_resource
    from datakit.load.plan import ResourcePlan

    destination = _destination(kind, where)
    if kind == "spark":
        destination.spark  # noqa: B018 - the engine is up before the clock starts
    plan = ResourcePlan(
        pipeline="bench",
        resource="rental",
        source=PostgresSource(PostgresParams.from_dsn(src)),
        request=ReadRequest(table=TableRef("rental", "public"), batch_size=65_536),
        contract=contract_from_spec(RENTAL_SPEC),
        target=TableRef("rental", BRONZE),
        source_label="bench.public.rental",
        write_disposition="replace",
    )
    started = time.perf_counter()
    result = load_resource(plan, destination)
    seconds = time.perf_counter() - started
    assert result.rows_rejected == 0
    return {"rows": result.rows_loaded, "seconds": seconds, "jvm_mib": _driver_rss_mib(destination)}


def dbt_worker(kind: str, where: str, folder: str) -> dict[str, Any]:
    import yaml
    from dbt.cli.main import dbtRunner

    destination = _destination(kind, where)
    if kind == "spark":
        destination.spark  # noqa: B018
    project = Path(folder)
    (project / "models").mkdir(parents=True, exist_ok=True)
    for name, text in MODELS.items():
        (project / "models" / name).write_text(text)
    sources = {
        "version": 2,
        "sources": [{"name": "bronze", "schema": BRONZE, "tables": [{"name": "rental"}]}],
    }
    (project / "models" / "sources.yml").write_text(yaml.safe_dump(sources))
    (project / "dbt_project.yml").write_text(
        yaml.safe_dump({"name": "bench", "version": "1.0", "config-version": 2, "profile": "bench"})
    )
    output = destination.dbt_target(schema="bench", threads=1).output
    profile = {"bench": {"target": "bench", "outputs": {"bench": output}}}
    (project / "profiles.yml").write_text(yaml.safe_dump(profile))
    started = time.perf_counter()
    done = dbtRunner().invoke(["run", "--project-dir", str(project), "--profiles-dir", str(project), "-q"])
    seconds = time.perf_counter() - started
    assert done.success, done.exception
    return {"seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the timed load (about)")
    parser.add_argument("--worker", choices=["spark_load", "duckdb_load", "spark_dbt", "duckdb_dbt"])
    parser.add_argument("--src")
    parser.add_argument("--where")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.worker:
        kind = args.worker.split("_")[0]
        if args.worker.endswith("_load"):
            print(json.dumps(load_worker(kind, args.src, args.where)))
        else:
            print(json.dumps(dbt_worker(kind, args.where, args.folder)))
        return
    from tests.pagila import ensure_pagila

    small = max(0, round(args.rows / RENTAL_ROWS) - 1)
    big = 5 * (small + 1) - 1
    names = {0: "pagila", 124: "pagila_2m", 620: "pagila_10m"}
    src = ensure_pagila(DSN, names.get(small, f"pagila_x{small}"), small)
    big_src = ensure_pagila(DSN, names.get(big, f"pagila_x{big}"), big)
    work = Path(tempfile.mkdtemp(prefix="datakit-bench-spark-"))
    where = {"spark": str(work / "warehouse"), "duckdb": str(work / "bench.duckdb")}
    figures: dict[str, dict[str, Any]] = {}
    rss: dict[str, int] = {}
    for kind in ("duckdb", "spark"):
        command = [sys.executable, __file__, "--worker", f"{kind}_load", "--src", src, "--where", where[kind]]
        figures[f"{kind}_load"], peak = spawn(command)
        rss[kind] = peak + int(figures[f"{kind}_load"]["jvm_mib"])
        folder = str(work / f"dbt_{kind}")
        command = [
            sys.executable,
            __file__,
            "--worker",
            f"{kind}_dbt",
            "--where",
            where[kind],
            "--folder",
            folder,
        ]
        figures[f"{kind}_dbt"], _ = spawn(command)
        load = figures[f"{kind}_load"]
        print(
            f"{kind}: load {load['rows']:,} rows in {load['seconds']:.1f}s "
            f"(driver peak RSS {rss[kind]} MiB), dbt models {figures[f'{kind}_dbt']['seconds']:.1f}s",
            flush=True,
        )
    shutil.rmtree(work / "warehouse", ignore_errors=True)
    command = [
        sys.executable,
        __file__,
        "--worker",
        "spark_load",
        "--src",
        big_src,
        "--where",
        where["spark"],
    ]
    big_load, peak = spawn(command)
    big_rss = peak + int(big_load["jvm_mib"])
    print(
        f"spark: load {big_load['rows']:,} rows in {big_load['seconds']:.1f}s (driver peak RSS {big_rss} MiB)"
    )
    shutil.rmtree(work, ignore_errors=True)
    spark, duck = figures["spark_load"], figures["duckdb_load"]
    print(f"spark_load_rows_per_s: {spark['rows'] / spark['seconds']:.0f}")
    print(f"spark_vs_duckdb_load: {duck['seconds'] / spark['seconds']:.2f}")
    print(f"spark_rss_10m_vs_2m: {big_rss / rss['spark']:.2f}")


if __name__ == "__main__":
    main()
