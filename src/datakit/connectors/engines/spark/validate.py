"""A contract's rules as Spark column expressions: validation runs on the executors, not the driver.

The same rules, order and reasons as the loader's Arrow validation (`datakit.contracts.validate`): per
contract column, the type (a `try_cast` that turns a value into NULL fails it), UUID and JSON shape,
not null, max length, range, accepted values, pattern; a row reports the first rule it breaks, and its
raw values as text. One pass computes every row's values, the code of its first failure and, for a
failing row only, its raw text and reason; that pass is written once to the transaction's staging
(`Staging.materialize`), so a source read by Spark is read once, and the good rows, the rejected rows
and the counts are read from it.

Spark's regular expressions are Java's (RLIKE searches, as the Arrow and PostgreSQL validators do);
the common syntax is the same, but a pattern relying on RE2-only or Java-only syntax can differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from datakit.connectors.base import CheckedRows
from datakit.connectors.engines.spark.engine import SPARK
from datakit.connectors.engines.spark.frames import stamp_columns
from datakit.connectors.writes import FILE, PARSE_RULE, RAW, REJECTED_AT
from datakit.contracts.audit import LOAD_ID
from datakit.contracts.errors import ContractError
from datakit.contracts.model import Rule
from datakit.contracts.types import TypeKind
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX, UUID_PATTERN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from datakit.connectors.base import CheckedWrite, TableRef
    from datakit.connectors.engines.spark.transaction import SparkTransaction
    from datakit.connectors.stamp import Stamp
    from datakit.contracts.model import Column, Contract

CODE = "_dk_code"
_RAW = "_dk_raw_"
_VALUE = "_dk_value_"
_SHOWN_CHARS = 60
_ELLIPSIS = "\u2026"
_ORDERED = {
    TypeKind.INTEGER,
    TypeKind.FLOAT,
    TypeKind.DECIMAL,
    TypeKind.DATE,
    TypeKind.TIMESTAMP,
    TypeKind.TIMESTAMPTZ,
}


@dataclass(frozen=True)
class Failure:
    """One way a column can fail: its rule, the SQL that is true for a failing row, the reason's text."""

    column: str
    rule: Rule
    sql: str
    prefix: str
    suffix: str


@dataclass(frozen=True)
class Malformed:
    """A column holding the text of a record the reader could not parse (NULL for the others): such a
    row is rejected with rule `parse`, `reason`, and its text in `RAW`, before any other rule."""

    column: str
    reason: str


def write_checked(
    tx: SparkTransaction,
    table: TableRef,
    frame: DataFrame | None,
    stamp: Stamp | None,
    spec: CheckedWrite,
    *,
    malformed: Malformed | None = None,
) -> CheckedRows:
    """Validate `frame` (None: no rows) against `spec.contract` and write it (see the module)."""
    if frame is None:
        return CheckedRows(0, 0)
    from pyspark.sql import functions as F

    from datakit.connectors.engines.spark.transaction import rows_of

    contract = spec.contract
    bad_text = malformed.column if malformed is not None else None
    inputs = [name for name in frame.columns if name not in (spec.row, spec.file, bad_text)]
    values, failures = plan(contract, dict(frame.dtypes), contract_name=contract.qualified_name)
    checked = tx.staging.materialize(_checked(frame, spec, inputs, values, failures, malformed), "checked")
    q = SPARK.quote
    aggregates = [F.count(F.lit(1)).alias("n"), F.count(F.col(CODE)).alias("bad")]
    if spec.cursor is not None:
        aggregates.append(F.max(F.when(F.col(CODE).isNull(), F.col(q(spec.cursor)))).alias("top"))
    counts = rows_of(checked.agg(*aggregates))[0]  # through Arrow: instants come back zoned (UTC)
    total, bad = int(counts[0]), int(counts[1])
    cursor = counts[2] if spec.cursor is not None else None
    if total - bad:
        good = checked.where(F.col(CODE).isNull())
        columns = [
            F.coalesce(F.col(q(name)), F.lit(spec.at)).alias(name) if name in spec.fill else F.col(q(name))
            for name, _ in values
        ]
        if spec.keep_row:
            columns.append(F.col(q(spec.row)))
        good = good.select(*columns)
        good = good.select(*good.columns, *stamp_columns(good, stamp))
        tx.append(table, good)
    if bad:
        tx.append(spec.rejected, _rejected(checked, spec, inputs, failures, malformed))
    return CheckedRows(total - bad, bad, cursor)


