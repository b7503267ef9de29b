"""Datakits as packages: `kit new` scaffolds one whose tests pass, `kit build` makes a wheel carrying its
manifest, and a project that pins the installed Pagila datakit by version validates and loads with it
in a fresh virtualenv — with missing, mismatched and unpinned datakits reported at the pin or field."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from datakit.datakits.manifest import MANIFEST_FILE, read_wheel_manifest
from tests.cli.test_cli import run
from tests.datakits.kits import build_wheel, copy_pagila_kit, fresh_venv, pip_install
from tests.pagila import expected_rows
from tests.pagila_project import copy_pagila_project, pagila_env


def test_kit_new_scaffolds_a_datakit_that_tests_green_and_builds(tmp_path: Path) -> None:
    made = run("kit", "new", "crm", "--out", str(tmp_path / "crm"))
    assert made.returncode == 0, made.stderr
    root = tmp_path / "crm"
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} >= {
        "pyproject.toml",
        "README.md",
        "src/crm_datakit/__init__.py",
        "src/crm_datakit/source.py",
        "src/crm_datakit/bronze.py",
        "src/crm_datakit/transforms.py",
        "src/crm_datakit/factories.py",
        "tests/test_crm.py",
    }
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "3 passed" in tested.stdout

    wheel = build_wheel(root, tmp_path / "dist")
    assert wheel.name == "crm_datakit-0.1.0-py3-none-any.whl"
    manifest = read_wheel_manifest(wheel)
    assert (manifest.datakit, manifest.version, manifest.package) == ("crm", "0.1.0", "crm-datakit")
    assert {f"{t.layer}:{t.name}" for t in manifest.tables} == {"source:customer", "bronze:customer"}
    assert [(t.name, t.source, t.target) for t in manifest.transforms] == [
        ("customer_bronze", "source:crm.customer", "bronze:crm.customer")
    ]

    again = run("kit", "new", "crm", "--out", str(root))
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    bad = run("kit", "new", "Crm-Kit")
    assert bad.returncode == 2 and "is not a datakit name" in bad.stderr


def test_the_wheel_carries_a_manifest_the_installer_verifies(tmp_path: Path) -> None:
    wheel = build_wheel(copy_pagila_kit(tmp_path / "pagila"), tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read("pagila_datakit-1.0.0.dist-info/RECORD").decode()
        data = json.loads(archive.read(f"pagila_datakit-1.0.0.dist-info/{MANIFEST_FILE}"))
    assert "pagila_datakit/source/public.py" in names and "pagila_datakit/pyproject.toml" not in names
    assert f"pagila_datakit-1.0.0.dist-info/{MANIFEST_FILE},sha256=" in record
    assert record.rstrip().endswith("pagila_datakit-1.0.0.dist-info/RECORD,,")
    assert (data["datakit"], data["version"], data["package"]) == ("pagila", "1.0.0", "pagila-datakit")
    customer = next(t for t in data["tables"] if t["layer"] == "bronze" and t["name"] == "customer")
    assert customer["primary_key"] == ["customer_id"] and customer["history"] is True
    email = next(c for c in customer["columns"] if c["name"] == "email")
    assert (email["type"], email["nullable"]) == ("string", True)


def test_a_datakit_that_does_not_import_is_not_built(tmp_path: Path) -> None:
    kit = copy_pagila_kit(tmp_path / "pagila")
    (kit / "transforms.py").write_text((kit / "transforms.py").read_text() + "\nraise ValueError('broken')\n")
    done = run("kit", "build", str(kit), "--out", str(tmp_path / "dist"))
    assert done.returncode == 1
    assert "transforms.py:31: datakit 'pagila' failed to import: ValueError: broken" in done.stderr
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the Pagila datakit 1.0.0 installed from the wheel `kit build` made."""
    root = tmp_path_factory.mktemp("installed")
    wheel = build_wheel(copy_pagila_kit(root / "pagila"), root / "dist")
    python = fresh_venv(root / "venv")
    pip_install(python, wheel)
    return python


