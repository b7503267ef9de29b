"""The whole warehouse, side by side: `datakit run job demo` against dlt + `dbt build` on the same input.

Both sides start from the demo's generated DVD-rental source (SQLite, `datakit.demo.generate`) at each
scale and end with the same gold tables in a DuckDB file of their own, built by the same dbt project:

* **datakit:** the demo project (`datakit.demo.project`), `datakit -p <demo> run job demo` in a fresh
  process — bronze through the Pagila datakit, silver with dbt, the silver checks, gold with dbt.
* **peer:** one script run by the peer's interpreter: dlt's `sql_database` source (pyarrow backend,
  merge on the same primary keys) into a dataset, then `dbt build` of a copy of the same dbt project.
  dbt's sources point at views over dlt's tables with the bronze columns the models read, typed as
  datakit's bronze tables are (the views are the peer's "staging", built in the same script; a dlt + dbt
  user would write them as dbt models): customer's e-mail in lower case and its create/update times,
  film's `special_features` split, `_dk_load_id` from dlt's load id, a row hash. datakit's silver
  checks run as dbt singular tests (each check's failing-rows SQL, as `datakit.quality` plans it).

Rounds are interleaved (datakit, peer, datakit, peer, ...), each on a clean warehouse (its DuckDB file and
dlt's pipeline state removed), dbt's partial-parse state kept warm on both sides as in production. Wall
time is the whole command, interpreter start included. After the rounds every gold table is compared
row for row between the two warehouses; a difference stops the benchmark.

The peer lives in a virtualenv of its own (dlt is a benchmark-only dependency), given with
`--peer-python` or DATAKIT_BENCH_PEER_PYTHON:

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install "dlt[duckdb,sql_database]" "sqlalchemy>=2" \\
        "dbt-core>=1.11,<1.12" "dbt-duckdb>=1.11,<1.12" pyarrow
    .venv/bin/python bench/warehouse_vs_peers.py --peer-python /tmp/peers/bin/python [--scales 1,20,50]

Last lines: `e2e_vs_dlt_dbt_s<scale>: R` per scale (the peer's median wall over datakit's; > 1 means
datakit is faster), then `customer_transform_us_per_row: X` from `bench/transforms.py` when it exists.
Without a peer interpreter the ratios print as `n/a`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

PEER_SCRIPT = r"""
import json, sys, time
from pathlib import Path

import dlt
import duckdb
from dlt.sources.sql_database import sql_database

spec = json.loads(Path(sys.argv[1]).read_text())
started = time.perf_counter()
source = sql_database(
    credentials=f"sqlite:///{spec['source']}", backend="pyarrow", table_names=list(spec["keys"])
)
for table, key in spec["keys"].items():
    source.resources[table].apply_hints(primary_key=key, write_disposition="merge")
pipeline = dlt.pipeline(
    pipeline_name="peer",
    destination=dlt.destinations.duckdb(spec["warehouse"]),
    dataset_name="dlt_bronze",
    pipelines_dir=spec["pipelines_dir"],
)
info = pipeline.run(source)
loaded = time.perf_counter()
with duckdb.connect(spec["warehouse"]) as con:
    con.execute("create schema if not exists br__pagila__public")
    for view in spec["views"]:
        con.execute(view.replace("{load_id}", info.loads_ids[-1]))
viewed = time.perf_counter()
from dbt.cli.main import dbtRunner

done = dbtRunner().invoke(["build", "--project-dir", spec["dbt"], "--profiles-dir", spec["dbt"],
                           "--log-level", "none", "--partial-parse"])
if not done.success:
    failed = done.exception or [r.message for r in done.result if r.status != "success"]
    raise SystemExit(f"dbt build failed: {failed}")
ended = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "views_s": viewed - loaded, "dbt_s": ended - viewed}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,20,50")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer-python", default=os.environ.get("DATAKIT_BENCH_PEER_PYTHON"))
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    ratios: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="datakit-bench-peers-") as tmp:
        for scale in scales:
            label = f"s{scale:g}"
            ratios[label] = _compare(Path(tmp) / label, scale, args.rounds, args.peer_python)
    transform = _transform_figure()
    for label, ratio in ratios.items():
        print(f"e2e_vs_dlt_dbt_{label}: {ratio}")
    if transform is not None:
        print(f"customer_transform_us_per_row: {transform}")


def _compare(folder: Path, scale: float, rounds: int, peer_python: str | None) -> str:
    from datakit.demo.project import create_demo_project

    root = create_demo_project(folder / "datakit", scale=scale)
    ours: list[float] = []
    theirs: list[float] = []
    peer: dict[str, Any] | None = None
    for index in range(rounds):
        ours.append(_datakit_round(root))
        if peer_python:
            peer = peer or _peer_setup(root, folder / "peer")
            seconds, parts = _peer_round(peer_python, peer)
            theirs.append(seconds)
            print(
                f"scale {scale:g} round {index + 1}: datakit {ours[-1]:.2f} s, peer {seconds:.2f} s {parts}"
            )
        else:
            print(f"scale {scale:g} round {index + 1}: datakit {ours[-1]:.2f} s (no peer interpreter)")
    if not theirs or peer is None:
        return "n/a"
    _same_gold(root / "warehouse.duckdb", Path(peer["warehouse"]))
    return f"{statistics.median(theirs) / statistics.median(ours):.2f}"