def _checked(
    frame: DataFrame,
    spec: CheckedWrite,
    inputs: list[str],
    values: list[tuple[str, str]],
    failures: list[Failure],
    malformed: Malformed | None,
) -> DataFrame:
    """Every row's values in the contract's types, the code of the first rule it breaks (a malformed
    record's code is `len(failures)`) and, for a failing row, its raw values and reason."""
    q = SPARK.quote
    whens = [f"WHEN {f.sql} THEN {i}" for i, f in enumerate(failures)]
    parse = len(failures)
    if malformed is not None:
        whens.insert(0, f"WHEN {q(malformed.column)} IS NOT NULL THEN {parse}")
    code = f"CASE {' '.join(whens)} END" if whens else "NULL"
    extra = [q(spec.row)] + ([q(spec.file)] if spec.file else [])
    first = frame.selectExpr(
        *(f"{sql} AS {q(_VALUE + str(i))}" for i, (_, sql) in enumerate(values)),
        *extra,
        *(q(n) for n in inputs),
        *([q(malformed.column)] if malformed is not None else []),
        f"CAST({code} AS INT) AS {q(CODE)}",
    )
    failing = f"{q(CODE)} IS NOT NULL" + (f" AND {q(CODE)} <> {parse}" if malformed is not None else "")
    raws = [
        f"CASE WHEN {failing} THEN CAST({q(name)} AS STRING) END AS {q(_RAW + str(i))}"
        for i, name in enumerate(inputs)
    ]
    reason = _reason(failures, inputs)
    if malformed is not None:
        raws.append(f"CASE WHEN {q(CODE)} = {parse} THEN {q(malformed.column)} END AS {q(RAW)}")
        reason = f"CASE WHEN {q(CODE)} = {parse} THEN {SPARK.string(malformed.reason)} ELSE {reason} END"
    return first.selectExpr(
        *(f"{q(_VALUE + str(i))} AS {q(name)}" for i, (name, _) in enumerate(values)),
        *extra,
        q(CODE),
        *raws,
        f"{reason} AS {q(REASON)}",
    )


def _rejected(
    checked: DataFrame,
    spec: CheckedWrite,
    inputs: list[str],
    failures: list[Failure],
    malformed: Malformed | None,
) -> DataFrame:
    """The failing rows of `checked` in the rejected table's layout."""
    from pyspark.sql import functions as F

    q = SPARK.quote
    names: list[str | None] = [name for name, _ in failures_columns(failures)]
    rules = [f.rule.value for f in failures]
    if malformed is not None:
        names.append(None)
        rules.append(PARSE_RULE)
    items = [F.col(q(_RAW + str(i))).alias(name) for i, name in enumerate(inputs)]
    if malformed is not None:
        items.append(F.col(q(RAW)))
    code = F.col(CODE) + 1
    items += [
        F.lit(spec.load_id).alias(LOAD_ID),
        F.col(q(spec.row)).cast("bigint").alias(ROW_INDEX),
        F.element_at(F.array(*(F.lit(n).cast("string") for n in names)), code).alias(FAILED_COLUMN),
        F.element_at(F.array(*(F.lit(r) for r in rules)), code).alias(FAILED_RULE),
        F.col(q(REASON)),
        F.lit(spec.at).alias(REJECTED_AT),
    ]
    if spec.file:
        items.append(F.col(q(spec.file)).alias(FILE))
    return checked.where(F.col(CODE).isNotNull()).select(*items)


def failures_columns(failures: list[Failure]) -> list[tuple[str, Rule]]:
    return [(f.column, f.rule) for f in failures]


def _reason(failures: list[Failure], inputs: list[str]) -> str:
    """The reason of a failing row: the failure's words around the failing column's raw value."""
    if not failures:
        return "CAST(NULL AS STRING)"
    q = SPARK.quote
    present = set(inputs)
    whens = []
    for i, failure in enumerate(failures):
        raw = f"CAST({q(failure.column)} AS STRING)" if failure.column in present else "CAST(NULL AS STRING)"
        shown = (
            f"CASE WHEN char_length({raw}) > {_SHOWN_CHARS} "
            f"THEN concat(substring({raw}, 1, {_SHOWN_CHARS}), {SPARK.string(_ELLIPSIS)}) "
            f"ELSE coalesce({raw}, 'null') END"
        )
        whens.append(
            f"WHEN {i} THEN concat({SPARK.string(failure.prefix)}, {shown}, {SPARK.string(failure.suffix)})"
        )
    return f"CASE {q(CODE)} {' '.join(whens)} END"


