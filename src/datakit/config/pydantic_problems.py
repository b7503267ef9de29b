"""Turn Pydantic validation errors into `file:line:col: kind.field: message` problems users can act on.

Pydantic locates errors by a path through the *model* (including discriminator tags such as
`rest_api`); users need the path through the *file* and its position. We walk the data along the
error path, skipping components that are not in the data (union tags), and look positions up in the
document. Unknown keys get "did you mean" from the keys the model allows at that place, read from the
model's JSON Schema so that unions, lists and dicts are handled by one generic walk.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from datakit.config.environment import format_loc
from datakit.config.models import Kind
from datakit.config.models.common import NAME_PATTERN, SUGGESTED, name_from_folder
from datakit.config.yaml_source import PathKey, YamlDocument
from datakit.errors import Problem, did_you_mean

_MISMATCHED_SHAPE: dict[type, set[str]] = {
    str: {"model_type", "dict_type", "model_attributes_type", "list_type"},
    dict: {"literal_error", "string_type", "enum", "int_type", "bool_type", "float_type"},
}


def problems_from_validation_error(exc: ValidationError, doc: YamlDocument, kind: Kind) -> list[Problem]:
    """One problem per distinct defect, located in `doc` (whose data is the kind's body)."""
    located: dict[PathKey, list[tuple[ErrorDetails, PathKey, PathKey, Any]]] = {}
    for error in exc.errors(include_url=False):
        data_loc, trailing = _data_path(doc.data, tuple(error["loc"]))
        value = _value_at(doc.data, data_loc)
        located.setdefault(data_loc + trailing, []).append((error, data_loc, trailing, value))
    problems: dict[tuple[PathKey, str], Problem] = {}
    typos = _misspelt_required(located)
    for where, candidates in located.items():
        # A value that fits no branch of a union gets one error per branch; keep the branches that
        # expected this shape of input (a string for `log`, a mapping for an inline channel), and drop
        # them altogether when a more precise error lies below (an unknown key in the inline channel).
        deeper = any(other[: len(where)] == where and other != where for other in located)
        fitting = [c for c in candidates if c[0]["type"] not in _MISMATCHED_SHAPE.get(type(c[3]), set())]
        chosen = fitting if (deeper and len(fitting) < len(candidates)) or fitting else candidates
        for error, data_loc, trailing, value in chosen:
            if error["type"] == "missing" and where in typos:
                continue  # reported as the misspelt key that should have been this one
            problem = _problem(error, doc, kind, data_loc, trailing, value)
            problems.setdefault((where, problem.message), problem)
    return list(problems.values())


def _misspelt_required(
    located: dict[PathKey, list[tuple[ErrorDetails, PathKey, PathKey, Any]]],
) -> set[PathKey]:
    """Missing keys whose unknown sibling is a close spelling: one typo, one problem."""
    unknown: dict[PathKey, list[str]] = {}
    for where, candidates in located.items():
        if any(c[0]["type"] == "extra_forbidden" for c in candidates):
            unknown.setdefault(where[:-1], []).append(str(where[-1]))
    typos: set[PathKey] = set()
    for where, candidates in located.items():
        missing = any(c[0]["type"] == "missing" for c in candidates)
        if missing and where[:-1] in unknown and did_you_mean(str(where[-1]), unknown[where[:-1]]):
            typos.add(where)
    return typos


def _problem(
    error: ErrorDetails, doc: YamlDocument, kind: Kind, data_loc: PathKey, trailing: PathKey, value: Any
) -> Problem:
    kind_name = kind.key
    etype = error["type"]
    ctx = error.get("ctx") or {}
    message = str(error["msg"])
    suggestion: str | None = None
    line, column = doc.position(data_loc)
    field = data_loc

    if etype == "extra_forbidden":
        key = str(data_loc[-1])
        allowed = allowed_keys(kind, tuple(error["loc"])[:-1])
        message = f"unknown key '{key}'"
        suggestion = did_you_mean(key, allowed) or (
            f"allowed keys: {', '.join(sorted(allowed))}" if allowed else None
        )
        line, column = doc.key_position(data_loc)
    elif etype == "missing":
        missing = ".".join(str(p) for p in trailing) or str(error["loc"][-1])
        message = f"missing required key '{missing}'"
        field = data_loc + trailing
        line, column = doc.key_position(data_loc)
    elif etype in {"union_tag_invalid", "union_tag_not_found"}:
        tags = _quoted(str(ctx.get("expected_tags", ""))) or tags_at(kind, tuple(error["loc"]))
        if etype == "union_tag_not_found":
            message = f"missing key 'type' (one of: {', '.join(tags)})"
            field = (*data_loc, "type")
            line, column = doc.key_position(data_loc)
        else:
            tag = str(ctx.get("tag"))
            field = (*data_loc, "type")
            line, column = doc.position(field)
            message = f"unknown type '{tag}'"
            suggestion = did_you_mean(tag, tags) or f"expected one of: {', '.join(tags)}"
    elif etype in {"model_type", "dict_type", "model_attributes_type"}:
        scalar = value is not None and not isinstance(value, dict | list)
        message = "input should be a mapping" + (f" (got {_show(value)})" if scalar else "")
    else:
        message, suggestion = _value_message(etype, ctx, message, value)
    return Problem(
        message,
        file=doc.path,
        line=line,
        column=column,
        kind=kind_name,
        field=format_loc(field) or None,
        suggestion=suggestion,
    )


def _value_message(etype: str, ctx: dict[str, Any], message: str, value: Any) -> tuple[str, str | None]:
    """Message and suggestion for a value of the wrong kind (pydantic's words, made to read as ours)."""
    if etype == "literal_error":
        choices = _quoted(str(ctx.get("expected", ""))) or [str(ctx.get("expected", ""))]
        shown = ", ".join(repr(c) for c in choices) if _quoted(str(ctx.get("expected", ""))) else choices[0]
        suggestion = did_you_mean(str(value), choices) if isinstance(value, str) else None
        return f"invalid value {_show(value)}: expected one of {shown}", suggestion
    if etype == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        fixed = name_from_folder(value, "") if isinstance(value, str) else ""
        rule = "a name starts with a letter, then letters, digits, '_' or '-'"
        suggestion = f"did you mean '{fixed}'?" if fixed and re.match(NAME_PATTERN, fixed) else None
        return f"invalid name {_show(value)}: {rule}", suggestion
    if etype == SUGGESTED:
        return message, (str(ctx["suggestion"]) if ctx.get("suggestion") else None)
    if etype == "value_error":
        return re.sub(r"^Value error, ", "", message), None
    if etype == "assertion_error":
        return re.sub(r"^Assertion failed, ", "", message), None
    message = f"{message[:1].lower()}{message[1:]}"
    if not isinstance(value, dict | list) and value is not None:
        message = f"{message} (got {_show(value)})"
    return message, None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[PathKey, PathKey]:
    """Split a Pydantic loc into the part present in the data and the trailing absent part.

    Components that do not exist in the data are union tags (skipped) unless they come after the
    deepest existing node, when they name missing keys (returned as `trailing`).
    """
    found: list[str | int] = []
    current: Any = data
    trailing: list[str | int] = []
    for part in loc:
        present, child = _child(current, part)
        if present:
            found.append(part)
            current = child
            trailing.clear()
        elif isinstance(current, dict) and isinstance(part, str) and not _is_tag(part):
            trailing.append(part)
    return tuple(found), tuple(trailing[-1:]) if trailing else ()


def _child(current: Any, part: Any) -> tuple[bool, Any]:
    """`(True, child)` when `part` is a key of the mapping or an index of the list `current`."""
    if isinstance(current, dict) and isinstance(part, str) and part in current:
        return True, current[part]
    if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
        return True, current[part]
    return False, None


def _is_tag(part: str) -> bool:
    """Pydantic's names for union branches and validators: `function-after[...]`, `list[str]`, `str`..."""
    return "[" in part or part in {"str", "int", "float", "bool", "dict", "list", "none"}


def _value_at(data: Any, loc: PathKey) -> Any:
    for part in loc:
        data = data[part]
    return data


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def allowed_keys(kind: Kind, loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `loc` (a Pydantic loc, union tags included)."""
    schema = _schema(kind)
    node: dict[str, Any] | None = schema
    for part in loc:
        node = _step(schema, node, part) if node is not None else None
    if node is None:
        return []
    return sorted(_properties(schema, node))


@cache
def _schema(kind: Kind) -> dict[str, Any]:
    schema: dict[str, Any] = kind.adapter.json_schema(by_alias=True)
    return schema


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root.get("$defs", {}).get(name, {})
    return node


def _branches(root: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(root, node)
    alternatives = node.get("oneOf") or node.get("anyOf")
    if not alternatives:
        return [node]
    return [b for alt in alternatives for b in _branches(root, alt)]


def _discriminators(root: dict[str, Any], node: dict[str, Any]) -> dict[str, str]:
    """Tag -> $ref of every discriminated union at this node, also inside Optional/anyOf wrappers."""
    node = _resolve(root, node)
    found = dict(node.get("discriminator", {}).get("mapping", {}))
    for alternative in node.get("anyOf", []) + node.get("oneOf", []):
        if "discriminator" in alternative or "anyOf" in alternative or "oneOf" in alternative:
            found.update(_discriminators(root, alternative))
    return found


def tags_at(kind: Kind, loc: tuple[Any, ...]) -> list[str]:
    """The `type:` values a discriminated union accepts at `loc`."""
    schema = _schema(kind)
    node: dict[str, Any] | None = schema
    for part in loc:
        node = _step(schema, node, part) if node is not None else None
    return sorted(_discriminators(schema, node)) if node is not None else []


def _step(root: dict[str, Any], node: dict[str, Any], part: Any) -> dict[str, Any] | None:
    mapping = _discriminators(root, node)
    if isinstance(part, str) and part in mapping:
        return _resolve(root, {"$ref": mapping[part]})
    for branch in _branches(root, node):
        if isinstance(part, int) and "items" in branch:
            return _resolve(root, branch["items"])
        if isinstance(part, str) and part in branch.get("properties", {}):
            return _resolve(root, branch["properties"][part])
        additional = branch.get("additionalProperties")
        if isinstance(part, str) and isinstance(additional, dict):
            return _resolve(root, additional)
    return node if isinstance(part, str) and _is_tag(part) else None


def _properties(root: dict[str, Any], node: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    for branch in _branches(root, node):
        keys.update(branch.get("properties", {}))
    return keys
