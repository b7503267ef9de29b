"""Arrow types for database types, and the exact cast of driver output to a target schema.

Drivers disagree (ADBC returns numeric as text, connectorx widens numeric(5,2) to decimal(38,10), some
paths widen int4 to int64); `conform` fixes all of that with one safe cast per column, which raises
instead of rounding, truncating or overflowing, so a value either arrives exactly or the load fails.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from datakit.connectors.errors import SchemaMismatch

if TYPE_CHECKING:
    import pyarrow as pa

_DECIMAL = re.compile(r"^(?:numeric|decimal)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
_MAX_DECIMAL128 = 38


def postgres_type(db_type: str, base_kind: str = "b") -> pa.DataType:
    """Arrow type for a PostgreSQL type as `format_type()` spells it (domains already resolved).

    `base_kind` is `pg_type.typtype` ("e" for enums). Types without an exact Arrow twin (numeric
    without a precision, json, uuid, tsvector, geometric, ...) are read as text, which is lossless.
    """
    import pyarrow as pa

    t = db_type.strip().lower()
    if t.endswith("[]"):
        return pa.list_(postgres_type(t[:-2], base_kind))
    if base_kind == "e":
        return pa.string()
    match = _DECIMAL.match(t)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        return pa.decimal128(precision, scale) if precision <= _MAX_DECIMAL128 else pa.string()
    base = re.sub(r"\(.*?\)", "", t).strip()
    simple: dict[str, pa.DataType] = {
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp without time zone": pa.timestamp("us"),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "time without time zone": pa.time64("us"),
        "interval": pa.month_day_nano_interval(),
        "bytea": pa.binary(),
        "oid": pa.uint32(),
    }
    return simple.get(base, pa.string())


def mysql_type(db_type: str) -> pa.DataType:
    """Arrow type for a MySQL/MariaDB `COLUMN_TYPE` (e.g. `int(11) unsigned`, `decimal(5,2)`)."""
    import pyarrow as pa

    t = db_type.strip().lower()
    unsigned = "unsigned" in t
    base = re.sub(r"\(.*?\)|unsigned|zerofill", "", t).strip()
    signed = {"tinyint": pa.int8(), "smallint": pa.int16(), "mediumint": pa.int32(), "int": pa.int32()}
    wider = {"tinyint": pa.uint8(), "smallint": pa.uint16(), "mediumint": pa.uint32(), "int": pa.uint32()}
    signed |= {"integer": pa.int32(), "bigint": pa.int64()}
    wider |= {"integer": pa.uint32(), "bigint": pa.uint64()}
    if t.startswith("tinyint(1)") and not unsigned:
        return pa.bool_()  # MySQL's BOOLEAN
    if base in signed:
        return (wider if unsigned else signed)[base]
    match = _DECIMAL.match(t)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        return pa.decimal128(precision, scale) if precision <= _MAX_DECIMAL128 else pa.string()
    simple: dict[str, pa.DataType] = {
        "float": pa.float32(),
        "double": pa.float64(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
        "timestamp": pa.timestamp("us", tz="UTC"),  # the session runs in UTC
        "time": pa.duration("us"),
        "year": pa.int16(),
    }
    if base in simple:
        return simple[base]
    if "blob" in base or "binary" in base:
        return pa.binary()
    return pa.string()


def sqlite_type(declared: str) -> pa.DataType:
    """Arrow type for a SQLite declared type, following SQLite's own affinity rules plus dates."""
    import pyarrow as pa

    t = declared.strip().upper()
    if "INT" in t:
        return pa.int64()
    if any(word in t for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if t == "" or "BLOB" in t:
        return pa.binary()
    if any(word in t for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    if "BOOL" in t:
        return pa.bool_()
    if "DATETIME" in t or "TIMESTAMP" in t:
        return pa.timestamp("us")
    if "DATE" in t:
        return pa.date32()
    match = _DECIMAL.match(t.lower())
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2) or 0))
    return pa.float64()  # NUMERIC affinity


def plain(array: pa.Array) -> pa.Array:
    """The storage of an extension array (ADBC's opaque numeric, uuid, json); other arrays as they are."""
    import pyarrow as pa

    while isinstance(array.type, pa.ExtensionType):
        array = array.storage
    return array


def conform(batch: pa.RecordBatch, schema: pa.Schema, *, label: str = "") -> pa.RecordBatch:
    """`batch` with exactly `schema`'s columns, in its order and types, cast safely (never lossy)."""
    import pyarrow as pa

    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)  # zero-copy; drops driver metadata
    arrays: list[pa.Array] = []
    names = batch.schema.names
    for target in schema:
        if target.name not in names:
            raise SchemaMismatch(
                f"column '{target.name}' is missing from the data of {label or 'the read'}",
                hint=f"columns present: {', '.join(names)}",
                table=label or None,
            )
        arrays.append(cast(plain(batch.column(target.name)), target.type, f"{label}.{target.name}"))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def cast(array: pa.Array, target: pa.DataType, where: str) -> pa.Array:
    """Safe cast with an error that names the column; temporal casts go through their integer twin."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.type.equals(target):
        return array
    try:
        if (
            pa.types.is_timestamp(array.type)
            and pa.types.is_timestamp(target)
            and array.type.unit == target.unit
        ):
            # Only the zone label differs (ADBC: UTC, contract: naive or another zone): same instants.
            return array.view(target)
        return pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatch(f"cannot convert {where} from {array.type} to {target} exactly: {exc}") from exc