def plan(
    contract: Contract, types: dict[str, str], *, contract_name: str
) -> tuple[list[tuple[str, str]], list[Failure]]:
    """Per contract column, the SQL of its value (cast to the contract's type), and every failure in
    the order they are checked. Reads the input columns by name (`types`: their Spark types)."""
    q = SPARK.quote
    values: list[tuple[str, str]] = []
    failures: list[Failure] = []
    for column in contract.columns:
        name = column.name
        target = SPARK.sql_type(column.type)
        raw_type = types.get(name)
        if raw_type is None:
            if not column.nullable:
                raise ContractError(
                    f"the batch lacks required column {name}",
                    contract=contract_name,
                    hint=f"the batch has: {', '.join(types) or 'no columns'}",
                )
            values.append((name, f"CAST(NULL AS {target})"))
            continue
        value, type_failure = _value(column, q(name), raw_type, target)
        values.append((name, value))
        if type_failure is not None:
            failures.append(Failure(name, Rule.TYPE, type_failure, "cannot convert '", f"' to {column.type}"))
        failures.extend(_rules(column, value))
    return values, failures


def _value(column: Column, raw: str, raw_type: str, target: str) -> tuple[str, str | None]:
    """The SQL of the column's value in the contract's type, and of a failed conversion."""
    kind = column.type.kind
    if kind is TypeKind.UUID and raw_type == "binary":
        hexed = f"lower(hex({raw}))"
        parts = [
            f"substring({hexed}, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        ]
        return f"CASE WHEN {raw} IS NULL THEN NULL ELSE concat_ws('-', {', '.join(parts)}) END", None
    if raw_type.lower() == target.lower():
        return raw, None
    value = f"try_cast({raw} AS {target})"
    return value, f"({raw} IS NOT NULL AND {value} IS NULL)"


def _rules(column: Column, value: str) -> list[Failure]:
    name, kind = column.name, column.type.kind
    found: list[Failure] = []
    if kind is TypeKind.UUID:
        pattern = SPARK.string(UUID_PATTERN)
        found.append(
            Failure(
                name,
                Rule.TYPE,
                f"NOT coalesce({value} RLIKE {pattern}, TRUE)",
                "'",
                "' is not a UUID (8-4-4-4-12 hexadecimal digits)",
            )
        )
    if kind is TypeKind.JSON:
        found.append(
            Failure(
                name,
                Rule.TYPE,
                f"({value} IS NOT NULL AND try_parse_json({value}) IS NULL)",
                "'",
                "' is not valid JSON",
            )
        )
    if not column.nullable:
        found.append(
            Failure(name, Rule.NOT_NULL, f"{value} IS NULL", "", " in a column that is not nullable")
        )
    if column.max_length is not None:
        found.append(
            Failure(
                name,
                Rule.MAX_LENGTH,
                f"coalesce(char_length({value}) > {column.max_length}, FALSE)",
                "'",
                f"' is longer than {column.max_length} characters",
            )
        )
    if column.min is not None and kind in _ORDERED:
        op, words = ("<=", "at or below") if column.min_exclusive else ("<", "below")
        found.append(
            Failure(
                name,
                Rule.RANGE,
                f"coalesce({value} {op} {_bound(column.min, column)}, FALSE)",
                "'",
                f"' is {words} the minimum {column.min}",
            )
        )
    if column.max is not None and kind in _ORDERED:
        op, words = (">=", "at or above") if column.max_exclusive else (">", "above")
        nan = f" OR coalesce(isnan({value}), FALSE)" if kind is TypeKind.FLOAT else ""
        found.append(
            Failure(
                name,
                Rule.RANGE,
                f"(coalesce({value} {op} {_bound(column.max, column)}, FALSE){nan})",
                "'",
                f"' is {words} the maximum {column.max}",
            )
        )
    if column.accepted_values is not None:
        shown = ", ".join(str(v) for v in column.accepted_values[:20])
        more = ", ..." if len(column.accepted_values) > 20 else ""
        values = ", ".join(_bound(v, column) for v in column.accepted_values)
        test = (
            f"({value} IS NOT NULL AND NOT coalesce({value} IN ({values}), FALSE))"
            if values
            else f"{value} IS NOT NULL"
        )
        found.append(Failure(name, Rule.ACCEPTED_VALUES, test, "'", f"' is not one of {shown}{more}"))
    if column.pattern is not None:
        found.append(
            Failure(
                name,
                Rule.PATTERN,
                f"NOT coalesce({value} RLIKE {SPARK.string(column.pattern)}, TRUE)",
                "'",
                f"' does not match {column.pattern}",
            )
        )
    return found


def _bound(value: Any, column: Column) -> str:
    """A bound or accepted value as a literal of the column's type."""
    if isinstance(value, bool | int | float):
        return SPARK.literal(value)
    if isinstance(value, Decimal):  # an exact literal (10.50 is DECIMAL(4,2)): a cast could overflow
        return format(value, "f")
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    if column.type.kind in (TypeKind.STRING, TypeKind.UUID, TypeKind.JSON):
        return SPARK.string(text)
    return f"CAST({SPARK.string(text)} AS {SPARK.sql_type(column.type)})"
