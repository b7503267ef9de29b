"""PostgreSQL's binary COPY format, encoded from Arrow with numpy, never row by row: the destination's
write path.

Why an in-house encoder: a load is CPU-bound on two cores, and the raw `psql | psql` pipe it is measured
against spends almost no client CPU. A table of fixed-width columns is, in binary COPY, an array of
identical C structs: numpy writes it as a structured array, the byte swaps done by dtype conversion
(~2-3 ms per 64k rows of rental's 7 columns, ~11-13 ms with the four bronze audit columns, two of them
text). What it was measured against (`bench/load.py`, 2M rental rows, Dec 2026): the same
read -> validate -> write with the batches written as CSV text into `COPY ... (FORMAT csv)`
(`pg_to_pg_steps_csv`: 19.5 s best, 7.7 CPU-s in the client) against 3.3 s (1.0 CPU-s) through this
encoder; ADBC's `adbc_ingest` (~0.85 s of C++ encoding per 2M rows, and its own connection, outside the
load's one transaction) and a pyarrow.compute-only encoder (~1.0 s) were slower before that. The decoding
half this module once had (asyncpg reads) was removed: ADBC reads as fast (see the source).

`encode` covers int2/4/8, float4/8, bool, date, time, timestamp(tz), interval, numeric with precision
<= 18 (a fixed number of base-10000 digits, which `numeric_recv` normalises), and text-like / bytea
columns. Fields are filled in blocks of `_BLOCK_ROWS` rows that stay in the CPU cache (2x faster than
whole-batch passes over a wide record). Text columns whose values all have one length (load ids,
hashes, constants) are fixed-width fields too; other text is joined in after the fixed part by
`binary_join_element_wise` (the COPY column list, `copy_order`, puts fixed columns first). A NULL in a
fixed column is a length of -1 and no value bytes: the encoder writes full-width rows and then cuts those
bytes out, so row order is kept. `encodable` says whether a type is covered; the PostgreSQL destination
has psycopg dump the others (arrays, wider numerics) value by value into the same stream.

Temporal values: PostgreSQL counts from 2000-01-01, Arrow from 1970-01-01; +-infinity (the int64 and
int32 extremes) are kept as those extremes rather than shifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
PG_EPOCH_DAYS = 10_957
_MAX_FAST_DECIMAL_DIGITS = 18  # unscaled values (aligned to base-10000) must fit in int64
_BLOCK_ROWS = 16384


@dataclass(frozen=True)
class _Fixed:
    """How one fixed-width Arrow type is laid out in binary COPY."""

    dtype: str  # numpy dtype of the value on the wire (big-endian)
    epoch: int = 0  # subtract from Arrow's value (temporal types)


def _fixed(arrow_type: pa.DataType) -> _Fixed | None:
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us":
        return _Fixed(">i8", PG_EPOCH_US)
    simple = {
        pa.int16(): _Fixed(">i2"),
        pa.int32(): _Fixed(">i4"),
        pa.int64(): _Fixed(">i8"),
        pa.float32(): _Fixed(">f4"),
        pa.float64(): _Fixed(">f8"),
        pa.bool_(): _Fixed("u1"),
        pa.date32(): _Fixed(">i4", PG_EPOCH_DAYS),
        pa.time64("us"): _Fixed(">i8"),
    }
    for known, layout in simple.items():
        if arrow_type.equals(known):
            return layout
    return None


def _is_var(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _decimal_groups(arrow_type: pa.DataType) -> tuple[int, int] | None:
    """(integer groups, fraction groups) of base-10000 digits for a decimal we encode in int64."""
    import pyarrow as pa

    if not pa.types.is_decimal(arrow_type):
        return None
    precision, scale = arrow_type.precision, arrow_type.scale
    if scale < 0 or scale > precision:
        return None
    fraction = -(-scale // 4)
    if precision + (fraction * 4 - scale) > _MAX_FAST_DECIMAL_DIGITS:
        return None
    return -(-(precision - scale) // 4), fraction


def encodable(schema: pa.Schema) -> bool:
    """True when `encode` covers every column of `schema`."""
    import pyarrow as pa

    return all(
        _fixed(f.type) is not None
        or _is_var(f.type)
        or _decimal_groups(f.type) is not None
        or f.type.equals(pa.month_day_nano_interval())
        for f in schema
    )


def copy_order(schema: pa.Schema) -> list[str]:
    """Column names in the order `encode` writes them: fixed-width first, then variable-width."""
    return [f.name for f in schema if not _is_var(f.type)] + [f.name for f in schema if _is_var(f.type)]


def encode(batch: pa.RecordBatch) -> memoryview:
    """Binary COPY rows (no header or trailer) for `batch`, columns in `copy_order(batch.schema)`.

    Fixed-width columns, and the leading text columns whose values all have one length (ids, hashes,
    constants), are one numpy structured array; other text columns are joined in after it.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.num_rows
    names = copy_order(batch.schema)
    fixed = [n for n in names if not _is_var(batch.schema.field(n).type)]
    var = names[len(fixed) :]
    fields: list[tuple[str, Any]] = [("n", ">i2")]
    plans = []
    for i, name in enumerate(fixed):
        dtype, fill = _value_dtype(batch.schema.field(name).type)
        fields += [(f"l{i}", ">i4"), (f"v{i}", dtype)]
        plans.append((name, fill, np.dtype(dtype).itemsize))
    while var and _uniform_bytes(batch.column(var[0])) is not None:  # fixed-width text: ids, hashes
        width = _uniform_bytes(batch.column(var[0])).shape[1]  # type: ignore[union-attr]
        fields += [(f"l{len(plans)}", ">i4"), (f"v{len(plans)}", ("u1", (width,)))]
        plans.append((var.pop(0), _fill_uniform, width))
    record = np.empty(rows, dtype=np.dtype(fields))
    # Field by field over blocks of rows that stay in the CPU cache: over the whole batch, each field
    # would stream the entire (wide) record array through memory once more (measured: 2.5x slower).
    for start in range(0, rows, _BLOCK_ROWS):
        block = record[start : start + _BLOCK_ROWS]
        block["n"] = len(names)
        for i, (name, fill, width) in enumerate(plans):
            block[f"l{i}"] = width
            fill(block[f"v{i}"], batch.column(name).slice(start, _BLOCK_ROWS))
    cuts: list[tuple[np.ndarray, int, int]] = []  # (null rows, offset of value in row, width)
    for i, (name, _, width) in enumerate(plans):
        array = batch.column(name)
        if array.null_count:
            nulls = _null_mask(array)
            record[f"l{i}"][nulls] = -1
            cuts.append((nulls, record.dtype.fields[f"v{i}"][1], width))
    flat = record.view(np.uint8)
    row_width = record.dtype.itemsize
    row_lengths: np.ndarray | None = None
    if cuts:
        row_lengths = np.full(rows, row_width, dtype=np.int64)
        for nulls, _, width in cuts:
            row_lengths -= nulls * width
        flat = _cut(flat, row_width, cuts)
    if not var:
        return memoryview(flat.data)
    if row_lengths is None:
        row_lengths = np.full(rows, row_width, dtype=np.int64)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=offsets[1:])
    parts = [
        pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(flat)]
        )
    ]
    for name in var:
        parts += _var_cell(batch.column(name))
    joined = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    bounds = np.frombuffer(joined.buffers()[1], dtype="<i8", count=joined.offset + rows + 1)
    return memoryview(joined.buffers()[2])[int(bounds[joined.offset]) : int(bounds[-1])]


