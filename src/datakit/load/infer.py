"""Contracts inferred from a sample of a source's Arrow schema, for sources without a datakit.

REST APIs and files have no catalog: what their records hold is known only from reading some of them
(the first page, the first file). The inferred contract is deliberately loose, so it does not reject
what a sample could not show: every column nullable except the primary key, no lengths, ranges or
patterns; a type Arrow has no logical equivalent for (a column that was null in the whole sample)
becomes `string`. `datakit reflect --sample N` writes the same contract as a datakit to review and
tighten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datakit.contracts.model import Column, Contract, Layer
from datakit.contracts.types import string
from datakit.load.drift import logical_from_arrow

if TYPE_CHECKING:
    import pyarrow as pa

INFERRED_SCHEMA = "main"
"""The source schema of inferred contracts (REST APIs and files have none of their own)."""


def contract_from_arrow(
    name: str,
    schema: pa.Schema,
    *,
    primary_key: Sequence[str] = (),
    layer: Layer | str = Layer.SOURCE,
    system: str | None = None,
    description: str | None = None,
) -> Contract:
    """A contract with one column per field of `schema`, typed from the Arrow types."""
    columns = [
        Column(name=field.name, type=logical_from_arrow(field.type) or string(), nullable=True)
        for field in schema
    ]
    return Contract(
        name=name,
        columns=tuple(columns),
        system=system,
        schema_name=INFERRED_SCHEMA,
        layer=Layer(layer),
        primary_key=tuple(primary_key),
        description=description,
    )
