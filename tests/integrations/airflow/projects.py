"""Small projects for the Airflow tests: the `datakit init` scaffold (SQLite -> DuckDB), plus YAML."""

from __future__ import annotations

from pathlib import Path

from datakit.config.scaffold import init_project

REPORT_JOB = """\
job:
  name: report
  pipelines: [shop_bronze]
  execution: {mode: parallel, max_parallelism: 3}
  retries: {max_attempts: 4, retry_delay: 2s, exponential_backoff: true, max_retry_delay: 10s}
  timeout: 5m
"""
REPORT_TRIGGERS = {
    "after_daily.yaml": "trigger: {name: after_daily, type: event, job: report, "
    "event: {type: job_succeeded, job: daily}}\n",
    "every_6h.yaml": "trigger: {name: every_6h, type: interval, job: report, schedule: {every: 6h}}\n",
    "report_hook.yaml": "trigger: {name: report_hook, type: webhook, job: report, "
    "webhook: {secret_key: alerts_webhook_url}}\n",
    "report_files.yaml": "trigger: {name: report_files, type: event, job: report, "
    "event: {type: file_arrived, path: inbox}}\n",
}
ACME = """\
warehouse:
  name: acme
  destinations: [warehouse]
  jobs: [daily]
  schema_prefix: acme_
  schedules:
    daily_at_two: {cron: "30 3 * * *", timezone: Europe/Berlin}
"""


def shop_project(root: Path, *, retry_delay: str = "1s") -> Path:
    """The scaffold project (job `daily`: sequential, 2 load steps, 3 attempts) with a short retry delay,
    a step per resource under every executor (the local one would group the DuckDB pipeline's two, the
    Airflow DAG does not: its tests compare the two)."""
    init_project(root, name="shop")
    step_per_resource(root)
    job = root / "config/jobs/daily.yaml"
    job.write_text(job.read_text().replace("retry_delay: 30s", f"retry_delay: {retry_delay}"))
    return root


def step_per_resource(root: Path, job: str = "daily", pipeline: str = "shop_bronze") -> None:
    """Job `job` of a scaffold project loads each resource of `pipeline` as a step of its own."""
    path = root / "config" / "jobs" / f"{job}.yaml"
    text = path.read_text()
    assert f"- name: {pipeline}\n" in text
    entry = f"- {{name: {pipeline}, group_resources: false}}\n"
    path.write_text(text.replace(f"- name: {pipeline}\n", entry))


def rich_project(root: Path) -> Path:
    """`shop_project` plus job `report` (parallel) with event, interval, webhook and file triggers."""
    shop_project(root)
    (root / "config/jobs/report.yaml").write_text(REPORT_JOB)
    for name, text in REPORT_TRIGGERS.items():
        (root / "config/triggers" / name).write_text(text)
    return root


def add_acme(root: Path) -> None:
    (root / "config/warehouses/acme.yaml").write_text(ACME)


ACME_FULL_JOB = """\
job:
  name: acme_full
  description: Pagila into ACME's PostgreSQL warehouse, then silver (checked), then gold.
  pipelines: [pagila_bronze_pg]
  steps:
    - name: silver
      dbt: {project: transform/pagila, command: build, select: silver, destination: warehouse_pg}
      depends_on: [pagila_bronze_pg]
    - name: silver_checks
      checks: silver_quality_pg
      depends_on: [silver]
    - name: gold
      dbt: {project: transform/pagila, command: build, select: gold, destination: warehouse_pg}
      depends_on: [silver_checks]
  execution: {mode: dag, max_parallelism: 2}
  retries: {max_attempts: 2, retry_delay: 1s}
"""


def acme_full_job(root: Path) -> None:
    """In a copy of examples/pagila: job `acme_full` (load, dbt silver, checks, dbt gold on PostgreSQL),
    run by warehouse acme, with the silver checks pointed at the PostgreSQL warehouse."""
    (root / "config/jobs/acme_full.yaml").write_text(ACME_FULL_JOB)
    checks = (root / "config/checks/silver_quality.yaml").read_text()
    checks = checks.replace("name: silver_quality", "name: silver_quality_pg")
    (root / "config/checks/silver_quality_pg.yaml").write_text(
        checks.replace("destination: local_duckdb", "destination: warehouse_pg")
    )
    acme = root / "config/warehouses/acme.yaml"
    acme.write_text(
        acme.read_text().replace("jobs: [pagila_warehouse]", "jobs: [pagila_warehouse, acme_full]")
    )


