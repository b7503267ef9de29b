"""Docs benchmark: `datakit docs build` of a generated project of 1,000 tables and 200 dbt models.

A synthetic project (in a temporary folder): one SQLite source of `--tables` tables (10 columns each,
one `columns:` expression and one incremental cursor among them), loaded into DuckDB with the
contracts of a datakit of YAML specs; a dbt project of `--models` models, half silver (one bronze
table each, latest row per key as the example's silver does, typed and cleaned) and half gold (a
join of three silver models, grouped and aggregated); a check suite on every silver model. dbt compiles
the models first (not timed: a job's dbt steps leave that SQL behind).

`docs_build_s` times what `datakit docs build` does: load the project, build the column lineage
(contracts, expressions, dbt's compiled SQL parsed by sqlglot), read the warehouse's catalog and the
run history, write the site. The goal is under 10 s.

    .venv/bin/python bench/docs.py
    .venv/bin/python bench/docs.py --tables 200 --models 40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from datakit.config import load_project  # noqa: E402
from datakit.docs import build_docs  # noqa: E402
from datakit.lineage import build_lineage  # noqa: E402
from datakit.lineage.build import compile_dbt  # noqa: E402

COLUMNS = {
    "id": "integer",
    "account_id": "integer",
    "name": "string",
    "email": "string",
    "amount": "decimal(10,2)",
    "quantity": "integer",
    "status": "string",
    "country": "string",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def write_project(root: Path, tables: int, models: int) -> None:
    """The synthetic project (see the module's docstring)."""
    names = [f"t{i:04d}" for i in range(tables)]
    files = {
        "datakit.yaml": "name: docs_bench\n",
        "config/sources/src.yaml": _source(names),
        "config/destinations/warehouse.yaml": (
            "destination:\n  name: warehouse\n  type: duckdb\n  connection: {database: warehouse.duckdb}\n"
        ),
        "config/pipelines/load.yaml": (
            "pipeline:\n  name: load\n  source: {name: src}\n"
            "  destination: {name: warehouse, layer: bronze}\n  datakit: bench\n"
        ),
        "config/jobs/daily.yaml": (
            "job:\n  name: daily\n  pipelines: [load]\n  steps:\n"
            "    - {name: models, dbt: {project: transform/bench, command: build}, depends_on: [load]}\n"
            "    - {name: checks, checks: silver_checks, depends_on: [models]}\n"
            "  execution: {mode: dag}\n"
        ),
        "datakits/bench/__init__.py": '"""Generated contracts."""\n',
        "datakits/bench/contracts/tables.yaml": _contracts(names),
        "transform/bench/dbt_project.yml": (
            "name: bench\nversion: '1.0'\nconfig-version: 2\nprofile: datakit\nmodel-paths: [models]\n"
            "models:\n  bench:\n    silver: {+schema: silver, +materialized: table}\n"
            "    gold: {+schema: gold, +materialized: table}\n"
        ),
        "transform/bench/macros/schema.sql": (
            "{% macro generate_schema_name(custom, node) %}{{ custom or target.schema }}{% endmacro %}\n"
        ),
    }
    silver = [f"s{i:03d}" for i in range(models // 2)]
    for i, model in enumerate(silver):
        files[f"transform/bench/models/silver/{model}.sql"] = _silver(names[i % len(names)])
    for i in range(models - len(silver)):
        picked = [silver[(i + k) % len(silver)] for k in range(3)]
        files[f"transform/bench/models/gold/g{i:03d}.sql"] = _gold(picked)
    files["config/checks/silver_checks.yaml"] = _checks(silver)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _source(names: list[str]) -> str:
    lines = ["source:", "  name: src", "  type: sqlite", "  connection: {database: src.sqlite}"]
    lines.append("  resources:")
    for i, name in enumerate(names):
        lines.append(f"    - name: {name}")
        lines.append("      primary_key: [id]")
        lines.append("      write_disposition: merge")
        if i % 3 == 0:
            lines.append("      incremental: {cursor_field: updated_at}")
        if i % 4 == 0:
            lines.append('      columns: {email: "lower(email)"}')
    return "\n".join(lines) + "\n"


def _contracts(names: list[str]) -> str:
    out = []
    for name in names:
        out.append(f"- table: {name}\n  system: bench\n  schema: main\n  layer: bronze\n  primary_key: [id]")
        out.append(f"  description: Generated table {name}.\n  columns:")
        out.extend(
            f"    {column}: {{type: '{kind}', description: The {column} of {name}.}}"
            for column, kind in COLUMNS.items()
        )
    return "\n".join(out) + "\n"


def _silver(table: str) -> str:
    return f"""with ranked as (
    select *, row_number() over (partition by id order by _dk_load_id desc, updated_at desc) as _rn
    from {{{{ source('br__bench__main', '{table}') }}}}
)
select
    cast(id as integer) as id,
    cast(account_id as integer) as account_id,
    nullif(trim(name), '') as name,
    lower(email) as email,
    cast(amount as numeric(10, 2)) as amount,
    quantity,
    status as state,
    upper(country) as country,
    created_at,
    updated_at
from ranked
where _rn = 1
"""


def _gold(silver: list[str]) -> str:
    a, b, c = silver
    return f"""select
    a.account_id,
    b.country,
    count(*) as orders,
    sum(a.amount * a.quantity) as revenue,
    max(c.updated_at) as last_seen
from {{{{ ref('{a}') }}}} as a
join {{{{ ref('{b}') }}}} as b on b.id = a.id
left join {{{{ ref('{c}') }}}} as c on c.account_id = a.account_id
where a.state <> 'void'
group by a.account_id, b.country
"""


def _checks(silver: list[str]) -> str:
    lines = ["checks:", "  name: silver_checks", "  destination: warehouse", "  tables:"]
    for model in silver:
        lines.append(f"    silver.{model}:")
        lines.append("      - not_null: [id, account_id]")
        lines.append("      - expression: amount >= 0")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--models", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "bench"
        write_project(root, args.tables, args.models)
        project = load_project(root)
        started = time.perf_counter()
        compile_dbt(project, "transform/bench", "warehouse")
        print(f"setup: dbt compile of {args.models} models in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        graph = build_lineage(load_project(root))
        lineage = time.perf_counter() - started
        unknown = [t.id for t in graph.tables.values() if t.notes and t.kind == "model"]
        assert not unknown, f"models without column lineage: {unknown[:5]}"
        print(f"graph: {len(graph.tables)} tables, {len(graph.edges)} edges, {len(graph.checks)} checks")

        started = time.perf_counter()
        result = build_docs(load_project(root), Path("site"))
        docs = time.perf_counter() - started
        size = sum(p.stat().st_size for p in result.index.parent.iterdir())
        print(f"site: {result.tables} tables, {result.columns} columns, {size / 1e6:.1f} MB")
        print(f"lineage_build_s: {lineage:.2f}")
        print(f"docs_build_s: {docs:.2f}")


if __name__ == "__main__":
    main()
