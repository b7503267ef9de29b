"""`datakit init`: a new project that validates at once and runs without any service.

It ships a small SQLite shop database as its source (made with the standard library, deterministic),
a DuckDB warehouse as its destination, one pipeline, one job and two triggers, so `datakit validate`,
`datakit list` and, with the loader, `datakit run job daily` all work in the new folder.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from datakit.config.models.common import name_from_folder
from datakit.config.schema import write_schemas
from datakit.errors import UsageError

_FILES: dict[str, str] = {
    "datakit.yaml": """\
name: {name}
description: A datakit project.
default_environment: dev
state:
  type: sqlite
  path: .datakit/state.db
""",
    "config/sources/shop.yaml": """\
source:
  name: shop
  type: sqlite
  description: The example shop database (data/shop.sqlite).
  connection:
    database: data/shop.sqlite
  resources:
    - name: customers
      primary_key: [customer_id]
      write_disposition: merge
    - name: orders
      primary_key: [order_id]
      write_disposition: merge
      incremental:
        cursor_field: updated_at
        initial_value: "2024-01-01T00:00:00"
""",
    "config/destinations/warehouse.yaml": """\
destination:
  name: warehouse
  type: duckdb
  connection:
    database: warehouse.duckdb
environments:
  prod:
    connection:
      database: ${{WAREHOUSE_PATH:-warehouse-prod.duckdb}}
""",
    "config/pipelines/shop_bronze.yaml": """\
pipeline:
  name: shop_bronze
  description: Shop tables into the bronze layer.
  source:
    name: shop
  destination:
    name: warehouse
    layer: bronze
""",
    "config/jobs/daily.yaml": """\
job:
  name: daily
  description: Daily load of the shop.
  pipelines:
    - name: shop_bronze
  execution:
    mode: sequential
  retries:
    max_attempts: 3
    retry_delay: 30s
    exponential_backoff: true
""",
    "config/triggers/daily_at_two.yaml": """\
trigger:
  name: daily_at_two
  type: cron
  job: daily
  schedule:
    cron: "0 2 * * *"
    timezone: UTC
""",
    "config/triggers/on_demand.yaml": """\
trigger:
  name: on_demand
  type: manual
  job: daily
""",
    "config/secrets_mapping.yaml": """\
# Secret key -> environment variable per environment. Configs refer to keys, never to values.
secrets:
  alerts_webhook_url:
    env_var_dev: ALERTS_WEBHOOK_URL_DEV
    env_var_stage: ALERTS_WEBHOOK_URL_STAGE
    env_var_prod: ALERTS_WEBHOOK_URL_PROD
    description: Where failure notifications are posted (optional).
    required: false
""",
    ".gitignore": """\
.datakit/
*.duckdb
*.duckdb.wal
__pycache__/
""",
    "README.md": """\
# {name}

A [datakit](https://pypi.org/project/datakit/) project.

    datakit validate      # check every YAML file
    datakit list          # what is defined
    datakit schema        # editor completion for the YAML (VS Code)

Layout: `config/` (sources, destinations, pipelines, jobs, triggers, warehouses, secrets_mapping.yaml),
`datakits/` (typed contracts), `transform/` (dbt projects), `data/` (the example SQLite source).
""",
}


def init_project(directory: Path, *, name: str | None = None) -> list[Path]:
    """Create a project in `directory` (new or empty); returns the files written."""
    root = directory.expanduser().resolve()
    if (root / "datakit.yaml").exists():
        raise UsageError(f"{directory} already holds a datakit project", hint="choose another folder")
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory} exists and is not a folder")
    if root.is_dir() and any(p.name != ".git" for p in root.iterdir()):
        raise UsageError(f"{directory} is not empty", hint="init creates a project in a new or empty folder")
    project_name = name or name_from_folder(root.name, "warehouse")
    created: list[Path] = []
    for relative, template in _FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=project_name), encoding="utf-8")
        created.append(path)
    for folder in ("config/warehouses", "datakits", "transform"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    created.append(_shop_database(root / "data" / "shop.sqlite"))
    created.extend(write_schemas(root))
    return created


def _shop_database(path: Path) -> Path:
    """A small, deterministic source database: 50 customers and 200 orders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE customers (
                customer_id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                email TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE orders (
                order_id INTEGER PRIMARY KEY,
                customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
                amount NUMERIC(10, 2) NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('new', 'paid', 'shipped')),
                updated_at TEXT NOT NULL
            );
            """
        )
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?)",
            [
                (i, f"Customer {i}", f"customer{i}@example.com", f"2024-01-{1 + i % 28:02d}T09:00:00")
                for i in range(1, 51)
            ],
        )
        statuses = ("new", "paid", "shipped")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    1 + i % 50,
                    round(5 + (i * 37 % 500) / 3, 2),
                    statuses[i % 3],
                    f"2024-02-{1 + i % 28:02d}T12:00:00",
                )
                for i in range(1, 201)
            ],
        )
    return path
