"""I/O-only load benchmark: Pagila `rental` (scaled) PostgreSQL -> PostgreSQL and -> DuckDB.

Measures, in one run and against the same data, the raw pipe
`psql -c "COPY (SELECT ...) TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM STDIN (FORMAT binary)"`
and datakit's connectors (ADBC binary COPY reader -> bounded queue -> ADBC binary COPY writer or DuckDB),
each verified by row count and per-column checksums. Every load runs in its own child process, so its
peak RSS (from wait4's rusage, the per-child form of RUSAGE_CHILDREN) is its own. The machine is
shared and PostgreSQL checkpoints make single runs noisy: each approach runs `--repeat` times,
interleaved, each after a CHECKPOINT; ratios are given for the best runs and for the medians.

    .venv/bin/python bench/load_io.py                      # 2M rows (creates pagila_2m once, ~2 min)
    .venv/bin/python bench/load_io.py --readers            # also time the read paths alone
    .venv/bin/python bench/load_io.py --memory             # also 10M rows (creates pagila_10m, ~10 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

ADMIN_DSN = os.environ.get("DATAKIT_TEST_PG_DSN", "postgresql://datakit:datakit@127.0.0.1:5432/datakit_test")
TABLE = "rental"
COLUMNS = (
    "rental_id integer, rental_date timestamptz, inventory_id integer, customer_id integer, "
    "return_date timestamptz, staff_id integer, last_update timestamptz"
)
SELECT = (
    "SELECT rental_id, rental_date, inventory_id, customer_id, return_date, staff_id, last_update FROM rental"
)
INTS = ("rental_id", "inventory_id", "customer_id", "staff_id")
TIMES = ("rental_date", "return_date", "last_update")


# -- checksums ---------------------------------------------------------------------------------------
def pg_checksum(dsn: str, table: str) -> list[int]:
    """Row count, integer sums, timestamp sums (µs since epoch) and null counts, computed by PostgreSQL."""
    import psycopg

    parts = ["count(*)"] + [f"sum({c})::bigint" for c in INTS]
    parts += [f"sum((extract(epoch FROM {c}) * 1000000)::bigint)::numeric" for c in TIMES]
    parts += [f"count(*) - count({c})" for c in (*INTS, *TIMES)]
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    assert row is not None
    return [int(v) for v in row]


def duckdb_checksum(path: str, table: str) -> list[int]:
    import duckdb

    parts = ["count(*)"] + [f"sum({c})::BIGINT" for c in INTS]
    parts += [f"sum(epoch_us({c}))::HUGEINT" for c in TIMES]
    parts += [f"count(*) - count({c})" for c in (*INTS, *TIMES)]
    with duckdb.connect(path) as conn:
        row = conn.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    assert row is not None
    return [int(v) for v in row]


# -- the loads (each runs in a child process: `load_io.py --worker NAME ...`) --------------------------
def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Run one load; print rows and seconds. DDL happens before the clock starts."""
    name, src_dsn, dst, batch_size, depth = args.worker, args.src, args.dst, args.batch_size, args.depth
    from datakit.connectors import PostgresParams, ReadRequest, TableRef, pipe
    from datakit.connectors.sources.postgres import PostgresSource

    source = PostgresSource(PostgresParams.from_dsn(src_dsn))
    request = ReadRequest(table=TableRef(TABLE, "public"), batch_size=batch_size)
    if name.startswith("read_"):
        start = time.perf_counter()
        rows = READERS[name](source, request)
        return {"rows": rows, "seconds": time.perf_counter() - start}
    if name in ("pg_to_pg", "pg_to_pg_sequential"):
        from datakit.connectors.destinations.postgres import PostgresDestination

        destination: Any = PostgresDestination(PostgresParams.from_dsn(dst))
        target = TableRef("rental_copy", "bench")
        ddl = [
            "CREATE SCHEMA IF NOT EXISTS bench",
            "DROP TABLE IF EXISTS bench.rental_copy",
            f"CREATE TABLE bench.rental_copy ({COLUMNS})",
        ]
    else:
        from datakit.connectors import DuckDBParams
        from datakit.connectors.destinations.duckdb import DuckDBDestination

        params = DuckDBParams(
            database=dst, memory_limit=args.duckdb_memory or None, threads=args.duckdb_threads
        )
        destination = DuckDBDestination(params)
        target = TableRef("rental_copy")
        ddl = ["DROP TABLE IF EXISTS rental_copy", f"CREATE TABLE rental_copy ({COLUMNS})"]
    with destination.transaction() as tx:
        for statement in ddl:
            tx.execute(statement)
    start = time.perf_counter()
    with destination.transaction() as tx:
        if name.endswith("_sequential"):
            rows = tx.write(target, source.read(request))
        else:
            rows = pipe(source.read(request), lambda batches: tx.write(target, batches), depth=depth)
    return {"rows": rows, "seconds": time.perf_counter() - start}


