"""`datakit reflect` and `run pipeline` on a files source into DuckDB: zero services, in subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.cli.test_cli import run

SOURCE = """\
source:
  name: drops
  type: files
  base_path: data/drops
  resources:
    - name: people
      path: "*.csv"
      format: csv
      primary_key: [id]
      write_disposition: merge
      csv: {delimiter: ";"}
"""
PIPELINE = """\
pipeline:
  name: drops_bronze
  source: {name: drops}
  destination: {name: warehouse, layer: bronze}
"""


def project(tmp_path: Path) -> Path:
    """The scaffolded project plus a files source of two CSV files (one malformed line)."""
    root = tmp_path / "wh"
    assert run("init", str(root)).returncode == 0
    (root / "config" / "sources" / "drops.yaml").write_text(SOURCE)
    (root / "config" / "pipelines" / "drops_bronze.yaml").write_text(PIPELINE)
    drops = root / "data" / "drops"
    drops.mkdir(parents=True)
    (drops / "a.csv").write_text("id;name\n1;ann\n2;bob\n")
    (drops / "b.csv").write_text("id;name\n3;cy\n4;dee;oops\n5;ed\n")
    return root


def test_run_pipeline_loads_each_file_once(tmp_path: Path) -> None:
    root = project(tmp_path)

    first = run("-p", str(root), "run", "pipeline", "drops_bronze", "--json")
    again = run("-p", str(root), "run", "pipeline", "drops_bronze", "--json")

    assert first.returncode == 0, first.stdout + first.stderr
    (loaded,) = json.loads(first.stdout)["resources"]
    assert (loaded["rows_read"], loaded["rows_loaded"], loaded["rows_rejected"]) == (5, 4, 1)
    (nothing,) = json.loads(again.stdout)["resources"]
    assert (nothing["rows_read"], nothing["rows_loaded"]) == (0, 0)
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:
        assert conn.execute('SELECT count(*) FROM "br__drops__main"."people"').fetchone() == (4,)
        rejected = conn.execute(
            'SELECT _dk_row_index, _dk_raw FROM "br__drops__main"."people__rejected"'
        ).fetchall()
        assert rejected == [(3, "4;dee;oops")]
        files = conn.execute('SELECT path FROM "_datakit"."files" ORDER BY path').fetchall()
        assert files == [("a.csv",), ("b.csv",)]


def test_reflect_writes_the_inferred_contract_as_a_datakit(tmp_path: Path) -> None:
    root = project(tmp_path)

    done = run("-p", str(root), "reflect", "--source", "drops", "--sample", "10", "--out", "datakits/drops")

    assert done.returncode == 0, done.stdout + done.stderr
    module = (root / "datakits" / "drops" / "main.py").read_text()
    assert "class People(" in module
    assert "id: int = Field(primary_key=True" in module
    assert "name: str | None" in module
    assert "pipeline 'drops_bronze' names no datakit: add `datakit: drops`" in done.stdout
    refused = run("-p", str(root), "run", "pipeline", "drops_bronze")
    assert refused.returncode == 1 and "datakit does not guess" in refused.stderr  # nothing changed silently
    pipeline = root / "config" / "pipelines" / "drops_bronze.yaml"
    pipeline.write_text(pipeline.read_text() + "  datakit: drops\n")
    loaded = run("-p", str(root), "run", "pipeline", "drops_bronze", "--json")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    (result,) = json.loads(loaded.stdout)["resources"]
    assert result["rows_loaded"] == 4
