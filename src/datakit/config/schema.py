"""JSON Schemas of every config kind, generated from the same models the loader validates with.

Written to `.vscode/schemas/` and mapped to the config folders in `.vscode/settings.json`
(`yaml.schemas`), so the VS Code YAML extension completes and validates files as they are typed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from datakit.config.models import ENVIRONMENTS, KINDS, PROJECT_KIND, Kind
from datakit.errors import DatakitError

SCHEMA_DIR = Path(".vscode") / "schemas"
SETTINGS_FILE = Path(".vscode") / "settings.json"


def file_schema(kind: Kind) -> dict[str, Any]:
    """The schema of a whole file of `kind`: its top-level key, plus optional per-environment overlays."""
    body = kind.adapter.json_schema(by_alias=True, mode="validation")
    defs = body.pop("$defs", {})
    overlay = _partial(body)
    if kind is PROJECT_KIND:
        schema = copy.deepcopy(body)
        schema.setdefault("properties", {})["environments"] = _overlays(overlay)
    elif kind.named:
        schema = {
            "type": "object",
            "properties": {kind.key: body, "environments": _overlays(overlay)},
            "required": [kind.key],
            "additionalProperties": False,
        }
    else:
        schema = {
            "type": "object",
            "properties": {kind.key: body},
            "required": [kind.key],
            "additionalProperties": False,
        }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"datakit {kind.title or kind.key}"
    if defs:
        schema["$defs"] = {**defs, **{f"{name}__partial": _partial(d) for name, d in defs.items()}}
    return schema


def _overlays(overlay: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Per-environment overrides, deep-merged over the definition above.",
        "properties": dict.fromkeys(ENVIRONMENTS, overlay),
        "additionalProperties": False,
    }


def _partial(schema: Any) -> Any:
    """The same schema with nothing required and refs pointing at partial definitions (for overlays)."""
    if isinstance(schema, dict):
        # Without required keys several union branches match the same overlay: `anyOf`, not `oneOf`.
        out = {
            ("anyOf" if k == "oneOf" else k): _partial(v)
            for k, v in schema.items()
            if k not in {"required", "discriminator"}
        }
        if isinstance(out.get("$ref"), str) and not out["$ref"].endswith("__partial"):
            out["$ref"] = out["$ref"] + "__partial"
        return out
    if isinstance(schema, list):
        return [_partial(v) for v in schema]
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """Schema per kind key (`project` for datakit.yaml)."""
    return {PROJECT_KIND.key: file_schema(PROJECT_KIND), **{k.key: file_schema(k) for k in KINDS.values()}}


def _globs(kind: Kind, config_dir: str) -> list[str]:
    if kind is PROJECT_KIND:
        return ["datakit.yaml"]
    if not kind.folder:
        return [f"{config_dir}/secrets_mapping.yaml", f"{config_dir}/secrets_mapping.yml"]
    return [f"{config_dir}/{kind.folder}/**/*.yaml", f"{config_dir}/{kind.folder}/**/*.yml"]


def write_schemas(root: Path, config_dir: str = "config") -> list[Path]:
    """Write every schema and merge the `yaml.schemas` mapping into .vscode/settings.json."""
    written: list[Path] = []
    (root / SCHEMA_DIR).mkdir(parents=True, exist_ok=True)
    mapping: dict[str, list[str]] = {}
    kinds = [PROJECT_KIND, *KINDS.values()]
    for kind, (key, schema) in zip(kinds, all_schemas().items(), strict=True):
        path = root / SCHEMA_DIR / f"{key}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
        mapping[f"./{(SCHEMA_DIR / path.name).as_posix()}"] = _globs(kind, config_dir)
    settings_path = root / SETTINGS_FILE
    settings: dict[str, Any] = {}
    if settings_path.is_file():
        try:
            settings = json.loads(settings_path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as exc:
            raise DatakitError(
                f"{settings_path}:{exc.lineno}:{exc.colno}: cannot update VS Code settings: {exc.msg}",
                hint="fix the file (comments are not supported here) or remove it; nothing was changed in it",
            ) from None
    schemas = settings.get("yaml.schemas", {})
    schemas = {k: v for k, v in schemas.items() if not k.startswith(f"./{SCHEMA_DIR.as_posix()}/")}
    settings["yaml.schemas"] = {**schemas, **mapping}
    settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    written.append(settings_path)
    return written
