"""Valid values for one column, honouring its type and every rule: the engine of `build_rows`.

Values are drawn from the column's own `random.Random`, near zero or within the column's range,
strings from its pattern (see `regex_gen.py`) or short lowercase words; a column that must be unique
(it stands for a key) counts up instead of drawing.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column
from datakit.contracts.regex_gen import generate
from datakit.contracts.types import LogicalType, TypeKind

_EPOCH = datetime(2020, 1, 1)
_SPAN_SECONDS = 10 * 365 * 24 * 3600
_INT_LIMITS = {16: (-(2**15), 2**15 - 1), 32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}
_NULL_SHARE = 0.1
TRIES = 200


def column_values(column: Column, n: int, rng: random.Random, *, unique: bool) -> list[Any]:
    """`n` valid values of `column`; nullable columns get some nulls, unique ones none."""
    if column.accepted_values is not None and not unique:
        make: Callable[[int], Any] = lambda _: rng.choice(column.accepted_values or ())  # noqa: E731
    else:
        make = maker(column, rng, unique=unique)
    values = [make(index) for index in range(n)]
    if column.nullable and not unique:
        values = [None if rng.random() < _NULL_SHARE else value for value in values]
    return values


def maker(column: Column, rng: random.Random, *, unique: bool) -> Callable[[int], Any]:
    """A function from row number to a valid value of `column` (ignoring accepted values)."""
    kind = column.type.kind
    if kind is TypeKind.STRING:
        return _string_maker(column, rng, unique=unique)
    if kind in (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT):
        return _number_maker(column, rng, unique=unique)
    if kind in (TypeKind.DATE, TypeKind.TIMESTAMP, TypeKind.TIMESTAMPTZ, TypeKind.TIME):
        return _temporal_maker(column, rng, unique=unique)
    if kind is TypeKind.UUID:
        return lambda _: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return lambda _: _scalar(column.type, rng)


def _scalar(logical: LogicalType, rng: random.Random) -> Any:
    """A value of `logical` with no rules to honour (array items, booleans, binary, ...)."""
    kind = logical.kind
    if kind is TypeKind.ARRAY:
        assert logical.item is not None
        return [_scalar(logical.item, rng) for _ in range(rng.randint(0, 3))]
    plain = Column(name="v", type=logical)
    simple_makers: dict[TypeKind, Callable[[], Any]] = {
        TypeKind.BOOLEAN: lambda: rng.random() < 0.5,
        TypeKind.BINARY: lambda: rng.randbytes(rng.randint(1, 16)),
        TypeKind.JSON: lambda: json.dumps({"id": rng.randint(1, 999), "tag": rng.choice("abc")}),
        TypeKind.INTERVAL: lambda: pa.MonthDayNano([0, rng.randint(0, 30), rng.randint(0, 86_399) * 10**9]),
    }
    if kind in simple_makers:
        return simple_makers[kind]()
    return maker(plain, rng, unique=False)(0)


def _string_maker(column: Column, rng: random.Random, *, unique: bool) -> Callable[[int], Any]:
    limit = column.max_length or 12
    pattern = column.pattern
    if pattern is None:

        def word(index: int) -> str:
            suffix = str(index) if unique else ""
            size = rng.randint(1, max(1, min(limit, 12) - len(suffix)))
            text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size)) + suffix
            if len(text) > limit:
                raise ContractError(f"cannot make {index + 1} unique strings of at most {limit} characters")
            return text

        return word
    seen: set[str] = set()

    def matching(index: int) -> str:
        for _ in range(TRIES):
            try:
                text = generate(pattern, rng)
            except ValueError as exc:
                raise ContractError(
                    str(exc), column=column.name, hint="simplify the pattern for factories"
                ) from None
            if len(text) <= limit and not (unique and text in seen):
                seen.add(text)
                return text
        raise ContractError(
            f"cannot make value {index + 1} matching {pattern!r} within {limit} characters",
            column=column.name,
        )

    return matching


def _number_maker(column: Column, rng: random.Random, *, unique: bool) -> Callable[[int], Any]:
    logical = column.type
    step = step_of(logical)
    low, high = _bounds(column, step, unique=unique)
    if logical.kind is TypeKind.FLOAT:
        return (lambda index: float(low + index)) if unique else (lambda _: rng.uniform(low, high))
    units_low, units_high = int(low / step), int(high / step)

    def number(index: int) -> Any:
        units = units_low + index if unique else rng.randint(units_low, units_high)
        if units > units_high:
            raise ContractError(
                f"cannot make {index + 1} unique values within [{low}, {high}]", column=column.name
            )
        return units if logical.kind is TypeKind.INTEGER else Decimal(units) * step

    return number


def step_of(logical: LogicalType) -> Any:
    """The smallest difference between two values of a numeric type (a decimal's last digit)."""
    if logical.kind is TypeKind.DECIMAL:
        scale = logical.scale if logical.scale is not None else 2  # unconstrained: cents
        return Decimal(1).scaleb(-scale)
    return 1


def _bounds(column: Column, step: Any, *, unique: bool) -> tuple[Any, Any]:
    """The inclusive range to draw from: the column's own, within its type, by default near zero."""
    logical = column.type
    type_low: Any
    type_high: Any
    if logical.kind is TypeKind.INTEGER:
        type_low, type_high = _INT_LIMITS[logical.bits or 32]
    elif logical.kind is TypeKind.DECIMAL and logical.precision is not None:
        type_high = (Decimal(10) ** (logical.precision - (logical.scale or 0))) - step
        type_low = -type_high
    else:
        type_low, type_high = -(10**6), 10**6
    low: Any
    if column.min is not None:
        low = column.min
    elif column.max is not None:  # only an upper bound: draw from just below it
        ceiling: Any = column.max
        low = max(type_low, ceiling - (10**9 if unique else 10_000))
    else:
        low = max(type_low, min(1, type_high))
    high: Any = (
        column.max if column.max is not None else (type_high if unique else min(type_high, low + 10_000))
    )
    low, high = max(low, type_low), min(high, type_high)
    if logical.kind is TypeKind.FLOAT:  # keep clear of exclusive bounds by more than float32 rounding
        margin_low = max(abs(float(low)) * 1e-5, 1e-5) if column.min_exclusive else 0.0
        margin_high = max(abs(float(high)) * 1e-5, 1e-5) if column.max_exclusive else 0.0
        return float(low) + margin_low, float(high) - margin_high
    if column.min_exclusive:
        low += step
    if column.max_exclusive:
        high -= step
    if isinstance(step, Decimal):  # round inwards onto the decimal's grid
        low = Decimal(low).quantize(step, rounding="ROUND_CEILING")
        high = Decimal(high).quantize(step, rounding="ROUND_FLOOR")
    if low > high:
        raise ContractError(f"no value fits the range [{column.min}, {column.max}]", column=column.name)
    return low, high


def _temporal_maker(column: Column, rng: random.Random, *, unique: bool) -> Callable[[int], Any]:
    kind = column.type.kind
    if kind is TypeKind.TIME:
        low_t = seconds_of(column.min) if isinstance(column.min, time) else 0
        high_t = seconds_of(column.max) if isinstance(column.max, time) else 86_399

        def clock(index: int) -> time:
            if unique and low_t + index > high_t:
                raise ContractError(
                    f"cannot make {index + 1} unique times up to {column.max}", column=column.name
                )
            return time_of(low_t + index if unique else rng.randint(low_t, high_t))

        return clock
    zone = UTC if kind is TypeKind.TIMESTAMPTZ else None
    unit = timedelta(days=1) if kind is TypeKind.DATE else timedelta(seconds=1)
    span = timedelta(seconds=_SPAN_SECONDS)
    if column.min is not None:
        start = _as_datetime(column.min, zone)
    elif column.max is not None:  # only an upper bound: the span just below it
        start = _as_datetime(column.max, zone) - span
    else:
        start = _EPOCH.replace(tzinfo=zone)
    end = _as_datetime(column.max, zone) if column.max is not None else start + span
    if column.min_exclusive:
        start += unit
    if column.max_exclusive:
        end -= unit
    steps = int((end - start) / unit)
    if steps < 0:
        raise ContractError(f"no value fits the range [{column.min}, {column.max}]", column=column.name)

    def stamp(index: int) -> Any:
        moment = start + unit * (index if unique else rng.randint(0, steps))
        return moment.date() if kind is TypeKind.DATE else moment

    return stamp


def _as_datetime(value: Any, zone: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time()).replace(tzinfo=zone)


def seconds_of(value: time) -> int:
    """Seconds since midnight."""
    return value.hour * 3600 + value.minute * 60 + value.second


def time_of(seconds: int) -> time:
    """The time of day `seconds` after midnight."""
    return time(seconds // 3600 % 24, seconds // 60 % 60, seconds % 60)
