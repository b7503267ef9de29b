"""The demo project: what it holds, where it may be written, and that its bronze load rejects nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.demo import template
from datakit.demo.project import BRONZE_SCHEMA, JOB, MARKER, PIPELINE, SOURCE_FILE, create_demo_project
from datakit.demo.run import source_counts
from datakit.errors import UsageError


def test_packaged_template_matches_examples_pagila() -> None:
    """The demo ships a copy of the example's datakit and dbt project; they must not drift apart."""
    example = template.example_root()
    if not example.is_dir():
        pytest.skip("not a source checkout: examples/pagila is not here")
    shipped, current = template.bundled(), template.collect(example)
    differing = sorted(p for p in shipped.keys() | current.keys() if shipped.get(p) != current.get(p))
    assert differing == [], (
        "src/datakit/demo/template.yaml differs from examples/pagila in these files; "
        "refresh it with `python -m datakit.demo.template`"
    )
    assert any(path.startswith("datakits/pagila/") for path in template.bundled())
    assert "transform/pagila/dbt_project.yml" in template.bundled()


def test_project_validates_with_the_job_shape(tmp_path: Path) -> None:
    from datakit.config import load_project

    root = create_demo_project(tmp_path / "demo", scale=0.02)
    project = load_project(root)
    assert set(project.sources) == {"dvdrental"}
    pipeline = project.pipeline(PIPELINE)
    assert pipeline.destination.dataset_name == BRONZE_SCHEMA
    assert pipeline.datakit == "pagila"
    job = project.job(JOB)
    assert [p.name for p in job.pipelines] == [PIPELINE]
    assert [(s.step_name, s.depends_on) for s in job.steps] == [
        ("silver", [PIPELINE]),
        ("silver_checks", ["silver"]),
        ("gold", ["silver_checks"]),
    ]
    assert job.execution.mode == "dag"
    assert (root / "datakits/pagila/source/public.py").is_file()
    assert (root / "transform/pagila/dbt_project.yml").is_file()
    assert (root / SOURCE_FILE).is_file()
    assert project.triggers["demo_manual"].job == JOB


def test_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        create_demo_project(tmp_path, scale=0.02)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_earlier_demo_is_replaced(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo", scale=0.02)
    (root / "warehouse.duckdb").write_bytes(b"old warehouse")
    assert (root / MARKER).is_file()
    again = create_demo_project(tmp_path / "demo", scale=0.03)
    assert again == root
    assert not (root / "warehouse.duckdb").exists()
    assert source_counts(root / SOURCE_FILE)["rental"] == round(16044 * 0.03)


def test_bronze_load_passes_the_pagila_contracts(tmp_path: Path) -> None:
    """Every generated table goes through the loader and the datakit's contracts with zero rejections."""
    from datakit.config import load_project
    from datakit.load.loader import load_resource
    from datakit.load.resolve import plans_for

    root = create_demo_project(tmp_path / "demo", scale=0.05)
    expected = source_counts(root / SOURCE_FILE)
    destination, plans = plans_for(load_project(root), PIPELINE)
    assert sorted(plan.resource for plan in plans) == sorted(expected)
    for plan in plans:
        assert plan.target.schema == BRONZE_SCHEMA
        result = load_resource(plan, destination)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
            expected[plan.resource],
            expected[plan.resource],
            0,
        ), plan.resource

    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        features = conn.execute(
            f"SELECT special_features FROM {BRONZE_SCHEMA}.film ORDER BY film_id LIMIT 1"
        ).fetchone()
        emails = conn.execute(f"SELECT count(*) FROM {BRONZE_SCHEMA}.customer WHERE email <> lower(email)")
        assert emails.fetchone() == (0,)  # the datakit's typed transform ran
    assert features is not None
    assert isinstance(features[0], list)
    assert features[0]
