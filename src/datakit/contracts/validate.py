"""Validate a whole Arrow batch against a contract, splitting it into good and rejected rows.

This is the loader's hot path, so it is all vectorized compute: per column one cast (see `casting.py`)
and one kernel per rule, with fast paths that skip a rule's row mask when a cheap aggregate proves no
row can break it (no nulls, min/max inside the range, no value longer in bytes than the limit in
characters). Rows are never visited in Python; only the raw text of *rejected* rows of exotic types
(lists, invalid UTF-8) is formatted in Python, and there are few of those.

Every input row ends up in exactly one of `good` and `rejected`. A rejected row reports the first rule
it breaks, in contract column order and then in `Rule` order (type, not_null, max_length, range,
accepted_values, pattern), with its raw values as text so that nothing is lost even when a value could
not be converted.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datakit.contracts.arrow import arrow_type, to_arrow_schema
from datakit.contracts.casting import Cast, NoConversion, cast_column
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column, Contract, Rule
from datakit.contracts.types import TypeKind

FAILED_COLUMN = "_dk_failed_column"
FAILED_RULE = "_dk_failed_rule"
REASON = "_dk_reason"
ROW_INDEX = "_dk_row_index"
REJECT_COLUMNS = (ROW_INDEX, FAILED_COLUMN, FAILED_RULE, REASON)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_SHOWN_CHARS = 60  # longer values are cut in reasons (the raw columns keep them whole)


@dataclass(frozen=True)
class ValidationResult:
    """A batch split by the contract.

    `good` has exactly the contract's Arrow schema (plus the extra columns when asked to keep them);
    `rejected` has one text column per input column, then `_dk_row_index` (position in the batch),
    `_dk_failed_column`, `_dk_failed_rule` and `_dk_reason`.
    """

    good: pa.RecordBatch
    rejected: pa.Table
    extra_columns: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()  # nullable contract columns absent from the batch (all null)

    def rejected_by_rule(self) -> dict[str, int]:
        """How many rows each rule rejected."""
        counts = pc.value_counts(self.rejected.column(FAILED_RULE)) if self.rejected.num_rows else []
        return {str(item["values"]): int(item["counts"]) for item in (c.as_py() for c in counts)}


@dataclass(frozen=True)
class _Failure:
    column: str
    rule: Rule
    prefix: str  # the reason is prefix + shown value + suffix
    suffix: str


@dataclass(frozen=True)
class _ColumnPlan:
    column: Column
    target: pa.DataType
    codes: dict[str, int]  # failure key (rule, or rule:detail) -> index into _Plan.failures
    low: pa.Scalar | None = None
    high: pa.Scalar | None = None
    value_set: pa.Array | None = None


@dataclass(frozen=True)
class _Plan:
    schema: pa.Schema
    columns: tuple[_ColumnPlan, ...]
    failures: tuple[_Failure, ...]


def validate_batch(
    contract: Contract, batch: pa.RecordBatch, *, keep_extra: bool = False
) -> ValidationResult:
    """Split `batch` into rows that satisfy `contract` (cast to its types) and rejected rows with reasons.

    A missing NOT NULL column is a ContractError (no row could pass); a missing nullable column is
    filled with nulls and reported; extra columns are reported and dropped unless `keep_extra`.
    """
    plan = _plan(contract)
    names = batch.schema.names
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ContractError(f"the batch repeats columns {', '.join(repeated)}", contract=contract.name)
    present = set(names)
    required = [
        cp.column.name for cp in plan.columns if not cp.column.nullable and cp.column.name not in present
    ]
    if required:
        raise ContractError(
            f"the batch lacks required column{'s' if len(required) > 1 else ''} {', '.join(required)}",
            contract=contract.name,
            hint=f"the batch has: {', '.join(names) or 'no columns'}",
        )
    rows = batch.num_rows
    marks = _Marks()
    values: list[pa.Array] = []
    missing: list[str] = []
    for cp in plan.columns:
        if cp.column.name not in present:
            missing.append(cp.column.name)
            values.append(pa.nulls(rows, cp.target))
            continue
        values.append(_check_column(contract, cp, batch.column(cp.column.name), marks))
    good = pa.RecordBatch.from_arrays(values, schema=plan.schema)
    extra = tuple(name for name in names if name not in {cp.column.name for cp in plan.columns})
    if keep_extra:
        for name in extra:
            good = good.append_column(batch.schema.field(name), batch.column(name))
    if marks.failed is None:
        return ValidationResult(good, _empty_rejected(batch.schema), extra, tuple(missing))
    rejected = _rejected(plan, batch, marks)
    return ValidationResult(good.filter(pc.invert(marks.failed)), rejected, extra, tuple(missing))


class _Marks:
    """Which rows failed and, per failed row, the code of the first failure."""

    def __init__(self) -> None:
        self.failed: pa.BooleanArray | None = None
        self.codes: pa.Int32Array | None = None

    def mark(self, mask: pa.BooleanArray | None, code: int) -> None:
        if mask is None or mask.true_count == 0:
            return
        if self.failed is None:
            self.failed = mask
            self.codes = pc.if_else(mask, pa.scalar(code, pa.int32()), pa.scalar(None, pa.int32()))
            return
        new = pc.and_not(mask, self.failed)
        if new.true_count:
            self.codes = pc.if_else(new, pa.scalar(code, pa.int32()), self.codes)
            self.failed = pc.or_(self.failed, mask)


def _check_column(contract: Contract, cp: _ColumnPlan, raw: pa.Array, marks: _Marks) -> pa.Array:
    column = cp.column
    try:
        cast = _cast(raw, cp)
    except NoConversion as exc:
        raise ContractError(
            f"cannot convert {raw.type} to {column.type} ({exc})",
            contract=contract.name,
            column=column.name,
            hint="the source's type changed or the contract is wrong; this is schema drift, not bad rows",
        ) from None
    marks.mark(cast.failed, cp.codes[Rule.TYPE])
    values = cast.values
    if column.type.kind is TypeKind.UUID:
        marks.mark(_false_is_fail(pc.match_substring_regex(values, UUID_PATTERN)), cp.codes["type:uuid"])
    if column.type.kind is TypeKind.JSON:
        marks.mark(_invalid_json(values), cp.codes["type:json"])
    if not column.nullable and values.null_count:
        marks.mark(pc.is_null(values), cp.codes[Rule.NOT_NULL])
    if column.max_length is not None and _longest_bytes(values) > column.max_length:
        marks.mark(
            pc.fill_null(pc.greater(pc.utf8_length(values), column.max_length), False),
            cp.codes[Rule.MAX_LENGTH],
        )
    if cp.low is not None or cp.high is not None:
        _check_range(cp, values, marks)
    if cp.value_set is not None:
        inside = pc.is_in(values, value_set=cp.value_set)
        outside = pc.invert(inside) if values.null_count == 0 else pc.and_not(pc.is_valid(values), inside)
        marks.mark(outside, cp.codes[Rule.ACCEPTED_VALUES])
    if column.pattern is not None:
        marks.mark(_false_is_fail(pc.match_substring_regex(values, column.pattern)), cp.codes[Rule.PATTERN])
    return values


def _cast(raw: pa.Array, cp: _ColumnPlan) -> Cast:
    if cp.column.type.kind is TypeKind.UUID and (
        isinstance(raw.type, pa.UuidType) or raw.type == pa.binary(16)
    ):  # binary UUIDs (ADBC, Parquet) become their canonical text through DuckDB's UUID type
        storage = raw.storage if isinstance(raw.type, pa.UuidType) else raw
        as_uuid = pa.ExtensionArray.from_storage(pa.uuid(), storage)
        return Cast(_duckdb_eval("CAST(v AS VARCHAR)", as_uuid), None)
    return cast_column(raw, cp.target)


def _check_range(cp: _ColumnPlan, values: pa.Array, marks: _Marks) -> None:
    column = cp.column
    if values.null_count == len(values):
        return
    extremes = pc.min_max(values)
    if cp.low is not None and column.min is not None:
        smallest = extremes["min"].as_py()
        if smallest is not None and (
            smallest < column.min or (column.min_exclusive and smallest == column.min)
        ):
            below = pc.less_equal(values, cp.low) if column.min_exclusive else pc.less(values, cp.low)
            marks.mark(pc.fill_null(below, False), cp.codes["range:min"])
    if cp.high is not None and column.max is not None:
        largest = extremes["max"].as_py()
        # NaN sorts above every number in PostgreSQL and DuckDB, so their CHECKs refuse it as too large
        nan = pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py()
        if nan or (
            largest is not None and (largest > column.max or (column.max_exclusive and largest == column.max))
        ):
            above = pc.greater_equal(values, cp.high) if column.max_exclusive else pc.greater(values, cp.high)
            if nan:
                above = pc.or_(above, pc.is_nan(values))
            marks.mark(pc.fill_null(above, False), cp.codes["range:max"])


def _false_is_fail(matches: pa.BooleanArray) -> pa.BooleanArray:
    return pc.fill_null(pc.invert(matches), False)


def _longest_bytes(values: pa.Array) -> int:
    longest = pc.max(pc.binary_length(values)).as_py()
    return int(longest or 0)


_local = threading.local()


def _duckdb_eval(expression: str, values: pa.Array) -> pa.Array:
    """`expression` over column `v` of `values`, evaluated by DuckDB (vectorized, no copy in)."""
    import duckdb

    connection = getattr(_local, "duckdb", None)
    if connection is None:
        connection = _local.duckdb = duckdb.connect()
    relation = connection.from_arrow(pa.table({"v": values})).project(f"{expression} AS r")
    return relation.to_arrow_table().column("r").combine_chunks()


def _invalid_json(values: pa.Array) -> pa.BooleanArray | None:
    if values.null_count == len(values):
        return None
    return _false_is_fail(_duckdb_eval("json_valid(v)", values))


# -- the rejected table ------------------------------------------------------------------------------------


def _rejected(plan: _Plan, batch: pa.RecordBatch, marks: _Marks) -> pa.Table:
    assert marks.failed is not None
    assert marks.codes is not None
    positions = pc.indices_nonzero(marks.failed)
    rows = batch.take(positions)
    texts = {name: as_text(rows.column(name)) for name in batch.schema.names}
    codes = pc.take(marks.codes, positions)
    failures = plan.failures
    failed_column = pc.take(pa.array([f.column for f in failures], pa.string()), codes)
    failed_rule = pc.take(pa.array([f.rule.value for f in failures], pa.string()), codes)
    which = pc.take(pa.array([_column_index(plan, f.column) for f in failures], pa.int32()), codes)
    nulls = pa.nulls(len(positions), pa.string())
    shown = pc.choose(which, *(texts.get(cp.column.name, nulls) for cp in plan.columns))
    shown = _shorten(shown)
    reason = pc.binary_join_element_wise(
        pc.take(pa.array([f.prefix for f in failures], pa.string()), codes),
        shown,
        pc.take(pa.array([f.suffix for f in failures], pa.string()), codes),
        "",
        null_handling="replace",
        null_replacement="null",
    )
    arrays = [*texts.values(), pc.cast(positions, pa.int64()), failed_column, failed_rule, reason]
    return pa.Table.from_arrays(arrays, schema=_rejected_schema(batch.schema))


def _column_index(plan: _Plan, name: str) -> int:
    return next(index for index, cp in enumerate(plan.columns) if cp.column.name == name)


def _shorten(text: pa.Array) -> pa.Array:
    long = pc.fill_null(pc.greater(pc.utf8_length(text), _SHOWN_CHARS), False)
    if not long.true_count:
        return text
    cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, _SHOWN_CHARS), "…", "")
    return pc.if_else(long, cut, text)


def _rejected_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = [pa.field(name, pa.string()) for name in input_schema.names]
    fields += [pa.field(ROW_INDEX, pa.int64(), nullable=False)]
    fields += [pa.field(name, pa.string(), nullable=False) for name in (FAILED_COLUMN, FAILED_RULE, REASON)]
    return pa.schema(fields)


def _empty_rejected(input_schema: pa.Schema) -> pa.Table:
    return _rejected_schema(input_schema).empty_table()


def as_text(array: pa.Array) -> pa.Array:
    """Values as text, losing nothing: strings as they are, non-UTF-8 binary as hex, nested values as JSON."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if isinstance(array.type, pa.BaseExtensionType) and not isinstance(array.type, pa.UuidType):
        array = array.storage
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # rejected rows only, so formatting them in Python is cheap
    return pa.array([_python_text(value) for value in array.to_pylist()], pa.string())


