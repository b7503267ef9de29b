"""`datakit kit check`: every change between two versions of a datakit is classified, and a breaking
one fails unless the major version changes — against a wheel, a folder and a git ref."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from datakit.contracts.compat import Impact, compare_contracts, widens
from datakit.contracts.model import Contract
from datakit.contracts.types import parse_type
from datakit.datakits.compare import compare_manifests
from datakit.datakits.manifest import Manifest
from tests.cli.test_cli import run
from tests.datakits.kits import (
    add_customer_loyalty_tier,
    build_wheel,
    copy_pagila_kit,
    drop_customer_email,
    edit,
    narrow_customer_active,
    set_version,
)


def _contract(**columns: dict[str, Any]) -> Contract:
    return Contract.model_validate(
        {"name": "t", "columns": [{"name": name, **spec} for name, spec in columns.items()]}
    )


BASE = {
    "id": {"type": "int32", "primary_key": True},
    "amount": {"type": "decimal(5,2)", "min": 0, "max": 1000},
    "status": {"type": "string", "accepted_values": ["open", "closed"], "max_length": 10},
    "note": {"type": "string"},
}


@pytest.mark.parametrize(
    ("change", "impact", "what"),
    [
        ({"note": None}, Impact.BREAKING, "column removed"),
        (
            {"id": {"type": "int16", "primary_key": True}},
            Impact.BREAKING,
            "type narrowed from int32 to int16",
        ),
        (
            {"id": {"type": "int64", "primary_key": True}},
            Impact.COMPATIBLE,
            "type widened from int32 to int64",
        ),
        ({"amount": {"type": "decimal(4,2)", "min": 0, "max": 10}}, Impact.BREAKING, "type narrowed"),
        ({"amount": {"type": "decimal(7,2)", "min": 0, "max": 1000}}, Impact.COMPATIBLE, "to decimal(7,2)"),
        ({"note": {"type": "int32"}}, Impact.BREAKING, "type changed from string to int32"),
        ({"note": {"type": "string", "nullable": False}}, Impact.BREAKING, "nullable -> NOT NULL"),
        ({"extra": {"type": "string"}}, Impact.COMPATIBLE, "nullable column added"),
        ({"extra": {"type": "string", "nullable": False}}, Impact.BREAKING, "NOT NULL column added"),
        (
            {"status": {"type": "string", "accepted_values": ["open"], "max_length": 10}},
            Impact.BREAKING,
            "accepted values narrowed: 'closed' no longer accepted",
        ),
        (
            {"status": {"type": "string", "accepted_values": ["open", "closed", "held"], "max_length": 10}},
            Impact.COMPATIBLE,
            "accepted values widened",
        ),
        (
            {"status": {"type": "string", "accepted_values": ["open", "closed"], "max_length": 20}},
            Impact.COMPATIBLE,
            "max length raised from 10 to 20",
        ),
        ({"amount": {"type": "decimal(5,2)", "min": 10, "max": 1000}}, Impact.BREAKING, "range narrowed"),
        ({"amount": {"type": "decimal(5,2)", "min": 0}}, Impact.COMPATIBLE, "max 1000 removed"),
        ({"note": {"type": "string", "pattern": "^x"}}, Impact.BREAKING, "pattern '^x' added"),
    ],
)
def test_each_kind_of_change_is_classified(change: dict[str, Any], impact: Impact, what: str) -> None:
    columns = {k: v for k, v in ({**BASE, **change}).items() if v is not None}
    changes = compare_contracts(_contract(**BASE), _contract(**columns))
    assert changes
    assert {c.impact for c in changes} == {impact}, changes
    assert any(what in c.what for c in changes), changes


def test_a_changed_primary_key_is_breaking_and_a_relaxed_not_null_is_not() -> None:
    old = _contract(**BASE)
    new = _contract(**{**BASE, "id": {"type": "int32"}, "note": {"type": "string", "primary_key": True}})
    found = {(c.impact, c.what) for c in compare_contracts(old, new)}
    assert (Impact.BREAKING, "primary key changed from (id) to (note)") in found
    assert (Impact.COMPATIBLE, "NOT NULL -> nullable") in found  # id left the key


def test_widening_follows_the_values_each_type_holds() -> None:
    assert widens(parse_type("int16"), parse_type("decimal(10,2)"))
    assert not widens(parse_type("int64"), parse_type("decimal(10,2)"))
    assert widens(parse_type("decimal(5,2)"), parse_type("decimal"))
    assert not widens(parse_type("timestamptz"), parse_type("timestamp"))
    assert widens(parse_type("array<int16>"), parse_type("array<int32>"))


def _manifest(version: str | None, *tables: Contract) -> Manifest:
    return Manifest(datakit="k", version=version, tables=tables)


def test_a_removed_table_is_breaking_and_an_added_one_is_not() -> None:
    kept = _contract(**BASE).evolve(name="kept")
    gone = _contract(**BASE).evolve(name="gone")
    added = _contract(**BASE).evolve(name="added")
    done = compare_manifests(_manifest("1.0.0", kept, gone), _manifest("1.1.0", kept, added))
    assert [(c.impact, c.table, c.what) for c in done.changes] == [
        (Impact.BREAKING, "source:gone", "table removed"),
        (Impact.COMPATIBLE, "source:added", "table added"),
    ]
    assert not done.ok
    assert "1 breaking change without a new major version (1.0.0 -> 1.1.0)" in done.verdict
    assert compare_manifests(_manifest("1.0.0", kept), _manifest("1.1.0", kept, added)).ok


@pytest.mark.parametrize(
    ("old", "new", "ok", "said"),
    [
        ("1.4.2", "2.0.0", True, "allowed by the new major version"),
        ("1.4.2", "1.5.0", False, "release it as 2.0.0"),
        ("0.3.1", "0.4.0", True, "allowed by the new major version"),  # 0.x: a minor bump is enough
        ("0.3.1", "0.3.2", False, "release it as 0.4.0"),
        ("0.3.1", None, False, "the new version is unknown"),
        ("1.0.0", "1.0.0rc1x", False, "a version is not a version"),
    ],
)
def test_a_breaking_change_needs_the_next_major_version(
    old: str, new: str | None, ok: bool, said: str
) -> None:
    table = _contract(**BASE)
    narrowed = _contract(**{**BASE, "id": {"type": "int16", "primary_key": True}})
    done = compare_manifests(_manifest(old, table), _manifest(new, narrowed))
    assert (done.ok, [c.what for c in done.breaking]) == (ok, ["type narrowed from int32 to int16"])
    assert said in done.verdict, done.verdict


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Pagila datakit at 1.0.0, as a folder and as the wheel `kit build` makes of it."""
    root = tmp_path_factory.mktemp("v1")
    kit = copy_pagila_kit(root / "pagila")
    return kit, build_wheel(kit, root / "dist")


