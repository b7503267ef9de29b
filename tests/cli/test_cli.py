"""The CLI end to end in subprocesses: init -> validate -> list -> schema, and start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

HEAVY = ("duckdb", "pyarrow", "psycopg", "sqlalchemy", "sqlmodel", "dbt", "pymysql", "adbc_driver_manager")


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "datakit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_help_imports_no_driver_arrow_or_dbt() -> None:
    code = (
        "import sys\nfrom datakit.cli.app import app\nfrom typer.main import get_command\n"
        "get_command(app)\nprint(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
    result = run("--help")
    assert result.returncode == 0 and "validate" in result.stdout and "init" in result.stdout


def test_init_then_validate_list_schema(tmp_path: Path) -> None:
    target = tmp_path / "shop-warehouse"
    created = run("init", str(target))
    assert created.returncode == 0, created.stderr
    assert (target / "data" / "shop.sqlite").is_file()
    validated = run("validate", cwd=target)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert (
        "project 'shop-warehouse' is valid (environment dev): 1 source, 1 destination, 1 pipeline"
        in validated.stdout
    )
    listed = json.loads(run("list", "--json", cwd=target / "config").stdout)
    assert listed["sources"][0] == {
        "name": "shop",
        "type": "sqlite",
        "resources": ["customers", "orders"],
        "file": "sources/shop.yaml",
    }
    assert [t["name"] for t in listed["triggers"]] == ["daily_at_two", "on_demand"]
    again = run("init", str(target))
    assert again.returncode == 2 and "already holds a datakit project" in again.stderr
    prod = run("validate", "--env", "prod", cwd=target)
    assert prod.returncode == 0, prod.stderr


def test_list_reads_like_the_seed_listing() -> None:
    result = run("-p", str(EXAMPLES / "pagila"), "list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SOURCES (1)" in out and "• pagila (postgres)" in out and "Resources: 15" in out
    assert "pagila_rentals\n    pagila → local_duckdb [bronze], resources: 2" in out
    assert "• pagila_daily\n    Pipelines: 1  Steps: silver, silver_checks, gold  Mode: dag" in out
    assert (
        "• pagila_nightly [✓ ENABLED]\n    Type: cron  Job: pagila_daily\n"
        "    Schedule: 0 2 * * * (Europe/Paris)" in out
    )
    assert "• pagila_hourly [✗ DISABLED]" in out and "Schedule: every 1h" in out
    assert "WAREHOUSES (2)" in out


def test_validate_json_and_exit_codes(tmp_path: Path) -> None:
    ok = run("validate", "--json", "-p", str(EXAMPLES / "pagila"))
    data = json.loads(ok.stdout)
    assert ok.returncode == 0 and data["valid"] is True and data["counts"]["pipeline"] == 3
    usage = run("validate", "--nope")
    assert usage.returncode == 2
    nowhere = run("validate", cwd=tmp_path)
    assert nowhere.returncode == 2 and "no datakit.yaml found" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def test_the_cli_sizes_its_tables_when_a_command_runs_not_when_it_was_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from datakit.cli import output
    from datakit.cli.app import app
    from datakit.config import load_project
    from datakit.config.scaffold import init_project
    from datakit.orchestrate.run import run_job

    root = tmp_path / "shop"
    init_project(root)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    assert run_job(load_project(root, environ={}), "daily").ok
    # the consoles as an earlier moment of this process sized them (another COLUMNS, another stream)
    monkeypatch.setattr(output, "console", Console(width=40))
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(app, ["runs", "--project", str(root)])
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.stdout.splitlines() if line.startswith("│"))
    assert "…" not in row and [cell.strip() for cell in row.split("│")][1:6] == [
        "1",
        "daily",
        "-",
        "local",
        "succeeded",
    ], shown.stdout
