"""`datakit docs build` over a real demo warehouse: tables, lineage, last loads, checks, per warehouse."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from datakit.config.project import Project
from datakit.docs import DocsResult, build_docs, docs_server
from tests.docs.conftest import site_data

BRONZE = "warehouse.br__pagila__public"


def test_the_site_documents_every_layer_with_types_and_descriptions(
    documented: tuple[Project, DocsResult],
) -> None:
    _, result = documented
    data = site_data(result)
    layers = {t["layer"] for t in data["tables"]}
    assert layers == {"source", "bronze", "silver", "gold"}
    tables = {t["id"]: t for t in data["tables"]}
    amount = next(c for c in tables["warehouse.gold.fact_payment"]["columns"] if c["name"] == "amount")
    assert amount["type"] == "decimal(5,2)"  # from the catalog: dbt's YAML gives no type
    assert amount["description"] == "Amount paid."
    email = next(c for c in tables[f"{BRONZE}.customer"]["columns"] if c["name"] == "email")
    assert email["type"] == "string" and email["role"] == "data"  # from the contract
    assert result.tables == len(data["tables"]) and result.checks == len(data["checks"]) > 7
    loaded = ["dvdrental.payment", "amount", f"{BRONZE}.payment", "amount", "copied"]
    assert loaded in [edge[:5] for edge in data["edges"]]


def test_last_loads_checks_and_builds_per_warehouse(documented: tuple[Project, DocsResult]) -> None:
    project, result = documented
    data = site_data(result)
    assert [w["key"] for w in data["warehouses"]] == ["", "acme"]
    with sqlite3.connect(project.root / "data" / "dvdrental.sqlite") as source:
        rentals = source.execute("select count(*) from rental").fetchone()[0]
    mine, acme = data["status"][""], data["status"]["acme"]
    for status in (mine, acme):
        load = status["loads"][f"{BRONZE}.rental"]
        assert (load["rows_read"], load["rows_loaded"], load["rows_rejected"]) == (rentals, rentals, 0)
        assert load["status"] == "succeeded" and load["pipeline"] == "dvdrental_bronze"
        check = status["checks"]["checks:silver_quality:silver.customer:unique(customer_id)"]
        assert check["status"] == "passed" and check["failing_rows"] == 0
        assert status["built"]["warehouse.gold.fact_payment"]["status"] == "success"
    # each warehouse's own records: acme ran second, from its own schemas and its own state schema
    assert acme["loads"][f"{BRONZE}.rental"]["finished_at"] > mine["loads"][f"{BRONZE}.rental"]["finished_at"]
    assert acme["checks"]["checks:silver_quality:silver.customer:unique(customer_id)"]["run"] == 2
    assert mine["checks"]["checks:silver_quality:silver.customer:unique(customer_id)"]["run"] == 1
    dbt_test = next(k for k in mine["checks"] if k.startswith("dbt:test.pagila.not_null_fact_payment_amount"))
    assert mine["checks"][dbt_test]["status"] == "passed"
    assert result.warnings == ()


def test_offline_opens_no_database(documented: tuple[Project, DocsResult], tmp_path: Path) -> None:
    project, _ = documented
    result = build_docs(project, tmp_path / "offline", live=False)
    data = site_data(result)
    assert data["status"][""]["loads"] == {} and data["status"][""]["read"] is False
    assert data["status"][""]["checks"]  # run history is not a database of the warehouse: still read


def test_the_cli_builds_docs_and_prints_a_columns_lineage(documented: tuple[Project, DocsResult]) -> None:
    project, _ = documented
    built = subprocess.run(
        [sys.executable, "-m", "datakit", "docs", "build", "--out", "cli-site", "-p", str(project.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "✓ docs of" in built.stdout and (project.root / "cli-site" / "index.html").is_file()
    traced = subprocess.run(
        [sys.executable, "-m", "datakit", "lineage", "gold.dim_customer.full_name", "--upstream", "--json"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert traced.returncode == 0, traced.stderr
    found = json.loads(traced.stdout)
    assert found["sources"] == [
        {"table": "dvdrental.customer", "column": "first_name"},
        {"table": "dvdrental.customer", "column": "last_name"},
    ]
    text = subprocess.run(
        [sys.executable, "-m", "datakit", "lineage", "fact_payment.amount", "--upstream"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "cast from warehouse.br__pagila__public.payment.amount" in text
    assert "copied from dvdrental.payment.amount [pipeline dvdrental_bronze]" in text
    wrong = subprocess.run(
        [sys.executable, "-m", "datakit", "lineage", "payment.amount"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2 and "'payment.amount' names 3 columns" in wrong.stderr


def test_docs_are_served_over_http(documented: tuple[Project, DocsResult]) -> None:
    _, result = documented
    server = docs_server(result.index.parent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page = httpx.get(f"{base}/", timeout=10)
        data = httpx.get(f"{base}/data.js", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert page.status_code == 200 and '<script src="docs.js">' in page.text
    assert data.status_code == 200 and data.text.startswith("window.DATAKIT_DOCS = ")


def test_a_dbt_project_only_tenants_build_is_read_from_their_work_folder(
    documented: tuple[Project, DocsResult], tmp_path: Path
) -> None:
    import shutil

    from datakit.config import load_project
    from datakit.lineage import build_lineage

    project, _ = documented
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, symlinks=True, ignore=shutil.ignore_patterns("*.duckdb*", "site"))
    shutil.rmtree(copy / ".datakit" / "dbt" / "pagila" / "_default")  # only acme's work folder is left
    mine, acme = build_lineage(project), build_lineage(load_project(copy))
    dbt_edges = {e for e in mine.edges if e.via.startswith("dbt ")}
    assert len(dbt_edges) > 100
    assert {e for e in acme.edges if e.via.startswith("dbt ")} == dbt_edges  # acme_ taken off its names
    assert set(acme.tables) == set(mine.tables)
