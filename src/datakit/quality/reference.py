"""The reference of the built-in checks, as Markdown, from the check registry.

Each check's documentation is its builder's docstring (what fails) and its config model (its options);
the example is the first use of the check in the given project files, so it is a real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datakit.config.models.checks import CheckBase
from datakit.config.reference import model_markdown
from datakit.config.yaml_source import YamlProblem, read_yaml
from datakit.quality.builtin import REGISTRY


def check_uses(files: list[tuple[Path, str]]) -> dict[str, dict[str, Any]]:
    """Check kind -> the first list item using it among the `checks:` files given."""
    found: dict[str, dict[str, Any]] = {}
    for path, text in files:
        try:
            data = read_yaml(path, text).data
        except YamlProblem:
            continue
        suite = data.get("checks") if isinstance(data, dict) else None
        tables = suite.get("tables") if isinstance(suite, dict) else None
        for items in (tables or {}).values():
            for item in items if isinstance(items, list) else []:
                for key in item if isinstance(item, dict) else []:
                    if key in REGISTRY:
                        found.setdefault(key, item)
    return found


def checks_reference(files: list[tuple[Path, str]]) -> str:
    """The Markdown page of every built-in check, in registry order."""
    import yaml

    uses = check_uses(files)
    shared = ", ".join(f"`{name}`" for name in CheckBase.model_fields)
    lines = [
        "# Built-in checks",
        "",
        "*Generated from the check registry* (`datakit.quality.REGISTRY`): each check's text is the",
        "docstring of the function that writes its SQL. A check is SQL that returns the failing rows;",
        f"it passes when there is none. Every check also takes the keys all checks share: {shared}.",
        "Checks are listed per table in a [check suite](config/checks.md).",
        "",
    ]
    for kind, check in REGISTRY.items():
        lines += [f"## `{kind}` {{#{kind}}}", "", check.doc, ""]
        schema = check.model.model_json_schema(by_alias=True, mode="validation")
        own = {k: v for k, v in schema.get("properties", {}).items() if k not in CheckBase.model_fields}
        lines += [model_markdown({**schema, "properties": own}), ""]
        if kind in uses:
            example = yaml.safe_dump([uses[kind]], sort_keys=False, allow_unicode=True, width=100)
            lines += ["Example:", "", "```yaml", example.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