def _read_adbc(source: Any, request: Any) -> int:
    return sum(batch.num_rows for batch in source.read(request))


def _read_connectorx(source: Any, request: Any) -> int:
    import connectorx as cx

    reader = cx.read_sql(
        source.params.uri(), SELECT, return_type="arrow_stream", batch_size=request.batch_size
    )
    return sum(batch.num_rows for batch in reader)


def _read_connectorx_partitioned(source: Any, request: Any) -> int:  # noqa: ARG001
    import connectorx as cx

    return int(
        cx.read_sql(
            source.params.uri(), SELECT, return_type="arrow", partition_on="rental_id", partition_num=2
        ).num_rows
    )


def _read_psycopg_csv(source: Any, request: Any) -> int:
    """COPY csv through psycopg into pyarrow's streaming CSV reader (psycopg yields one row per chunk)."""
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pcsv

    schema = source.arrow_schema(request)

    class Chunks:
        def __init__(self, chunks: Any) -> None:
            self.chunks, self.pending, self.closed = chunks, bytearray(), False

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            for chunk in self.chunks:
                self.pending += chunk
                if 0 <= size <= len(self.pending):
                    break
            size = len(self.pending) if size < 0 else min(size, len(self.pending))
            out = bytes(self.pending[:size])
            del self.pending[:size]
            return out

        def close(self) -> None:
            self.closed = True

    rows = 0
    with psycopg.connect(source.params.conninfo()) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        with conn.cursor().copy(f"COPY ({SELECT}) TO STDOUT (FORMAT csv)") as copy:
            reader = pcsv.open_csv(
                pa.PythonFile(Chunks(iter(copy)), mode="r"),
                read_options=pcsv.ReadOptions(column_names=schema.names, block_size=4 << 20),
                convert_options=pcsv.ConvertOptions(column_types=schema),
            )
            rows = sum(batch.num_rows for batch in reader)
    return rows


READERS = {
    "read_adbc": _read_adbc,
    "read_connectorx_stream": _read_connectorx,
    "read_connectorx_partitioned": _read_connectorx_partitioned,
    "read_psycopg_csv": _read_psycopg_csv,
}


