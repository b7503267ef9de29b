"""The reference of every YAML kind and field, as Markdown, generated from the JSON Schemas.

The schemas come from the same Pydantic models the loader validates with (`datakit.config.schema`), so
the documentation site's reference cannot say what the loader does not accept. One page per kind: its
types (a discriminated union's branches, keyed by `type:`), then a table of fields per object (type,
default, allowed values, description) with a section for every nested object it reaches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.config.loader import validate_file
from datakit.config.models import KINDS, PROJECT_KIND, Kind
from datakit.config.schema import file_schema
from datakit.config.yaml_source import read_yaml

REF_PREFIX = "#/$defs/"


@dataclass(frozen=True)
class KindReference:
    """The reference page of one kind: its Markdown and the `type:` values its union defines."""

    kind: Kind
    markdown: str
    types: tuple[str, ...] = ()


def all_kinds() -> list[Kind]:
    """Every kind a project file can be, `datakit.yaml` first."""
    return [PROJECT_KIND, *KINDS.values()]


def body_schema(kind: Kind) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(schema of the kind's object, definitions)`: what sits under the file's top-level key."""
    schema = file_schema(kind)
    defs = {k: v for k, v in schema.get("$defs", {}).items() if not k.endswith("__partial")}
    if kind is PROJECT_KIND:
        body = {k: v for k, v in schema.items() if k not in {"$defs", "$schema"}}
        body["properties"] = {k: v for k, v in body.get("properties", {}).items() if k != "environments"}
        return body, defs
    return schema["properties"][kind.key], defs


def union_types(kind: Kind) -> dict[str, str]:
    """`type:` value -> definition name, when the kind is a union discriminated by `type` (else empty)."""
    body, _ = body_schema(kind)
    mapping = body.get("discriminator", {}).get("mapping", {})
    return {value: ref.removeprefix(REF_PREFIX) for value, ref in sorted(mapping.items())}


@dataclass
class _Page:
    defs: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    queue: list[str] = field(default_factory=list)

    def object_section(self, title: str, anchor: str, schema: dict[str, Any], level: int) -> None:
        self.lines += [f"{'#' * level} {title} {{#{anchor}}}", ""]
        if schema.get("description"):
            self.lines += [_one_paragraph(schema["description"]), ""]
        self.fields_table(schema)

    def fields_table(self, schema: dict[str, Any]) -> None:
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            self.lines += [f"A value of type {self.type_of(schema)}.", ""]
            return
        required = set(schema.get("required", []))
        self.lines += [
            "| Field | Type | Default | Allowed values | Description |",
            "|---|---|---|---|---|",
        ]
        for name, prop in properties.items():
            default = "*required*" if name in required else _default(prop)
            row = [
                f"`{name}`",
                self.type_of(prop),
                default,
                _allowed(prop),
                _cell(prop.get("description", "")),
            ]
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")

    def type_of(self, prop: dict[str, Any]) -> str:
        """The field's type in words, nested objects linked to their sections."""
        if "$ref" in prop:
            name = prop["$ref"].removeprefix(REF_PREFIX)
            target = self.defs.get(name, {})
            if "enum" in target or "const" in target:
                return _scalar(target)
            if name not in self.done and name not in self.queue:
                self.queue.append(name)
            return f"[{name}](#{_anchor(name)})"
        for key in ("anyOf", "oneOf"):
            if key in prop and any(o.get("format") == "duration" for o in prop[key]):
                nullable = any(o.get("type") == "null" for o in prop[key])
                return "duration (or null)" if nullable else "duration"
            if key in prop:
                options = [self.type_of(o) for o in prop[key] if o.get("type") != "null"]
                text = " or ".join(dict.fromkeys(options))
                nullable = any(o.get("type") == "null" for o in prop[key])
                return f"{text} (or null)" if nullable else text
        if "allOf" in prop and len(prop["allOf"]) == 1:
            return self.type_of(prop["allOf"][0])
        if prop.get("type") == "array":
            return f"list of {self.type_of(prop.get('items', {}))}"
        if prop.get("type") == "object":
            values = prop.get("additionalProperties")
            if isinstance(values, dict) and values:
                return f"mapping of string to {self.type_of(values)}"
            if "properties" in prop:
                return "mapping (below)"
            return "mapping"
        return _scalar(prop)

    def drain(self, level: int) -> None:
        """A section for every nested object reached so far (and those its fields reach)."""
        while self.queue:
            name = self.queue.pop(0)
            if name in self.done:
                continue
            self.done.add(name)
            self.object_section(f"`{name}`", _anchor(name), self.defs[name], level)


def kind_reference(kind: Kind, examples: dict[str, str] | None = None) -> KindReference:
    """The Markdown page of `kind`; `examples` maps a `type:` (or `""` for the kind) to a YAML example."""
    examples = examples or {}
    body, defs = body_schema(kind)
    page = _Page(defs)
    title = kind.title or kind.key
    where = _where(kind)
    page.lines += [f"# {title}", "", f"*Generated from the config models.* {where}", ""]
    types = union_types(kind)
    if types:
        page.lines += [
            f"A `{kind.key}:` is one of these types, chosen by its `type:` field:",
            "",
            *[
                f"- [`{value}`](#type-{value}): {_first_sentence(defs[name])}"
                for value, name in types.items()
            ],
            "",
        ]
        for value, name in types.items():
            page.done.add(name)
            page.object_section(f"type: `{value}`", f"type-{value}", defs[name], 2)
            _example(page.lines, examples.get(value))
            page.drain(3)
    else:
        page.object_section(f"`{kind.key}`", kind.key, body, 2)
        _example(page.lines, examples.get(""))
        page.drain(3)
    return KindReference(kind, "\n".join(page.lines).rstrip() + "\n", tuple(types))


