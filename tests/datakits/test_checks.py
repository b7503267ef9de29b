"""`datakit validate` checks the datakits, tables and transforms pipelines name, at the YAML field."""

from __future__ import annotations

import shutil
from pathlib import Path

from datakit.config import validate_project
from datakit.datakits.checks import check_datakit_references
from tests.cli.test_cli import run
from tests.conftest import EXAMPLES


def _pagila(tmp_path: Path) -> Path:
    project = tmp_path / "pagila"
    shutil.copytree(EXAMPLES / "pagila", project, ignore=shutil.ignore_patterns("*.duckdb", "__pycache__"))
    return project


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_example_project_names_only_what_its_datakit_has() -> None:
    validation = validate_project(EXAMPLES / "pagila")
    assert validation.project is not None
    assert check_datakit_references(validation.project) == []


def test_misspelt_datakit_table_and_transform_are_reported_where_written(tmp_path: Path) -> None:
    project = _pagila(tmp_path)
    _edit(project / "config/pipelines/pagila_rentals.yaml", "datakit: pagila", "datakit: pagilla")
    source = project / "config/sources/pagila.yaml"
    _edit(source, "contract: customer ", "contract: custmer ")
    _edit(source, "transform: customer_bronze_transform", "transform: customer_bronze_transfrom")
    validation = validate_project(project)
    assert validation.project is not None
    found = {
        (p.field, p.message.split(": ", 1)[-1], p.suggestion)
        for p in check_datakit_references(validation.project)
    }
    assert ("datakit", "unknown datakit 'pagilla'", "did you mean 'pagila'?") in found
    assert (
        "resources[5].contract",
        "datakit 'pagila' has no bronze table 'custmer'",
        "did you mean 'customer'?",
    ) in found
    assert (
        "resources[5].transform",
        "datakit 'pagila' has no transform 'customer_bronze_transfrom'",
        "did you mean 'customer_bronze_transform'?",
    ) in found

    result = run("--project", str(project), "validate")
    assert result.returncode == 1
    assert "config/pipelines/pagila_rentals.yaml:" in result.stdout + result.stderr
    assert "unknown datakit 'pagilla'" in result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("custmer") == 1  # once, though three pipelines use it


def test_a_datakit_named_like_a_source_binds_nothing_by_itself(tmp_path: Path) -> None:
    """A pipeline without `datakit:` keeps loading as before; adding a datakit named like its source
    makes validate name the ambiguity at the pipeline, with both fixes; `datakit: false` settles it."""
    project = _pagila(tmp_path)
    pipeline = project / "config/pipelines/pagila_rentals.yaml"
    _edit(pipeline, "  datakit: pagila  #", "  #")
    result = run("--project", str(project), "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "config/pipelines/pagila_rentals.yaml:2:" in output
    assert "pipeline 'pagila_rentals' names no datakit, but datakit 'pagila' is named like" in output
    assert "add `datakit: pagila`" in output and "`datakit: false`" in output
    _edit(pipeline, "  #", "  datakit: false  #")
    validation = validate_project(project)
    assert validation.project is not None
    assert check_datakit_references(validation.project) == []
    from datakit.load.resolve import plans_for

    _, plans = plans_for(validation.project, "pagila_rentals")
    assert all(plan.contract is None or plan.contract.system != "pagila" for plan in plans)