def _cut(flat: np.ndarray, row_width: int, cuts: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """`flat` without the value bytes of NULL fields (few, so copying the spans between them is cheap)."""
    import numpy as np

    starts = [np.flatnonzero(nulls) * row_width + offset for nulls, offset, _ in cuts]
    widths = [np.full(len(s), width, dtype=np.int64) for s, (_, _, width) in zip(starts, cuts, strict=True)]
    start = np.concatenate(starts)
    order = np.argsort(start, kind="stable")
    start, end = start[order], start[order] + np.concatenate(widths)[order]
    keep_from = np.concatenate([[0], end])
    keep_to = np.concatenate([start, [len(flat)]])
    return np.concatenate([flat[a:b] for a, b in zip(keep_from.tolist(), keep_to.tolist(), strict=True)])


def _uniform_bytes(array: pa.Array) -> np.ndarray | None:
    """The values of a text/binary array as a (rows, length) byte matrix, if all share one length."""
    import numpy as np
    import pyarrow as pa

    if array.null_count or len(array) == 0:
        return None
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    width = "<i8" if large else "<i4"
    offsets_buffer, data = array.buffers()[1], array.buffers()[2]
    if offsets_buffer is None or data is None:
        return None
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=array.offset + len(array) + 1)[array.offset :]
    lengths = np.diff(offsets)
    length = int(lengths[0])
    if length == 0 or np.any(lengths != length):
        return None
    values = np.frombuffer(data, dtype=np.uint8, count=int(offsets[-1]))[int(offsets[0]) :]
    return values.reshape(len(array), length)


