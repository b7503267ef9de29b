"""Casting a column to its contract type, value by value, without a Python loop over rows.

Arrow's cast is all-or-nothing: one bad value fails the whole array. The validator needs the opposite:
every value that cannot be converted is a rejected row, and the others go on. The fast path is one
Arrow cast (clean data pays nothing more). When it fails:

1. a cheap vectorized pre-screen (a regular expression for strings, a range test for numbers) marks
   values Arrow certainly refuses — it is a superset of what Arrow accepts, so it never rejects a value
   Arrow would have taken, and results do not depend on which path ran;
2. the survivors are cast again; if that still fails (an overflow, 30 February), the array is bisected:
   halves that cast are done, halves that fail are split again. Cost grows with log(rows) per bad
   value, and bad values left after the pre-screen are rare.

So a value is accepted exactly when Arrow's own cast of that single value succeeds, with three
documented widenings: timestamps with more than 6 fractional digits are truncated to microseconds;
strings without a zone offset are read as UTC for `timestamptz`; `time` parses from `HH:MM[:SS[.f]]`
strings (Arrow has no string-to-time cast). Between temporal types Arrow's conversions apply as they
are: nanoseconds are truncated to microseconds, a naive timestamp for `timestamptz` is read as UTC, a
zoned one for a naive `timestamp` keeps its UTC wall time, and a timestamp for a `date` keeps its day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

CastFn = Callable[[pa.Array], pa.Array]
Prescreen = Callable[[], "pa.BooleanArray | None"]  # computed only once the fast path has failed

_INT = r"^-?(0[xX][0-9a-fA-F]+|[0-9]+)$"
_NUMBER = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))$"
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]{0,2}[0-9]+)?$"  # Arrow even takes 1E+-2
_BOOL = r"^(?i:true|false|1|0)$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}([.,][0-9]+)?)?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
_ZONED = r"([T ][0-9:.,]+)(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_EXCESS_FRACTION = r"(:[0-9]{2}[.,][0-9]{6})[0-9]+"
_EPOCH_DAY = "1970-01-01 "


class NoConversion(Exception):
    """Arrow has no conversion between the two types at all (a schema problem, not a data problem)."""


@dataclass(frozen=True)
class Cast:
    """A cast column: values (null where the cast failed) and which rows failed, if any did."""

    values: pa.Array
    failed: pa.BooleanArray | None


def cast_column(array: pa.Array, target: pa.DataType) -> Cast:
    """Cast `array` to `target`, marking the values that cannot be converted instead of failing."""
    array = _plain(array)
    if array.type == target:
        return Cast(array, None)
    if pa.types.is_null(array.type):
        return Cast(pa.nulls(len(array), target), None)
    if _is_text(array.type) and not _is_text(target) and not pa.types.is_binary(target):
        return _from_text(array.cast(pa.string()) if array.type != pa.string() else array, target)
    if _is_temporal(array.type) and _is_temporal(target):
        options = pc.CastOptions(target, allow_time_truncate=True)
        return strict_cast(array, lambda part: pc.cast(part, options=options), prescreen=None)
    return strict_cast(
        array, lambda part: pc.cast(part, target), prescreen=lambda: _numeric_prescreen(array, target)
    )


def strict_cast(array: pa.Array, cast: CastFn, prescreen: Prescreen | None) -> Cast:
    """`cast` applied value by value in effect: failures are marked, the rest converted."""
    try:
        return Cast(cast(array), None)
    except pa.ArrowNotImplementedError as exc:
        raise NoConversion(str(exc)) from None
    except pa.ArrowInvalid:
        pass
    failed = prescreen() if prescreen is not None else None
    candidates = array if failed is None else null_out(array, failed)
    try:
        return Cast(cast(candidates), _none_if_empty(failed))
    except pa.ArrowInvalid:
        pass
    bad = _bisect(candidates, cast)
    failed = _or(failed, mask_from_indices(len(array), bad))
    return Cast(cast(null_out(array, failed)), failed)


def null_out(array: pa.Array, mask: pa.BooleanArray) -> pa.Array:
    """`array` with nulls where `mask` is true; for flat arrays only the validity bitmap is new."""
    keep = pc.and_not(pc.is_valid(array), mask)
    flat = not pa.types.is_nested(array.type) and not isinstance(array.type, pa.BaseExtensionType)
    if flat and array.offset == 0 and keep.offset == 0:
        buffers = array.buffers()
        return pa.Array.from_buffers(array.type, len(array), [keep.buffers()[1], *buffers[1:]])
    return pc.if_else(mask, pa.nulls(1, array.type)[0], array)


def mask_from_indices(length: int, indices: list[int]) -> pa.BooleanArray:
    """A boolean array of `length`, true at `indices`."""
    if not indices:
        return pc.fill_null(pa.nulls(length, pa.bool_()), False)
    trues = pa.array([True] * len(indices), pa.bool_())
    scattered = pc.scatter(trues, pa.array(indices, pa.int64()), max_index=length - 1)
    return pc.fill_null(scattered, False)


def _bisect(array: pa.Array, cast: CastFn) -> list[int]:
    """Positions whose single value fails `cast`, found by splitting failing slices in halves."""
    bad: list[int] = []
    pending = [(0, len(array))]
    while pending:
        start, length = pending.pop()
        if length == 0:
            continue
        if length < len(array):  # the whole array is known to fail already
            try:
                cast(array.slice(start, length))
                continue
            except pa.ArrowInvalid:
                pass
        if length == 1:
            bad.append(start)
            continue
        half = length // 2
        pending.append((start + half, length - half))
        pending.append((start, half))
    return sorted(bad)


def _from_text(strings: pa.Array, target: pa.DataType) -> Cast:
    if pa.types.is_timestamp(target) and target.tz is not None:
        return _to_timestamptz(strings, target)
    if pa.types.is_timestamp(target):
        return _text_cast(strings, target, _TIMESTAMP, fraction=True)
    if pa.types.is_time(target):
        naive = pa.timestamp(target.unit)
        stamped = pc.binary_join_element_wise(_EPOCH_DAY, strings, "")
        parsed = _text_cast(stamped, naive, _TIMESTAMP, fraction=True)
        return Cast(pc.cast(parsed.values, target), parsed.failed)
    pattern = _text_pattern(target)
    return strict_cast(
        strings, lambda part: pc.cast(part, target), lambda: _text_prescreen(strings, target, pattern)
    )


def _text_prescreen(strings: pa.Array, target: pa.DataType, pattern: str | None) -> pa.BooleanArray | None:
    """Text that is not a number at all, then numbers too large (or too precise) for the target.

    The second step reads the survivors in a wide type (int64, decimal(38, 18)) and compares there, so
    a column full of overflowing values costs two casts instead of a bisection per value.
    """
    junk = _prescreen(strings, pattern)
    if not (pa.types.is_integer(target) or pa.types.is_decimal(target)):
        return junk
    survivors = strings if junk is None else null_out(strings, junk)
    wide_type = pa.int64() if pa.types.is_integer(target) else pa.decimal128(38, max(target.scale, 18))
    try:
        wide = pc.cast(survivors, wide_type)
    except pa.ArrowInvalid:  # beyond even the wide type: left to the bisection
        return junk
    return _or(junk, _numeric_prescreen(wide, target))


def _text_cast(strings: pa.Array, target: pa.DataType, pattern: str, *, fraction: bool) -> Cast:
    def cast(part: pa.Array) -> pa.Array:
        return pc.cast(part, target)

    try:
        return Cast(cast(strings), None)
    except pa.ArrowInvalid:
        pass
    if fraction:
        strings = pc.replace_substring_regex(strings, _EXCESS_FRACTION, r"\1")
    return strict_cast(strings, cast, lambda: _prescreen(strings, pattern))


def _to_timestamptz(strings: pa.Array, target: pa.DataType) -> Cast:
    """Zoned strings through Arrow's zoned cast, unzoned ones read as UTC."""
    try:
        return Cast(pc.cast(strings, target), None)
    except pa.ArrowInvalid:
        pass
    strings = pc.replace_substring_regex(strings, _EXCESS_FRACTION, r"\1")
    naive_type = pa.timestamp(target.unit)
    null = pa.nulls(1, pa.string())[0]
    zoned = pc.fill_null(pc.match_substring_regex(strings, _ZONED), False)
    first = _text_cast(pc.if_else(zoned, strings, null), target, _TIMESTAMP, fraction=False)
    second = _text_cast(pc.if_else(zoned, null, strings), naive_type, _TIMESTAMP, fraction=False)
    values = pc.if_else(zoned, first.values, pc.cast(second.values, target))
    failed = _or(first.failed, second.failed)
    if failed is None:
        return Cast(values, None)
    # a string the pattern routed wrongly gets a second chance with the other reading
    retry_zoned = _text_cast(pc.if_else(failed, strings, null), target, _TIMESTAMP, fraction=False)
    retry_naive = _text_cast(pc.if_else(failed, strings, null), naive_type, _TIMESTAMP, fraction=False)
    rescued_zoned = _valid(retry_zoned.values)
    rescued_naive = _valid(retry_naive.values)
    values = pc.if_else(rescued_zoned, retry_zoned.values, values)
    values = pc.if_else(rescued_naive, pc.cast(retry_naive.values, target), values)
    still = pc.and_(failed, pc.invert(pc.or_(rescued_zoned, rescued_naive)))
    return Cast(values, _none_if_empty(still))


