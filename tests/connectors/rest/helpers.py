"""Reading helpers shared by the REST tests."""

from __future__ import annotations

from typing import Any

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.base import Incremental
from datakit.connectors.rest import RestSource


def read_rows(
    source: RestSource, table: str = "items", *, lower: Any = None, cursor: str | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """Every row of `table` as dicts (the real outcome a loader would write)."""
    incremental = Incremental(cursor, lower) if cursor else None
    request = ReadRequest(table=TableRef(table), incremental=incremental, **kwargs)
    out: list[dict[str, Any]] = []
    for batch in source.read(request):
        out.extend(batch.to_pylist())
    return out


def ids(rows: list[dict[str, Any]]) -> list[Any]:
    return [row["id"] for row in rows]