def _fill_uniform(out: np.ndarray, array: pa.Array) -> None:
    matrix = _uniform_bytes(array)
    assert matrix is not None
    out[:] = matrix


def _null_mask(array: pa.Array) -> np.ndarray:
    import numpy as np

    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _var_cell(array: pa.Array) -> list[pa.Array]:
    """Length prefixes (-1 for NULL) and payloads of a text or bytea column, as large_binary arrays."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    binary = array.cast(pa.large_binary())
    lengths = pc.binary_length(binary).fill_null(-1).to_numpy(zero_copy_only=False).astype(">i4")
    prefix = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4), len(array), [None, pa.py_buffer(np.ascontiguousarray(lengths).view(np.uint8))]
    ).cast(pa.large_binary())
    return [prefix, binary.fill_null(b"")]


def _value_dtype(arrow_type: pa.DataType) -> tuple[Any, Any]:
    """The numpy dtype of a fixed-width value on the wire, and a function filling it from Arrow."""
    import pyarrow as pa

    layout = _fixed(arrow_type)
    if layout is not None:

        def fill_fixed(out: np.ndarray, array: pa.Array) -> None:
            values = _numpy(array)
            if layout.epoch:
                values = _shift(values, -layout.epoch)
            out[:] = values

        return layout.dtype, fill_fixed
    if arrow_type.equals(pa.month_day_nano_interval()):
        return [("us", ">i8"), ("days", ">i4"), ("months", ">i4")], _fill_interval
    groups = _decimal_groups(arrow_type)
    assert groups is not None, f"no binary COPY encoding for {arrow_type}"
    digits = max(groups[0] + groups[1], 1)
    dtype = [("nd", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("d", ">i2", (digits,))]

    def fill_decimal(out: np.ndarray, array: pa.Array) -> None:
        _fill_decimal(out, array, groups[0], groups[1], digits)

    return dtype, fill_decimal


def _numpy(array: pa.Array) -> np.ndarray:
    """The values of a fixed-width array as numpy (NULL slots hold whatever the buffer holds)."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_boolean(array.type):
        return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
    storage = {2: "<i2", 4: "<i4", 8: "<i8"}[array.type.bit_width // 8]
    if pa.types.is_floating(array.type):
        storage = storage.replace("i", "f")
    buffer = array.buffers()[1]
    assert buffer is not None
    return np.frombuffer(buffer, dtype=storage, count=len(array) + array.offset)[array.offset :]


def _shift(values: np.ndarray, delta: int) -> np.ndarray:
    """`values + delta`, keeping the type's extremes (PostgreSQL's +-infinity) as they are."""
    import numpy as np

    info = np.iinfo(values.dtype)
    shifted = values + values.dtype.type(delta)
    special = (values == info.max) | (values == info.min)
    if special.any():
        shifted = np.where(special, values, shifted)
    return np.asarray(shifted)


def _fill_interval(out: np.ndarray, array: pa.Array) -> None:
    import numpy as np

    from datakit.connectors.errors import SchemaMismatch

    raw = array.buffers()[1]
    assert raw is not None
    parts = np.frombuffer(
        raw, dtype=[("months", "<i4"), ("days", "<i4"), ("ns", "<i8")], count=len(array) + array.offset
    )[array.offset :]
    valid = ~_null_mask(array)
    if np.any(parts["ns"][valid] % 1000):
        raise SchemaMismatch("an interval has nanoseconds, which PostgreSQL cannot store exactly")
    out["us"] = parts["ns"] // 1000
    out["days"] = parts["days"]
    out["months"] = parts["months"]


def _fill_decimal(out: np.ndarray, array: pa.Array, whole: int, fraction: int, digits: int) -> None:
    import numpy as np

    raw = array.buffers()[1]
    assert raw is not None
    # decimal128 is two little-endian int64 words; values of <= 18 digits live in the low word.
    unscaled = np.frombuffer(raw, dtype="<i8", count=2 * (len(array) + array.offset))[0::2][array.offset :]
    scale = array.type.scale
    aligned = np.abs(unscaled) * (10 ** (fraction * 4 - scale))
    out["nd"] = digits
    out["weight"] = whole - 1 if whole + fraction else 0
    out["sign"] = np.where(unscaled < 0, 0x4000, 0)
    out["dscale"] = scale
    for k in range(whole + fraction):
        out["d"][:, k] = (aligned // (10 ** (4 * (whole + fraction - 1 - k)))) % 10000
    if whole + fraction == 0:
        out["d"][:, 0] = 0
