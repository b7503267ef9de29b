"""JSON Schemas for editors: generated from the models, accepting valid files and rejecting typos."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from datakit.config.loader import discover
from datakit.config.schema import all_schemas, write_schemas
from datakit.config.yaml_source import read_yaml
from datakit.errors import DatakitError
from tests.config.helpers import PAGILA, SEED, copy_project


def _validator(schema: dict[str, object]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("base", [PAGILA, SEED], ids=["pagila", "seed002"])
def test_every_example_file_validates_against_its_schema(base: Path) -> None:
    schemas = {key: _validator(schema) for key, schema in all_schemas().items()}
    files = discover(base / "config")
    assert len(files) >= 6
    for path in files:
        data = read_yaml(path).data
        key = next(k for k in data if k != "environments")
        errors = list(schemas[key].iter_errors(data))
        assert not errors, (path, [e.message for e in errors])
    if (base / "datakit.yaml").exists():
        assert not list(schemas["project"].iter_errors(read_yaml(base / "datakit.yaml").data))


def test_schema_rejects_unknown_keys_and_bad_values_like_the_loader() -> None:
    source = _validator(all_schemas()["source"])
    good = read_yaml(SEED / "config/sources/my_api.yaml").data
    typo = json.loads(json.dumps(good))
    typo["source"]["connection"]["timeot"] = 30
    assert any("timeot" in e.message for e in source.iter_errors(typo))
    bad_type = json.loads(json.dumps(good))
    bad_type["source"]["type"] = "rest_apii"
    assert list(source.iter_errors(bad_type))
    trigger = _validator(all_schemas()["trigger"])
    overlay = {
        "trigger": {"name": "t", "type": "manual", "job": "j"},
        "environments": {"prod": {"enabled": False}},  # partial overlays need no required keys
    }
    assert not list(trigger.iter_errors(overlay))
    overlay["environments"] = {"qa": {"enabled": False}}
    assert list(trigger.iter_errors(overlay))


def test_write_schemas_maps_folders_and_keeps_other_settings(tmp_path: Path) -> None:
    root = copy_project(PAGILA, tmp_path / "p")
    (root / ".vscode").mkdir()
    (root / ".vscode/settings.json").write_text(
        json.dumps({"editor.tabSize": 2, "yaml.schemas": {"x.json": "*.x"}})
    )
    written = write_schemas(root)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [f"{k}.schema.json" for k in ("project", "source", "destination", "pipeline", "job", "trigger",
                                       "warehouse", "checks", "target", "secrets")] + ["settings.json"]
    )  # fmt: skip
    settings = json.loads((root / ".vscode/settings.json").read_text())
    assert settings["editor.tabSize"] == 2
    assert settings["yaml.schemas"]["x.json"] == "*.x"
    assert settings["yaml.schemas"]["./.vscode/schemas/source.schema.json"][0] == "config/sources/**/*.yaml"
    assert settings["yaml.schemas"]["./.vscode/schemas/project.schema.json"] == ["datakit.yaml"]
    write_schemas(root)  # idempotent
    assert json.loads((root / ".vscode/settings.json").read_text()) == settings


def test_write_schemas_refuses_to_clobber_unparseable_settings(tmp_path: Path) -> None:
    root = copy_project(PAGILA, tmp_path / "p")
    (root / ".vscode").mkdir()
    original = '{\n  // a comment\n  "editor.tabSize": 2\n}\n'
    (root / ".vscode/settings.json").write_text(original)
    with pytest.raises(DatakitError, match=r"settings\.json:2:3: cannot update VS Code settings"):
        write_schemas(root)
    assert (root / ".vscode/settings.json").read_text() == original
