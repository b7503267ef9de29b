"""`datakit demo --destination spark`: the demo warehouse on a local Spark (issue 18, item 6).

Slow (a Spark start per step on two cores): `pytest -m "spark and slow" tests/demo`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datakit.demo.project import BRONZE_SCHEMA

pytestmark = [pytest.mark.spark, pytest.mark.slow]

_COUNTS = """
import json, sys
from pathlib import Path
from datakit.config import load_project
from datakit.connectors.from_config import open_destination_named

project = load_project(Path(sys.argv[1]))
warehouse = open_destination_named(project, "warehouse")
counts = {}
with warehouse.session() as session:
    for table in session.tables():
        if table.schema in (sys.argv[2], "silver", "gold"):
            name = warehouse.engine.quote(table.schema, table.name)
            counts[f"{table.schema}.{table.name}"] = session.query(f"SELECT count(*) FROM {name}")[1][0][0]
print(json.dumps(counts))
"""


def test_demo_on_spark(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "demo", "shop", "--scale", "0.1", "--destination", "spark"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=5400,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "✓ demo run 1 succeeded" in done.stdout
    assert "Checks: 7 passed, 0 failed" in done.stdout
    root = tmp_path / "shop"
    assert "type: spark" in (root / "config/destinations/warehouse.yaml").read_text()
    counted = subprocess.run(
        [sys.executable, "-c", _COUNTS, str(root), BRONZE_SCHEMA],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert counted.returncode == 0, counted.stderr[-4000:]
    rows = json.loads(counted.stdout.strip().splitlines()[-1])
    assert rows[f"{BRONZE_SCHEMA}.rental"] == rows["silver.rental"] == 1604
    assert rows[f"{BRONZE_SCHEMA}.rental__rejected"] == 0
    gold = {name: count for name, count in rows.items() if name.startswith("gold.")}
    assert gold and all(count > 0 for count in gold.values()), gold