def _python_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return json.dumps(value, default=str, ensure_ascii=False)


# -- the plan: everything that depends on the contract only, computed once per contract --------------------


@functools.lru_cache(maxsize=256)
def _plan(contract: Contract) -> _Plan:
    failures: list[_Failure] = []
    columns = []
    for column in contract.columns:
        target = arrow_type(column.type)
        codes = _ColumnCodes(failures, column)
        codes.add(Rule.TYPE, "cannot convert '", f"' to {column.type}")
        if column.type.kind is TypeKind.UUID:
            codes.add(Rule.TYPE, "'", "' is not a UUID (8-4-4-4-12 hexadecimal digits)", key="type:uuid")
        if column.type.kind is TypeKind.JSON:
            codes.add(Rule.TYPE, "'", "' is not valid JSON", key="type:json")
        codes.add(Rule.NOT_NULL, "", " in a column that is not nullable")
        if column.max_length is not None:
            codes.add(Rule.MAX_LENGTH, "'", f"' is longer than {column.max_length} characters")
        if column.min is not None:
            below = "at or below" if column.min_exclusive else "below"
            codes.add(Rule.RANGE, "'", f"' is {below} the minimum {column.min}", key="range:min")
        if column.max is not None:
            above = "at or above" if column.max_exclusive else "above"
            codes.add(Rule.RANGE, "'", f"' is {above} the maximum {column.max}", key="range:max")
        if column.accepted_values is not None:
            shown = ", ".join(str(value) for value in column.accepted_values[:20])
            more = ", ..." if len(column.accepted_values) > 20 else ""
            codes.add(Rule.ACCEPTED_VALUES, "'", f"' is not one of {shown}{more}")
        if column.pattern is not None:
            codes.add(Rule.PATTERN, "'", f"' does not match {column.pattern}")
        columns.append(
            _ColumnPlan(
                column=column,
                target=target,
                codes=codes.codes,
                low=_scalar(column.min, target),
                high=_scalar(column.max, target),
                value_set=_value_set(column.accepted_values, target),
            )
        )
    return _Plan(to_arrow_schema(contract), tuple(columns), tuple(failures))


@dataclass
class _ColumnCodes:
    failures: list[_Failure]
    column: Column
    codes: dict[str, int] = field(default_factory=dict)

    def add(self, rule: Rule, prefix: str, suffix: str, *, key: str | None = None) -> None:
        self.codes[key or rule] = len(self.failures)
        self.failures.append(_Failure(self.column.name, rule, prefix, suffix))


def _scalar(bound: Any, target: pa.DataType) -> pa.Scalar | None:
    if bound is None:
        return None
    try:
        return pa.scalar(bound, type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.scalar(bound)  # e.g. a bound beyond the type's range: compare in a wider type


def _value_set(values: tuple[Any, ...] | None, target: pa.DataType) -> pa.Array | None:
    if values is None:
        return None
    representable = []
    for value in values:  # a value the column's type cannot hold can never match: leave it out
        try:
            pa.scalar(value, type=target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            continue
        representable.append(value)
    return pa.array(representable, type=target)