def _datakit_round(root: Path) -> float:
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        (root / stale).unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "-p", str(root), "run", "job", "demo"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "ENVIRONMENT"},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"datakit run failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def _peer_setup(root: Path, folder: Path) -> dict[str, Any]:
    """The peer's dbt project (a copy of the demo's, with sources, profile and the checks as tests) and
    the views over dlt's tables, typed as datakit's bronze (read from the warehouse datakit built)."""
    import duckdb

    from datakit.config import load_project
    from datakit.connectors.engines.duckdb.engine import DUCKDB
    from datakit.demo.project import _RESOURCES, CHECKS, DBT_PROJECT
    from datakit.quality.runner import plan_suite

    folder.mkdir(parents=True)
    dbt = folder / "dbt"
    shutil.copytree(root / DBT_PROJECT, dbt, ignore=shutil.ignore_patterns("target", "logs"))
    warehouse = folder / "peer.duckdb"
    (dbt / "profiles.yml").write_text(
        "datakit:\n  target: peer\n  outputs:\n    peer:\n"
        f"      type: duckdb\n      path: {warehouse}\n      schema: main\n      threads: 4\n"
    )
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'br__pagila__public' order by table_name, ordinal_position"
        ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in columns:
        if not table.endswith(("__rejected", "__history")):
            tables.setdefault(table, []).append((column, kind))
    (dbt / "models" / "_peer_sources.yml").write_text(
        "version: 2\nsources:\n  - name: br__pagila__public\n    schema: br__pagila__public\n    tables:\n"
        + "".join(f"      - name: {table}\n" for table in tables)
    )
    project = load_project(root)
    (dbt / "tests").mkdir(exist_ok=True)
    for index, check in enumerate(plan_suite(project.check_suite(CHECKS), DUCKDB)):
        sql = re.sub(r'"(?:silver|gold)"\."(\w+)"', r"{{ ref('\1') }}", check.sql)  # dbt orders tests by refs
        sql = re.sub(r'"br__pagila__public"\."(\w+)"', r"{{ source('br__pagila__public', '\1') }}", sql)
        (dbt / "tests" / f"datakit_check_{index:02d}.sql").write_text(sql + "\n")
    keys = {
        table: [k.strip() for k in options.split("primary_key: [", 1)[1].split("]", 1)[0].split(",")]
        for table, options in _RESOURCES.items()
    }
    views = [_view(table, cols) for table, cols in tables.items()]
    spec = {
        "source": str(root / "data" / "dvdrental.sqlite"),
        "warehouse": str(warehouse),
        "pipelines_dir": str(folder / "pipelines"),
        "dbt": str(dbt),
        "keys": keys,
        "views": views,
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / "peer.py").write_text(PEER_SCRIPT)
    spec["folder"] = str(folder)
    return spec


_SPECIAL = {  # dlt's arrow tables carry no per-row load columns: the load's id, once per view
    "_dk_load_id": "cast(cast('{load_id}' as double) * 1000000 as bigint)",  # grows with each load
    "_dk_loaded_at": "to_timestamp(cast('{load_id}' as double))",
    "_dk_source": "'dlt'",
    "_dk_record_hash": "cast(hash(t) % 9223372036854775807 as bigint)",
    "systime": "to_timestamp(cast('{load_id}' as double))",
}
_CUSTOMER = {
    "email": "lower(email)",
    "created_at": "cast(create_date as timestamptz)",
    "updated_at": "coalesce(cast(last_update as timestamptz), cast(create_date as timestamptz))",
}
_FILM = {"special_features": "string_split(special_features, ',')"}


def _view(table: str, columns: list[tuple[str, str]]) -> str:
    special = _SPECIAL | (_CUSTOMER if table == "customer" else {}) | (_FILM if table == "film" else {})
    select = ", ".join(
        f"cast({special.get(column, _quote(column))} as {kind}) as {_quote(column)}"
        for column, kind in columns
    )
    return (
        f"create or replace view br__pagila__public.{_quote(table)} as "
        f"select {select} from dlt_bronze.{_quote(table)} as t"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _peer_round(python: str, spec: dict[str, Any]) -> tuple[float, str]:
    folder = Path(spec["folder"])
    Path(spec["warehouse"]).unlink(missing_ok=True)
    shutil.rmtree(spec["pipelines_dir"], ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAKIT", "PYTHON"))}
    env |= {"RUNTIME__DLTHUB_TELEMETRY": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    started = time.perf_counter()
    done = subprocess.run(
        [python, str(folder / "peer.py"), str(folder / "spec.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
        env=env,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"peer run failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    parts = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, "(" + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + ")"


def _same_gold(ours: Path, theirs: Path) -> None:
    """Every gold table equal row for row (as sorted lists of rows) in both warehouses."""
    import duckdb

    with duckdb.connect(str(ours), read_only=True) as con:
        con.execute(f"attach '{theirs}' as peer (read_only)")
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'warehouse' and table_schema = 'gold' order by 1"
            ).fetchall()
        ]
        if not tables:
            raise SystemExit("datakit's warehouse has no gold tables")
        for table in tables:
            mine = con.execute(f"select * from gold.{_quote(table)} order by all").fetchall()
            peer = con.execute(f"select * from peer.gold.{_quote(table)} order by all").fetchall()
            if mine != peer:
                raise SystemExit(f"gold.{table} differs: datakit {len(mine)} rows, peer {len(peer)} rows")
    print(f"gold tables equal: {', '.join(tables)}")


def _transform_figure() -> str | None:
    """`customer_transform_us_per_row` of bench/transforms.py, when that benchmark exists."""
    script = REPO / "bench" / "transforms.py"
    if not script.exists():
        return None
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("customer_transform_us_per_row:"):
            return line.split(":", 1)[1].strip()
    return None


if __name__ == "__main__":
    main()