# -- the parent: orchestrate, verify, report --------------------------------------------------------
def run_child(args: list[str]) -> tuple[dict[str, Any], float, int]:
    """Run a child; returns its JSON output (plus its CPU seconds), wall seconds, and its peak RSS in MiB."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stderr is not None
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return result, wall, usage.ru_maxrss // 1024


def raw_pipe(src_dsn: str, dst_dsn: str) -> float:
    """The psql binary COPY pipe into a fresh table; returns seconds."""
    import psycopg

    with psycopg.connect(dst_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute("DROP TABLE IF EXISTS bench.rental_raw")
        conn.execute(f"CREATE TABLE bench.rental_raw ({COLUMNS})")
    start = time.perf_counter()
    out = subprocess.Popen(
        ["psql", "-X", "-q", "-d", src_dsn, "-c", f"COPY ({SELECT}) TO STDOUT (FORMAT binary)"],
        stdout=subprocess.PIPE,
    )
    into = subprocess.run(
        ["psql", "-X", "-q", "-d", dst_dsn, "-c", "COPY bench.rental_raw FROM STDIN (FORMAT binary)"],
        stdin=out.stdout,
        check=False,
    )
    assert out.stdout is not None
    out.stdout.close()
    if out.wait() != 0 or into.returncode != 0:
        raise SystemExit("raw psql pipe failed")
    return time.perf_counter() - start


def checkpoint(dsn: str) -> None:
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass  # not a superuser: runs stay noisier, that is all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=124, help="scale.sql copies (124: ~2M rows)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--depth", type=int, default=4, help="batches in flight between reader and writer")
    parser.add_argument("--readers", action="store_true", help="also time the read paths alone")
    parser.add_argument("--memory", action="store_true", help="also load 10M rows (copies=620) for peak RSS")
    parser.add_argument(
        "--duckdb-memory",
        default="64MB",
        help="DuckDB memory_limit for the loads ('' for DuckDB's default, 80%% of RAM). DuckDB caches the "
        "blocks a load writes up to this limit, so it decides whether peak RSS grows with the table",
    )
    parser.add_argument("--duckdb-threads", type=int, default=None, help="DuckDB threads for the loads")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--dst", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    from tests.pagila import _with_dbname, ensure_pagila

    src = ensure_pagila(ADMIN_DSN, _dbname(args.copies), args.copies)
    dst = _with_dbname(ADMIN_DSN, "datakit_test")
    workdir = Path(tempfile.mkdtemp(prefix="datakit-bench-"))
    duck = str(workdir / "bench.duckdb")
    expected = pg_checksum(src, "public.rental")
    print(f"source: {_dbname(args.copies)}.rental, {expected[0]:,} rows")
    print(f"batch_size={args.batch_size} depth={args.depth} repeat={args.repeat}")

    approaches = ["raw_pipe", "pg_to_pg", "pg_to_duckdb", "pg_to_pg_sequential", "pg_to_duckdb_sequential"]
    if args.readers:
        approaches += list(READERS)
    times: dict[str, list[float]] = {name: [] for name in approaches}
    rss: dict[str, int] = {}
    cpu: dict[str, list[float]] = {}  # client CPU seconds of the child (startup included)
    for attempt in range(args.repeat):
        for name in approaches:
            checkpoint(dst)
            if name == "raw_pipe":
                times[name].append(raw_pipe(src, dst))
                _verify(name, pg_checksum(dst, "bench.rental_raw"), expected)
                continue
            target = duck if "duckdb" in name else dst
            cmd = [sys.executable, __file__, "--worker", name, "--src", src, "--dst", target]
            result, _, peak = run_child([*cmd, *_passed_on(args)])
            times[name].append(float(result["seconds"]))
            rss[name] = max(rss.get(name, 0), peak)
            cpu.setdefault(name, []).append(float(result["cpu"]))
            if result["rows"] != expected[0]:
                raise SystemExit(f"{name}: {result['rows']} rows, expected {expected[0]}")
            if attempt == 0 and name.startswith("pg_to"):
                found = (
                    duckdb_checksum(duck, "rental_copy")
                    if "duckdb" in name
                    else pg_checksum(dst, "bench.rental_copy")
                )
                _verify(name, found, expected)
        print(f"run {attempt + 1}: " + ", ".join(f"{n}={times[n][-1]:.2f}s" for n in approaches))

    report(approaches, times, rss, cpu, expected[0])
    if args.memory:
        memory_check(args, dst, duck, rss)
    shutil.rmtree(workdir, ignore_errors=True)
    _drop_copies(dst)


def _drop_copies(dst: str) -> None:
    import psycopg

    with psycopg.connect(dst, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench.rental_raw, bench.rental_copy")


def report(
    approaches: list[str],
    times: dict[str, list[float]],
    rss: dict[str, int],
    cpu: dict[str, list[float]],
    rows: int,
) -> None:
    best = {name: min(values) for name, values in times.items()}
    head = f"{'approach':28} {'best s':>7} {'median s':>9} {'best rows/s':>12} {'median rows/s':>14}"
    print(f"\n{head} {'client CPU s':>13} {'peak RSS MiB':>13}")
    for name in approaches:
        median = statistics.median(times[name])
        peak = str(rss[name]) if name in rss else "-"
        used = f"{statistics.median(cpu[name]):.2f}" if name in cpu else "-"
        line = f"{name:28} {best[name]:7.2f} {median:9.2f} {rows / best[name]:12,.0f} {rows / median:14,.0f}"
        print(f"{line} {used:>13} {peak:>13}")
    raw = rows / best["raw_pipe"]
    raw_median = rows / statistics.median(times["raw_pipe"])
    for name in ("pg_to_pg", "pg_to_duckdb"):
        ratio_median = rows / statistics.median(times[name]) / raw_median
        print(f"{name}_vs_copy: {rows / best[name] / raw:.2f}  (medians: {ratio_median:.2f})")
    print(f"peak_rss_mib_pg_to_pg: {rss['pg_to_pg']}")
    print(f"peak_rss_mib_pg_to_duckdb: {rss['pg_to_duckdb']}")


def memory_check(args: argparse.Namespace, dst: str, duck: str, rss: dict[str, int]) -> None:
    """Load the 10M-row copy once per destination; peak RSS should stay near the 2M-row figure."""
    from tests.pagila import ensure_pagila

    big = ensure_pagila(ADMIN_DSN, _dbname(620), 620)
    for name in ("pg_to_pg", "pg_to_duckdb"):
        target = duck if "duckdb" in name else dst
        checkpoint(dst)
        cmd = [sys.executable, __file__, "--worker", name, "--src", big, "--dst", target]
        result, _, peak = run_child([*cmd, *_passed_on(args)])
        print(
            f"peak_rss_mib_{name}_10m: {peak} ({result['rows']:,} rows in {result['seconds']:.1f}s); "
            f"10m_vs_2m_rss_{name}: {peak / rss[name]:.2f}"
        )


def _passed_on(args: argparse.Namespace) -> list[str]:
    """The options a worker child needs from the parent's command line."""
    out = [
        "--batch-size",
        str(args.batch_size),
        "--depth",
        str(args.depth),
        "--duckdb-memory",
        args.duckdb_memory,
    ]
    return out + (["--duckdb-threads", str(args.duckdb_threads)] if args.duckdb_threads else [])


def _dbname(copies: int) -> str:
    return {0: "pagila", 124: "pagila_2m", 620: "pagila_10m"}.get(copies, f"pagila_x{copies}")


def _verify(name: str, found: list[int], expected: list[int]) -> None:
    if found != expected:
        raise SystemExit(f"{name}: checksum mismatch\n  found    {found}\n  expected {expected}")


if __name__ == "__main__":
    main()