def _project_on_the_package(tmp_path: Path, pin: str | None) -> Path:
    """The example project without its datakits/ folder, pinning the installed datakit instead."""
    project = copy_pagila_project(tmp_path)
    shutil.rmtree(project / "datakits")
    if pin is not None:
        config = project / "datakit.yaml"
        config.write_text(config.read_text() + f"datakits:\n  {pin}\n")
    return project


def _datakit(
    python: Path, project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | {"COLUMNS": "200"} | (env or {})
    return subprocess.run(
        [str(python), "-m", "datakit", "-p", str(project), *args],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )


def _text(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout + done.stderr).replace("\n  ", " ")


def test_pins_are_checked_against_what_is_installed(tmp_path: Path, venv: Path) -> None:
    good = _project_on_the_package(
        tmp_path / "good", "pagila: {version: '>=1.0,<2', package: pagila-datakit}"
    )
    assert _datakit(venv, good, "validate").returncode == 0

    wrong = _project_on_the_package(tmp_path / "wrong", "pagila: '>=2,<3'")
    done = _datakit(venv, wrong, "validate")
    assert done.returncode == 1
    lines = _text(done)
    assert (
        "datakit.yaml:24:11: project.datakits.pagila: datakit 'pagila' is installed at version 1.0.0 "
        "(pagila-datakit), but datakit.yaml pins >=2,<3" in lines
    ), done.stdout
    assert "pip install 'pagila-datakit>=2,<3'" in lines

    missing = _project_on_the_package(tmp_path / "missing", "crm: {version: '~=1.2', package: crm-datakit}")
    done = _datakit(venv, missing, "validate")
    text = _text(done)
    assert (
        "datakit.yaml:24:8: project.datakits.crm: datakit 'crm' is pinned (~=1.2) but not installed" in text
    )
    assert "pip install 'crm-datakit~=1.2'" in text
    # the pipelines name pagila, which is installed but not pinned: reported at each `datakit:`
    assert "datakit 'pagila' is installed (pagila-datakit 1.0.0) but datakit.yaml does not pin it" in text
    assert text.count("pipeline.datakit:") == 3

    not_here = _project_on_the_package(tmp_path / "not_here", "pagila: '>=1.0,<2'")
    assert run("-p", str(not_here), "validate").returncode == 1  # this environment has no such package


@pytest.mark.postgres
def test_a_project_loads_with_the_installed_datakit_and_records_its_version(
    tmp_path: Path, venv: Path, pagila_dsn: str
) -> None:
    project = _project_on_the_package(tmp_path, "pagila: {version: '>=1.0,<2', package: pagila-datakit}")
    env = pagila_env(pagila_dsn)
    loaded = _datakit(venv, project, "run", "pipeline", "pagila_rentals", "--json", env=env)
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-3000:]
    results = {r["resource"]: r for r in json.loads(loaded.stdout)["resources"]}
    want = expected_rows()
    assert results["rental"]["rows_loaded"] == want["rental"]
    assert results["payment"]["rows_loaded"] == want["payment"]

    checked = _datakit(
        venv, project, "deploy", "pagila", "-d", "local_duckdb", "--validate", "--json", env=env
    )
    tables = {t["table"]: t for t in json.loads(checked.stdout)["tables"]}
    assert tables["rental"]["deployed_from"]["name"] == "pagila"
    assert tables["rental"]["deployed_from"]["version"] == "1.0.0"
    assert tables["rental"]["deployed_from"]["by"].startswith("load ")
    assert tables["actor"]["exists"] is False  # not loaded by this pipeline


def test_a_datakit_that_requires_another_records_it_in_its_manifest() -> None:
    """The crm example's source datakits map into crm's tables (`requires("crm")`): the manifest says so."""
    from datakit.datakits.compare import manifest_at
    from tests.conftest import EXAMPLES

    manifest = manifest_at(EXAMPLES / "crm" / "datakits" / "app")
    assert manifest.requires == ("crm",)
    assert {(t.name, t.source, t.target) for t in manifest.transforms} == {
        ("app_customer", "source:app.public.customers", "silver:crm.customer"),
        ("app_person", "source:app.public.customers", "silver:crm.person"),
    }