def _text_pattern(target: pa.DataType) -> str | None:
    if pa.types.is_integer(target):
        return _INT
    if pa.types.is_floating(target):
        return _NUMBER
    if pa.types.is_decimal(target):
        return _DECIMAL
    if pa.types.is_boolean(target):
        return _BOOL
    if pa.types.is_date(target):
        return _DATE
    return None


def _prescreen(strings: pa.Array, pattern: str | None) -> pa.BooleanArray | None:
    if pattern is None:
        return None
    if pattern == _INT:  # the common case, at a seventh of the regex's cost: digits, or a sign or 0x first
        matches = pc.utf8_is_digit(strings)
        for prefix in ("-", "0x", "0X"):
            matches = pc.or_(matches, pc.starts_with(strings, prefix))
    else:
        matches = pc.match_substring_regex(strings, pattern)
    return _none_if_empty(pc.fill_null(pc.invert(matches), False))


def _numeric_prescreen(array: pa.Array, target: pa.DataType) -> pa.BooleanArray | None:
    """Numbers a cast to `target` certainly refuses: out of range, or with digits it cannot keep."""
    numeric = (
        pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type)
    )
    if not numeric:
        return None
    if pa.types.is_integer(target):
        return _integer_misfits(array, target)
    if pa.types.is_decimal(target):
        return _decimal_misfits(array, target)
    return None


