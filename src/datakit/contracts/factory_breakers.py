"""Values that break exactly one rule of a column, for `build_invalid_rows`.

Each breaker makes values that break its rule and no rule the validator checks before it (type,
not_null, max_length, range, accepted_values, pattern), so the validator reports that rule; None says a
column cannot break the rule alone (a range breaker for a column without a range, say).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datakit.contracts.arrow import arrow_type
from datakit.contracts.factory_values import TRIES, maker, seconds_of, step_of, time_of
from datakit.contracts.model import Column, Rule
from datakit.contracts.types import LogicalType, TypeKind

Breaker = Callable[[random.Random, int], Any]

_BAD_TEXT: dict[TypeKind, tuple[str, ...]] = {
    TypeKind.INTEGER: ("not-a-number", "12abc", "99999999999999999999999", "1.5"),
    TypeKind.FLOAT: ("abc", "1.2.3", "--1"),
    TypeKind.DECIMAL: ("abc", "1.2.3", "1e"),
    TypeKind.BOOLEAN: ("maybe", "yes", "2"),
    TypeKind.DATE: ("2023-02-30", "yesterday", "2023-13-01"),
    TypeKind.TIME: ("25:61", "noon", "12:99"),
    TypeKind.TIMESTAMP: ("2023-13-01 00:00:00", "soon", "2023-02-30 10:00:00"),
    TypeKind.TIMESTAMPTZ: ("2023-13-01 00:00:00+00", "soon", "2023-02-30T10:00:00Z"),
    TypeKind.UUID: ("not-a-uuid", "1234", "123e4567-e89b-12d3-a456-42661417400Z"),
    TypeKind.JSON: ('{"unclosed": ', "[1,", "{bad}"),
}


def breaker(column: Column, rule: Rule) -> Breaker | None:
    """How to make values of `column` that break `rule` and no rule checked before it; None if impossible."""
    kind = column.type.kind
    if rule is Rule.TYPE:
        bad = _BAD_TEXT.get(kind)
        if bad is None:
            return None
        if kind is TypeKind.DECIMAL and column.type.precision is not None:
            bad = (*bad, "1" + "0" * column.type.precision)  # one digit too many
        return lambda _rng, index: bad[index % len(bad)]
    if rule is Rule.NOT_NULL:
        return None if column.nullable else (lambda _rng, _index: None)
    if rule is Rule.MAX_LENGTH:
        limit = column.max_length
        if limit is None:
            return None
        return lambda _rng, index: "x" * (limit + 1 + index % 3)
    if rule is Rule.RANGE:
        return _range_breaker(column)
    if rule is Rule.ACCEPTED_VALUES:
        return _outsider(column)
    return _pattern_breaker(column)


def _range_breaker(column: Column) -> Breaker | None:
    if column.min is None and column.max is None:
        return None
    step = step_of(column.type) if column.type.kind in (TypeKind.INTEGER, TypeKind.DECIMAL) else None
    options = []
    for bound, exclusive, sign in (
        (column.min, column.min_exclusive, -1),
        (column.max, column.max_exclusive, 1),
    ):
        if bound is None:
            continue
        value = bound if exclusive else _nudge(column, bound, sign, step)
        if value is not None and _representable(column.type, value):
            options.append(value)
    if not options:
        return None
    return lambda _rng, index: options[index % len(options)]


def _nudge(column: Column, bound: Any, sign: int, step: Any) -> Any:
    kind = column.type.kind
    if step is not None:
        return bound + sign * step
    if kind is TypeKind.FLOAT:
        return bound + sign * max(abs(bound) * 1e-3, 1.0)
    if kind is TypeKind.DATE:
        return bound + sign * timedelta(days=1)
    if kind in (TypeKind.TIMESTAMP, TypeKind.TIMESTAMPTZ):
        return bound + sign * timedelta(seconds=1)
    if kind is TypeKind.TIME:
        seconds = seconds_of(bound) + sign
        return time_of(seconds) if 0 <= seconds < 86_400 else None
    return None


def _representable(logical: LogicalType, value: Any) -> bool:
    try:
        pa.scalar(value, type=arrow_type(logical))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True


def _outsider(column: Column) -> Breaker | None:
    """Values of the right type, length and range that are not among the accepted ones."""
    accepted = column.accepted_values
    if accepted is None:
        return None
    rng = random.Random(f"outsider:{column.name}")
    make = maker(column.model_copy(update={"accepted_values": None, "pattern": None}), rng, unique=True)
    outsiders = []
    for index in range(TRIES):
        value = make(index)
        if value not in accepted:
            outsiders.append(value)
        if len(outsiders) == 3:
            break
    if not outsiders:
        return None
    return lambda _rng, index: outsiders[index % len(outsiders)]


def _pattern_breaker(column: Column) -> Breaker | None:
    """Strings the pattern misses (as Arrow's regex engine sees it) that break no earlier rule."""
    pattern = column.pattern
    if pattern is None:
        return None
    limit = column.max_length or 40
    pool: list[Any] = list(column.accepted_values or ())
    if not pool:
        pool = ["", "!", "~~", " ", "0", "a", "Z9", "@", "a@", "@b", "_-_", "x" * min(limit, 8), "0" * limit]
    candidates = [text for text in pool if isinstance(text, str) and len(text) <= limit]
    if not candidates:
        return None
    matched = pc.match_substring_regex(pa.array(candidates, pa.string()), pattern).to_pylist()
    misses = [text for text, hit in zip(candidates, matched, strict=True) if not hit]
    if not misses:
        return None
    return lambda _rng, index: misses[index % len(misses)]
