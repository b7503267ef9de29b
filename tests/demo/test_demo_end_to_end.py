"""`datakit demo` from an empty folder: the warehouse has gold rows, and report.html shows in a browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from datakit.demo.project import BRONZE_SCHEMA
from tests.browser import chromium


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of `page` after headless Chromium rendered it (skipped when there is no Chromium)."""
    return chromium(profile, "--dump-dom", page.resolve().as_uri())


def test_demo_from_an_empty_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "demo", "shop", "--scale", "0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    root = tmp_path / "shop"
    assert "✓ demo run 1 succeeded" in done.stdout
    for heading in ("Warehouse", "Checks: 7 passed, 0 failed", "Timings"):
        assert heading in done.stdout
    for line in (
        "✓ generate: ",
        "✓ dvdrental_bronze.* (",  # one DuckDB file, one writer: the pipeline's loads are one step
        "✓ silver (",
        "✓ silver_checks (",
        "✓ gold (",
    ):
        assert line in done.stdout, line  # each step reported as it finished

    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        listed = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN (?, 'silver', 'gold')",
            [BRONZE_SCHEMA],
        ).fetchall()
        rows = {
            f"{s}.{t}": conn.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchall()[0][0] for s, t in listed
        }
    assert rows[f"{BRONZE_SCHEMA}.rental"] == rows["silver.rental"] == 1604
    assert f"{BRONZE_SCHEMA}.rental__rejected" not in rows  # no row rejected: no rejected table made
    gold = {name: count for name, count in rows.items() if name.startswith("gold.")}
    assert gold, "the gold layer has no tables"
    assert all(count > 0 for count in gold.values()), gold

    report = root / "report.html"
    dom = dump_dom(report, tmp_path / "chromium-profile")
    assert dom.count('class="table-row"') == len(rows) - sum(
        n.endswith(("__rejected", "__history")) for n in rows
    )
    for name in ("silver.customer", "silver.rental", *gold):
        assert f'data-table="{name}"' in dom, name
    assert dom.count('class="check passed"') >= 4
    assert 'class="check failed"' not in dom
    for layer in ("source", "bronze", "silver", "gold"):
        assert f'class="lineage-node layer-{layer}"' in dom, layer
    assert 'data-id="source:rental"' in dom
    assert 'data-from="bronze:rental" data-to="silver:rental"' in dom

    assert 'href="docs/index.html"' in dom  # the docs of this warehouse, built beside the report
    docs = root / "docs" / "index.html"
    column = chromium(
        tmp_path / "chromium-docs",
        "--dump-dom",
        f"{docs.resolve().as_uri()}#/column/warehouse.gold.fact_payment/amount",
    )
    assert 'class="column-link">dvdrental.payment.amount</a>' in column


def test_demo_will_not_write_into_a_folder_of_other_things(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("mine")
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "demo", "taken"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "taken is not empty and holds no earlier demo" in done.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["thesis.tex"]