def _check(new: Path, against: str | Path) -> tuple[int, dict[str, Any]]:
    done = run("kit", "check", str(new), "--against", str(against), "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_dropped_column_and_a_narrowed_int_fail_without_a_major_version(
    tmp_path: Path, v1: tuple[Path, Path]
) -> None:
    folder, wheel = v1
    kit = copy_pagila_kit(tmp_path / "pagila", "1.1.0")
    drop_customer_email(kit)
    narrow_customer_active(kit)
    for old in (wheel, folder):  # the wheel's manifest and the folder's imported contracts agree
        code, report = _check(kit, old)
        assert code == 1
        assert {(c["impact"], c["table"], c["column"], c["change"]) for c in report["changes"]} == {
            ("breaking", "source:pagila.public.customer", "email", "column removed (was string)"),
            ("breaking", "source:pagila.public.customer", "active", "type narrowed from int32 to int16"),
        }
        assert "2 breaking changes without a new major version (1.0.0 -> 1.1.0)" in report["verdict"]
        assert "release it as 2.0.0" in report["verdict"]
    shown = run("kit", "check", str(kit), "--against", str(wheel), env={"COLUMNS": "200"})  # as read
    assert shown.returncode == 1
    assert "type narrowed from int32 to int16" in shown.stdout and "column removed" in shown.stdout

    edit(kit / "pyproject.toml", 'version = "1.1.0"', 'version = "2.0.0"')
    code, report = _check(kit, wheel)
    assert code == 0
    assert report["verdict"].startswith("2 breaking changes, allowed by the new major version")


def test_a_compatible_change_passes_with_a_minor_version(tmp_path: Path, v1: tuple[Path, Path]) -> None:
    _, wheel = v1
    kit = copy_pagila_kit(tmp_path / "pagila", "1.1.0")
    add_customer_loyalty_tier(kit)
    code, report = _check(kit, wheel)
    assert code == 0, report
    assert [(c["impact"], c["column"]) for c in report["changes"]] == [("compatible", "loyalty_tier")]
    assert report["verdict"] == "no breaking change"


def test_against_a_git_ref_of_the_datakits_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    kit = copy_pagila_kit(repo / "kits" / "pagila")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "pagila 1.0.0")
    git("tag", "v1.0.0")
    set_version(kit, "1.0.1")
    narrow_customer_active(kit)
    code, report = _check(kit, "v1.0.0")
    assert code == 1
    assert report["old"] == {"version": "1.0.0", "origin": "git:v1.0.0"}
    assert [c["change"] for c in report["changes"]] == ["type narrowed from int32 to int16"]

    unknown = run("kit", "check", str(kit), "--against", "v9")
    assert unknown.returncode == 2
    assert "not a wheel, a folder, or a git ref" in unknown.stderr


def test_a_removed_transform_breaks_the_pipelines_that_name_it(tmp_path: Path, v1: tuple[Path, Path]) -> None:
    _, wheel = v1
    kit = copy_pagila_kit(tmp_path / "pagila", "1.1.0")
    transforms = kit / "transforms.py"
    transforms.write_text(transforms.read_text().replace("@transform\n", ""))
    code, report = _check(kit, wheel)
    assert code == 1
    assert report["changes"] == [
        {
            "impact": "breaking",
            "table": "transform customer_bronze_transform",
            "column": None,
            "change": "transform removed (pipelines naming it fail)",
        }
    ]
