"""Per-column checksums computed by PostgreSQL and, independently, on Arrow data: equal means exact."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa

from datakit.connectors import Column

SEP = "\x1f"


def kind(column: Column) -> str:
    base = column.base_type
    if base in ("smallint", "integer", "bigint"):
        return "int"
    if base == "boolean":
        return "bool"
    if base.startswith("numeric"):
        return "numeric"
    if base.startswith("timestamp"):
        return "timestamp"
    if base == "date":
        return "date"
    if base == "bytea":
        return "bytes"
    if column.db_type.endswith("[]"):
        return "array"
    if base.startswith("character("):
        return "bpchar"
    return "text"


def pg_sql(column: Column) -> str:
    c = f'"{column.name}"'
    return {
        "int": f"sum({c}::numeric)",
        "bool": f"sum({c}::int)",
        "numeric": f"sum({c})",
        "timestamp": f"sum((extract(epoch FROM {c}) * 1000000)::numeric)",
        "date": f"sum({c} - date '1970-01-01')",
        "bytes": f"md5(string_agg(encode({c}, 'hex'), '{SEP}' ORDER BY encode({c}, 'hex') COLLATE \"C\"))",
        "array": f"md5(string_agg(to_json({c})::text, '{SEP}' ORDER BY to_json({c})::text COLLATE \"C\"))",
        "bpchar": f"md5(string_agg({c}::text, '{SEP}' ORDER BY {c}::text COLLATE \"C\"))",
        "text": f"md5(string_agg({c}::text, '{SEP}' ORDER BY {c}::text COLLATE \"C\"))",
    }[kind(column)]


def pg_checksums(conn: Any, table: str, columns: list[Column]) -> dict[str, Any]:
    """`{"#rows": n, col: (non-null count, checksum)}` computed by PostgreSQL (psycopg connection)."""
    parts = ["count(*)"] + [f'count("{c.name}"), {pg_sql(c)}' for c in columns]
    row = conn.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    out: dict[str, Any] = {"#rows": row[0]}
    for i, column in enumerate(columns):
        count, value = row[1 + 2 * i], row[2 + 2 * i]
        out[column.name] = (count, _normal(value))
    return out


def arrow_checksums(data: pa.Table, columns: list[Column]) -> dict[str, Any]:
    """The same checksums computed in Python from Arrow values."""
    out: dict[str, Any] = {"#rows": data.num_rows}
    for column in columns:
        array = data.column(column.name)
        values = [v for v in array.to_pylist() if v is not None]
        out[column.name] = (len(values), _normal(_arrow_value(kind(column), array, values)))
    return out


def _arrow_value(k: str, array: pa.ChunkedArray, values: list[Any]) -> Any:
    if not values:
        return None
    if k in ("int", "bool"):
        return sum(int(v) for v in values)
    if k == "numeric":
        return sum(values, Decimal(0))
    if k == "timestamp":
        return sum(array.cast(pa.int64()).drop_null().to_pylist())  # µs since the epoch, exact ints
    if k == "date":
        return sum(array.cast(pa.int32()).drop_null().to_pylist())
    if k == "bytes":
        return _md5(sorted(v.hex() for v in values))
    if k == "array":
        return _md5(sorted(json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values))
    if k == "bpchar":
        return _md5(sorted((v.rstrip(" ") for v in values), key=lambda s: s.encode()))
    return _md5(sorted(values, key=lambda s: s.encode()))


def _md5(items: list[str]) -> str:
    return hashlib.md5(SEP.join(items).encode()).hexdigest()


def _normal(value: Any) -> Any:
    """Decimals and ints compare by value (sum of ints comes back as numeric from PostgreSQL)."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, Decimal):
        return value.normalize()
    return value