def _integer_misfits(array: pa.Array, target: pa.DataType) -> pa.BooleanArray | None:
    bits = target.bit_width
    low, high = (
        (0, 2**bits - 1)
        if pa.types.is_unsigned_integer(target)
        else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    if pa.types.is_decimal(array.type):
        array = pc.cast(array, pa.float64())  # range and fraction tests only; bisection settles the rest
    outside = pc.or_(pc.less(array, low), pc.greater(array, high))
    if pa.types.is_floating(array.type):
        outside = pc.or_(outside, pc.not_equal(pc.trunc(array), array))
        outside = pc.or_(outside, pc.invert(pc.is_finite(array)))
    return _none_if_empty(pc.fill_null(outside, False))


def _decimal_misfits(array: pa.Array, target: pa.DataType) -> pa.BooleanArray | None:
    """Too many integer digits for the target's precision, or fraction digits beyond its scale."""
    integer_digits = target.precision - target.scale
    if pa.types.is_floating(array.type):
        too_big = pc.greater_equal(pc.abs(array), float(10**integer_digits))
        return _none_if_empty(pc.fill_null(pc.or_(too_big, pc.invert(pc.is_finite(array))), False))
    scale = max(target.scale, getattr(array.type, "scale", 0))
    wide = pa.decimal128(38, scale)
    try:
        exact = pc.cast(array, wide)
        limit = pa.scalar(Decimal(10) ** integer_digits, wide)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    misfit = pc.greater_equal(pc.abs(exact), limit)
    if scale > target.scale:
        misfit = pc.or_(misfit, pc.not_equal(pc.round(exact, ndigits=target.scale), exact))
    return _none_if_empty(pc.fill_null(misfit, False))


def _plain(array: pa.Array) -> pa.Array:
    """Dictionary-decoded and extension-free, so casts see the values themselves."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if isinstance(array.type, pa.BaseExtensionType) and not isinstance(array.type, pa.UuidType):
        array = array.storage
    return array


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _is_temporal(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_temporal(arrow_type)) and not pa.types.is_interval(arrow_type)


def _valid(array: pa.Array) -> pa.BooleanArray:
    return pc.is_valid(array)


def _or(left: pa.BooleanArray | None, right: pa.BooleanArray | None) -> pa.BooleanArray | None:
    if left is None:
        return right
    if right is None:
        return left
    return pc.or_(left, right)


def _none_if_empty(mask: pa.BooleanArray | None) -> pa.BooleanArray | None:
    return mask if mask is not None and mask.true_count > 0 else None
