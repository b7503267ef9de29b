"""What every SQL source does with a request's column list: pick and order columns, and give the schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datakit.connectors.base import Column, ReadRequest
from datakit.connectors.errors import ConnectorError
from datakit.errors import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa


def requested_columns(request: ReadRequest, available: Sequence[Column]) -> list[Column]:
    """The columns `request` asks for, in its order (all of `available` when it names none)."""
    if request.columns is None:
        return list(available)
    by_name = {c.name: c for c in available}
    missing = [name for name in request.columns if name not in by_name]
    if missing:
        hint = did_you_mean(missing[0], by_name) or f"columns: {', '.join(by_name)}"
        raise ConnectorError(f"{request.label} has no column '{missing[0]}'", hint=hint, table=request.label)
    return [by_name[name] for name in request.columns]


def requested_schema(request: ReadRequest, columns: Sequence[Column]) -> pa.Schema:
    """The request's own target schema, else the columns' natural Arrow types."""
    import pyarrow as pa

    if request.schema is not None:
        return request.schema
    return pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in columns])
