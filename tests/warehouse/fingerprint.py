"""Row counts and checksums of tables, comparable across engines (int32 vs int64, DECIMAL scales,
zoned vs naive UTC timestamps all give the same fingerprint for the same values)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def normal(value: Any) -> Any:
    """A value in one spelling: numbers as normalised decimals, instants as naive UTC ISO text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | Decimal):
        return str(Decimal(value).normalize()) if value else "0"
    if isinstance(value, float):
        return str(Decimal(repr(round(value, 9))).normalize())
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    return str(value)


def fingerprint(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """{"rows": n, "sha256": ...} of `rows`, by column name and independent of row order."""
    order = sorted(range(len(columns)), key=lambda i: columns[i].lower())
    lines = sorted(json.dumps([normal(row[i]) for i in order], default=str) for row in rows)
    digest = hashlib.sha256("\\n".join(lines).encode()).hexdigest()
    return {"rows": len(lines), "sha256": digest}
