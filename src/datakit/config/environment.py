"""Environments (dev/stage/prod): which one is active, per-environment overlays, `${VAR}` interpolation.

One file holds every environment. The kind's body is the shared configuration; an optional
`environments:` block at the top level of the file overlays it for one environment:

    destination:
      name: warehouse
      type: postgres
      connection: {host: localhost, database: wh_dev}
    environments:
      prod:
        connection: {host: db.internal, database: wh}

Overlays merge deeply: mappings merge key by key, anything else (scalars, lists) replaces, and a
mapping whose `type:` differs from the one it overlays replaces it whole (a sqlite state store
becoming a postgres one keeps nothing of the sqlite settings). After the
merge, strings may refer to environment variables as `${NAME}` or `${NAME:-default}` (`$${` is a literal
`${`). Secrets do not go through `${}`: they are declared in the secrets mapping and referenced by key.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from datakit.config.models.secrets import ENVIRONMENTS
from datakit.config.yaml_source import PathKey, YamlDocument
from datakit.errors import Problem, UsageError, did_you_mean

ENVIRONMENT_VARIABLE = "ENVIRONMENT"
_INTERPOLATION = re.compile(r"\$(\$?)\{([^}]*)\}")
_VAR_NAME = re.compile(r"^(var\.)?[A-Za-z_][A-Za-z0-9_]*$")
TENANT_VARIABLES = "var."
"""`${var.NAME}` is a warehouse (tenant) variable: the loader of a tenant's project puts them in the
environment mapping under this prefix (which no real environment variable can have), plus the prefix
alone as a marker that a tenant is loading."""


def current_environment(
    default: str = "dev", environ: Mapping[str, str] | None = None, override: str | None = None
) -> str:
    """The active environment: `override` (--env), else `$ENVIRONMENT`, else the project's default."""
    from_var = (environ if environ is not None else os.environ).get(ENVIRONMENT_VARIABLE, "").strip()
    env = override or from_var or default
    if env not in ENVIRONMENTS:
        origin = "--env" if override else f"${ENVIRONMENT_VARIABLE}"
        hint = did_you_mean(env, ENVIRONMENTS) or f"use one of: {', '.join(ENVIRONMENTS)}"
        raise UsageError(f"unknown environment '{env}' (from {origin})", hint=hint)
    return env


def merge_overlay(base: YamlDocument, overlay: YamlDocument) -> YamlDocument:
    """`base` with `overlay` merged in; positions of overlaid values point into the overlay."""
    merged = YamlDocument(
        path=base.path,
        data=copy.deepcopy(base.data),
        key_positions=dict(base.key_positions),
        value_positions=dict(base.value_positions),
    )
    if isinstance(merged.data, dict) and isinstance(overlay.data, dict):
        _merge_into(merged, (), merged.data, overlay, (), overlay.data)
    return merged


def _merge_into(
    target: YamlDocument,
    loc: PathKey,
    data: dict[str, Any],
    overlay: YamlDocument,
    overlay_loc: PathKey,
    overlay_data: dict[str, Any],
) -> None:
    for key, value in overlay_data.items():
        child, overlay_child = (*loc, key), (*overlay_loc, key)
        if isinstance(value, dict) and isinstance(data.get(key), dict) and _same_type(data[key], value):
            target.key_positions[child] = overlay.key_position(overlay_child)
            _merge_into(target, child, data[key], overlay, overlay_child, value)
            continue
        data[key] = copy.deepcopy(value)
        _drop_below(target, child)
        n = len(overlay_child)
        for positions, source in (
            (target.key_positions, overlay.key_positions),
            (target.value_positions, overlay.value_positions),
        ):
            for path, position in source.items():
                if path[:n] == overlay_child:
                    positions[child + path[n:]] = position


def _same_type(base: dict[str, Any], overlay: dict[str, Any]) -> bool:
    return "type" not in overlay or overlay["type"] == base.get("type")


def _drop_below(doc: YamlDocument, loc: PathKey) -> None:
    n = len(loc)
    for positions in (doc.key_positions, doc.value_positions):
        for path in [p for p in positions if p[:n] == loc]:
            del positions[path]


def interpolate(
    doc: YamlDocument,
    environ: Mapping[str, str],
    kind: str,
    *,
    report_missing: bool = True,
) -> tuple[Any, list[Problem]]:
    """Replace `${NAME}` / `${NAME:-default}` in strings; an unset variable without default is a problem."""
    problems: list[Problem] = []

    def walk(value: Any, loc: PathKey) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return _INTERPOLATION.sub(lambda m: substitute(m, loc), value)
        return value

    def substitute(match: re.Match[str], loc: PathKey) -> str:
        escaped, body = match.group(1), match.group(2)
        if escaped:
            return "${" + body + "}"
        name, has_default, default = body.partition(":-")
        if not _VAR_NAME.match(name):
            problems.append(_problem(doc, loc, kind, f"invalid variable reference '${{{body}}}'"))
            return match.group(0)
        if name in environ:
            return environ[name]
        if has_default:
            return default
        if name.startswith(TENANT_VARIABLES):
            if TENANT_VARIABLES not in environ:  # not a tenant's load: left as written, checked per tenant
                return match.group(0)
            if report_missing:
                variable = name.removeprefix(TENANT_VARIABLES)
                problems.append(
                    _problem(
                        doc,
                        loc,
                        kind,
                        f"warehouse variable {variable!r} is not set for this warehouse",
                        f"add it to the warehouse's `variables:`, or give a default: ${{{name}:-value}}",
                    )
                )
            return match.group(0)
        if report_missing:
            problems.append(
                _problem(
                    doc,
                    loc,
                    kind,
                    f"environment variable {name} is not set",
                    f"set it, or give a default: ${{{name}:-value}}",
                )
            )
        return match.group(0)

    return walk(doc.data, ()), problems


def _problem(
    doc: YamlDocument, loc: PathKey, kind: str, message: str, suggestion: str | None = None
) -> Problem:
    line, column = doc.position(loc)
    return Problem(
        message,
        file=doc.path,
        line=line,
        column=column,
        kind=kind,
        field=format_loc(loc) or None,
        suggestion=suggestion,
    )


def format_loc(loc: PathKey) -> str:
    """`('connection', 'hosts', 0, 'port')` -> `connection.hosts[0].port`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