def _where(kind: Kind) -> str:
    if kind is PROJECT_KIND:
        return "The file `datakit.yaml` at the project's root."
    if not kind.folder:
        return f"The file `config/secrets_mapping.yaml`, under the top-level key `{kind.key}:`."
    return f"Files `config/{kind.folder}/*.yaml`, under the top-level key `{kind.key}:`."


def _example(lines: list[str], example: str | None) -> None:
    if example:
        lines += ["Example:", "", "```yaml", example.rstrip(), "```", ""]


def _anchor(name: str) -> str:
    return "def-" + name.lower()


def _first_sentence(schema: dict[str, Any]) -> str:
    text = _one_paragraph(schema.get("description", ""))
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def _one_paragraph(text: str) -> str:
    """Joined lines, `<` `>` `&` escaped outside code spans: descriptions are Markdown, not HTML."""
    return " ".join(escape_prose(text).split())


def escape_prose(text: str) -> str:
    """`<`, `>` and `&` as entities, except inside backtick code spans (where Markdown shows them as is)."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _cell(text: str) -> str:
    return _one_paragraph(text).replace("|", "\\|")


def _scalar(prop: dict[str, Any]) -> str:
    if "const" in prop:
        return "string" if isinstance(prop["const"], str) else type(prop["const"]).__name__
    if "enum" in prop:
        return "string" if all(isinstance(v, str) for v in prop["enum"]) else "value"
    kind = prop.get("type")
    fmt = prop.get("format")
    if fmt == "duration":
        return "duration"
    if fmt in {"date-time", "date", "uri", "password"}:
        return {"date-time": "datetime", "uri": "URL", "password": "secret string"}.get(fmt, str(fmt))
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind) if kind else "any"


def _allowed(prop: dict[str, Any]) -> str:
    values: list[str] = []
    for option in [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])]:
        if "const" in option:
            values.append(f"`{_show(option['const'])}`")
        values.extend(f"`{_show(v)}`" for v in option.get("enum", []))
    limits = []
    for key, words in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in prop:
            limits.append(f"{words} {prop[key]}")
    if "minLength" in prop and prop["minLength"] > 1:
        limits.append(f"at least {prop['minLength']} characters")
    if "maxLength" in prop:
        limits.append(f"at most {prop['maxLength']} characters")
    if "minItems" in prop and prop["minItems"] > 0:
        limits.append(f"at least {prop['minItems']} item{'s' if prop['minItems'] > 1 else ''}")
    if "pattern" in prop:
        limits.append(f"matches `{prop['pattern']}`")
    return _cell(", ".join([*dict.fromkeys(values), *limits]))


_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    match = _ISO_DURATION.match(value) if isinstance(value, str) and value.startswith("P") else None
    if match and any(match.groups()):  # Pydantic writes timedelta defaults as ISO 8601: PT1M -> 1m
        units = zip(match.groups(), ("d", "h", "m", "s"), strict=True)
        return "`" + "".join(f"{n}{unit}" for n, unit in units if n and float(n)) + "`"
    return f"`{_show(value)}`"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def project_files(root: Path) -> list[tuple[Path, str]]:
    """`(path, text)` of every config file of the projects under `root` (datakit.yaml, config/)."""
    files = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        is_yaml = path.suffix in (".yaml", ".yml") and path.is_file()
        if is_yaml and (path.name == "datakit.yaml" or "config" in parts[:-1]):
            files.append((path, path.read_text(encoding="utf-8")))
    return files


def collect_examples(files: list[tuple[Path, str]]) -> dict[str, dict[str, str]]:
    """Kind key -> (`type:` or `""`) -> the text of the first valid file of it among `files`.

    Examples are real files (the example projects, the guides' files), not written for the reference:
    a file that does not validate is skipped, so the reference never shows one the loader refuses.
    """
    found: dict[str, dict[str, str]] = {}
    for path, text in files:
        kind, problems = validate_file(path, text)
        if kind is None or any(p.severity == "error" for p in problems):
            continue
        data = read_yaml(path, text).data
        body = data.get(kind.key, data) if isinstance(data, dict) else None
        value = body.get("type") if isinstance(body, dict) and union_types(kind) else ""
        if isinstance(value, str):
            found.setdefault(kind.key, {}).setdefault(value, text)
    return found


def model_markdown(schema: dict[str, Any], level: int = 3) -> str:
    """The fields table of one model's JSON Schema, and a section for each object it nests."""
    page = _Page(dict(schema.get("$defs", {})))
    page.fields_table(schema)
    page.drain(level)
    return "\n".join(page.lines).rstrip() + "\n"
