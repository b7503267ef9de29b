"""Names of warehouse schemas: `<layer prefix>__<system>__<schema>`, e.g. `br__pagila__public`.

One schema per layer, source system and source schema keeps two systems' `customer` tables apart and
tells at a glance where a table came from. The parts are folded to lower-case `[a-z0-9_]` with no double
underscore inside a part, so a name splits back into its parts unambiguously, and the whole fits
PostgreSQL's 63-byte identifier limit (an error says so rather than letting PostgreSQL truncate it).
"""

from __future__ import annotations

import re

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Layer

LAYER_PREFIXES: dict[Layer, str] = {Layer.BRONZE: "br", Layer.SILVER: "sv", Layer.GOLD: "gd"}
SEPARATOR = "__"
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1


def layer_schema_name(layer: Layer | str, system: str, schema: str) -> str:
    """The warehouse schema holding `system`'s `schema` in `layer`."""
    layer = Layer(layer)
    if layer not in LAYER_PREFIXES:
        raise ContractError(f"the {layer} layer has no warehouse schema; source tables stay in their system")
    name = SEPARATOR.join((LAYER_PREFIXES[layer], _part(system, "system"), _part(schema, "schema")))
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ContractError(
            f"schema name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes",
            hint="use a shorter system name",
        )
    return name


def parse_layer_schema_name(name: str) -> tuple[Layer, str, str] | None:
    """(layer, system, schema) of a name made by `layer_schema_name`, or None for any other name."""
    parts = name.split(SEPARATOR)
    by_prefix = {prefix: layer for layer, prefix in LAYER_PREFIXES.items()}
    if len(parts) != 3 or parts[0] not in by_prefix or not all(parts[1:]):
        return None
    return by_prefix[parts[0]], parts[1], parts[2]


def _part(text: str, what: str) -> str:
    folded = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text.strip().lower())).strip("_")
    if not folded:
        raise ContractError(f"{what} name {text!r} has no letters or digits to build a schema name from")
    return folded