POSTGRES_STATE = """state:
  type: postgres
  connection:
    host: ${WAREHOUSE_HOST}
    database: ${WAREHOUSE_DATABASE}
    user: ${WAREHOUSE_USER}
    password_secret_key: warehouse_password
"""


def postgres_state(root: Path) -> None:
    """Keep a copy of examples/pagila's run history in its PostgreSQL warehouse database (schema
    `datakit_state`), as a read-only deployment does: nothing is written into the project."""
    config = root / "datakit.yaml"
    sqlite = "state:\n  type: sqlite\n  path: .datakit/state.db\n"
    assert sqlite in config.read_text()
    config.write_text(config.read_text().replace(sqlite, POSTGRES_STATE, 1))


def copy_jaffle_project(parent: Path) -> Path:
    """A copy of examples/jaffle_shop (plain dbt, tenants acme and globex) under `parent`."""
    import shutil

    from tests.conftest import EXAMPLES

    target = parent / "jaffle_shop"
    shutil.copytree(
        EXAMPLES / "jaffle_shop",
        target,
        ignore=shutil.ignore_patterns(
            "*.duckdb", "*.duckdb.wal", ".datakit", "target", "logs", "__pycache__"
        ),
    )
    return target


ALERTS_VAR = "JAFFLE_ALERTS_URL"


def operated_jaffle(root: Path, *, sla: str = "30m") -> Path:
    """jaffle_shop as its operators configure it: an owner, tags on the job, its trigger and warehouse
    acme, an SLA, and notifications of failures and successes to the log and a webhook (URL in
    $JAFFLE_ALERTS_URL); a description on the dbt step."""
    job = root / "config/jobs/jaffle_daily.yaml"
    text = job.read_text()
    text = text.replace(
        "  pipelines: [jaffle_files, jaffle_payments]\n",
        "  owner: data-team\n  tags: [shop, finance]\n  pipelines: [jaffle_files, jaffle_payments]\n",
    )
    text = text.replace(
        "    - name: dbt_build\n", "    - name: dbt_build\n      description: Staging views and the marts.\n"
    )
    text += (
        f"  sla: {{duration: {sla}}}\n"
        "  notifications:\n    on_failure: true\n    on_success: true\n"
        "    channels: [log, {type: webhook, url_secret_key: alerts_url}]\n"
    )
    job.write_text(text)
    trigger = root / "config/triggers/nightly.yaml"
    trigger.write_text(trigger.read_text().replace("  type: cron\n", "  type: cron\n  tags: [nightly]\n"))
    acme = root / "config/warehouses/acme.yaml"
    acme.write_text(
        acme.read_text().replace("  jobs: [jaffle_daily]\n", "  jobs: [jaffle_daily]\n  tags: [customer]\n")
    )
    mapping = root / "config/secrets_mapping.yaml"
    mapping.write_text(
        mapping.read_text() + f"  alerts_url:\n    env_var: {ALERTS_VAR}\n    required: false\n"
    )
    return root


SHOP_ALERTS_VAR = "ALERTS_WEBHOOK_URL_DEV"
"""Where the scaffold's `alerts_webhook_url` secret comes from in environment dev."""


def notified_shop(root: Path, *, sla: str | None = None, lineage: str | None = None) -> Path:
    """`shop_project` whose job `daily` tells a webhook (URL in $ALERTS_WEBHOOK_URL_DEV) of failures and
    successes; with an SLA, and with OpenLineage events appended to the file `lineage` when given."""
    shop_project(root)
    job = root / "config/jobs/daily.yaml"
    text = job.read_text() + (
        "  notifications:\n    on_failure: true\n    on_success: true\n"
        "    channels: [{type: webhook, url_secret_key: alerts_webhook_url}]\n"
    )
    if sla is not None:
        text += f"  sla: {{duration: {sla}}}\n"
    job.write_text(text)
    if lineage is not None:
        with (root / "datakit.yaml").open("a") as config:
            config.write(f"openlineage:\n  transport: {{type: file, path: {lineage}}}\n")
    return root
