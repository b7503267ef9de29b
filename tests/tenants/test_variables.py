"""`${var.NAME}` in configs: the warehouse's variables, when a tenant's run loads the project."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.errors import ConfigError
from datakit.orchestrate.run import run_job
from tests.matrix import DuckDBTarget

TENANT = """\
warehouse:
  name: {name}
  destinations: [warehouse]
  jobs: [daily]
  schema_prefix: {name}_
  variables: {{shop_file: {file}}}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_project(root)
    source = root / "config" / "sources" / "shop.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(
        text.replace("data/shop.sqlite", "data/${var.shop_file:-shop}.sqlite"), encoding="utf-8"
    )
    shutil.copy(root / "data" / "shop.sqlite", root / "data" / "acme_shop.sqlite")
    with sqlite3.connect(root / "data" / "acme_shop.sqlite") as acme:  # acme's shop is smaller
        acme.execute("delete from orders where order_id > 50")
    (root / "config" / "warehouses" / "acme.yaml").write_text(
        TENANT.format(name="acme", file="acme_shop"), encoding="utf-8"
    )
    return root


def test_a_tenants_run_reads_the_source_its_variables_name(tmp_path: Path) -> None:
    root = _project(tmp_path)
    project = load_project(root)
    assert str(project.source("shop").connection.database).endswith("data/shop.sqlite")  # the default
    acme = load_project(root, warehouse="acme")
    assert str(acme.source("shop").connection.database).endswith("data/acme_shop.sqlite")
    result = run_job(project, "daily", warehouse="acme")
    assert result.ok, result.errors
    warehouse = DuckDBTarget(root / "warehouse.duckdb", "acme_br__shop__main", read_only=True)
    assert warehouse.count("orders") == 50


def test_a_variable_the_warehouse_lacks_is_a_located_error(tmp_path: Path) -> None:
    root = _project(tmp_path)
    source = root / "config" / "sources" / "shop.yaml"
    source.write_text(
        source.read_text(encoding="utf-8").replace("${var.shop_file:-shop}", "${var.shop_fil}"),
        encoding="utf-8",
    )
    from datakit.config import validate_project

    load_project(root)  # a run loads only its own warehouse's view: no error at project level
    problems = [p.render() for p in validate_project(root, check_warehouses=True).errors]
    assert any(
        "config/sources/shop.yaml" in p and "warehouse variable 'shop_fil' is not set" in p and "'acme'" in p
        for p in problems
    ), problems
    with pytest.raises(ConfigError) as caught:
        load_project(root, warehouse="acme")
    assert "shop.yaml" in str(caught.value) and "warehouse variable 'shop_fil' is not set" in str(
        caught.value
    )
