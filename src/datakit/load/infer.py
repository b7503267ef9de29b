"""Contracts inferred from a sample of a source's Arrow schema, for sources without a datakit.

REST APIs and files have no catalog: what their records hold is known only from reading some of them
(a REST read's first batch, the first file). The inferred contract is deliberately loose, so it does not
reject what a sample could not show: every column nullable except the primary key, no lengths, ranges
or patterns; a type Arrow has no logical equivalent for (a column that was null in the whole sample)
becomes `string`; a text column whose sampled values are all ISO-8601 timestamps (the source marks it,
`datakit.connectors.rest.timestamps`) becomes `timestamp`, with a time zone when they carry an offset.
`datakit reflect --sample N` writes the same contract as a datakit to review and tighten.

A pipeline's plan holds a `ContractToInfer` for such a resource, and the loader infers the contract from
the first rows of the very read it loads (`ContractToInfer.infer`): the sample then honours the saved
cursor, and the page it came from is not requested again. A read with nothing new to infer from keeps
the contract of the table loaded before (`ContractToInfer.from_catalog`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.connectors.rest.timestamps import HINT, ZONED
from datakit.contracts.audit import RESERVED_AUDIT_NAMES
from datakit.contracts.model import Column, Contract, Layer
from datakit.contracts.types import LogicalType, TypeKind, simple, string
from datakit.load.drift import logical_from_arrow, shapes_from_catalog

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import Column as LiveColumn

INFERRED_SCHEMA = "main"
"""The source schema of inferred contracts (REST APIs and files have none of their own)."""


@dataclass(frozen=True)
class ContractToInfer:
    """The contract of a resource without a datakit contract, before the load has read its sample."""

    name: str
    primary_key: tuple[str, ...] = ()
    layer: Layer = Layer.BRONZE
    system: str | None = None
    schema_name: str = INFERRED_SCHEMA

    def infer(self, schema: pa.Schema) -> Contract:
        """The contract of the sampled `schema`."""
        return contract_from_arrow(
            self.name, schema, primary_key=self.primary_key, layer=self.layer, system=self.system
        )

    def from_catalog(self, columns: Sequence[LiveColumn]) -> Contract:
        """The contract of the table an earlier load created (its live columns, audit columns aside)."""
        shapes = shapes_from_catalog(columns)
        kept = [shape for shape in shapes if shape.name not in RESERVED_AUDIT_NAMES]
        return Contract(
            name=self.name,
            columns=tuple(Column(name=s.name, type=s.type or string(), nullable=True) for s in kept),
            system=self.system,
            schema_name=self.schema_name,
            layer=self.layer,
            primary_key=self.primary_key,
        )


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
    columns = [Column(name=field.name, type=_logical(field), nullable=True) for field in schema]
    return Contract(
        name=name,
        columns=tuple(columns),
        system=system,
        schema_name=INFERRED_SCHEMA,
        layer=Layer(layer),
        primary_key=tuple(primary_key),
        description=description,
    )


def _logical(field: pa.Field) -> LogicalType:
    hint = (field.metadata or {}).get(HINT)
    if hint is not None:
        return simple(TypeKind.TIMESTAMPTZ if hint == ZONED else TypeKind.TIMESTAMP)
    return logical_from_arrow(field.type) or string()
