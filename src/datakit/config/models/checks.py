"""`checks:` files — data-quality checks declared per table, run as SQL that returns the failing rows.

```yaml
checks:
  name: silver_quality
  destination: local_duckdb
  severity: error                     # default of every check below
  tables:
    silver.customer:
      - not_null: [customer_id, email]
      - unique: customer_id           # or [a, b] for a composite key
      - accepted_values: {column: active, values: [0, 1]}
      - relationships: {column: address_id, to: silver.address, field: address_id}
      - row_count: {min: 1}
      - freshness: {column: last_update, max_age: 2d}
      - expression: "active in (0, 1)"
        severity: warn
      - sql: "select * from silver.customer where email not like '%@%'"
        name: emails_have_at
```

Each list item holds exactly one check key (which check it is) next to the keys every check shares
(`severity`, `name`, `description`). The item is a discriminated union chosen by that key, so a
misspelt option is reported against the one check it belongs to, not against every kind of check.
Table and column names are identifiers: the engine quotes them, so they are written exactly as the
database stores them (PostgreSQL folds unquoted names to lowercase when a table is created).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from datakit.config.models.common import (
    SUGGESTED,
    Description,
    DestinationRef,
    Duration,
    Name,
    ReferenceMarker,
    StrictModel,
    Tags,
    format_duration,
)
from datakit.errors import did_you_mean

CheckSeverity = Literal["warn", "error"]

CheckSuiteRef = Annotated[
    str,
    ReferenceMarker("checks"),
    Field(min_length=1, description="A check suite. By the suite's name, or by its file name."),
]

MAX_TABLE_PARTS = 3  # catalog.schema.table (DuckDB may attach databases)


def table_parts(ref: str) -> tuple[str, ...]:
    """`silver.customer` -> `("silver", "customer")`: the identifiers the engine quotes one by one."""
    return tuple(ref.split("."))


def _valid_table(ref: str) -> str:
    parts = table_parts(ref)
    if len(parts) > MAX_TABLE_PARTS or not all(parts):
        raise ValueError(f"invalid table '{ref}': write schema.table (or table, or catalog.schema.table)")
    return ref


TableName = Annotated[
    str,
    AfterValidator(_valid_table),
    Field(
        min_length=1,
        description="A table as schema.table (or table in the default schema); each part is quoted.",
    ),
]
Column = Annotated[str, Field(min_length=1, description="A column name, exactly as stored (it is quoted).")]
SqlText = Annotated[str, Field(min_length=1, description="SQL, used as written.")]


def _one_or_many(value: Any) -> Any:
    """`unique: id` is short for `unique: [id]`."""
    return [value] if isinstance(value, str) else value


class _OrOne:
    """Tells editors (JSON Schema) that a single column name is accepted too."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(schema), {"type": "string", "description": "Short for a list of one."}]}


Columns = Annotated[list[Column], BeforeValidator(_one_or_many), Field(min_length=1), _OrOne()]

Value = str | int | float | bool


class CheckBase(StrictModel):
    """What every check shares; `kind` is the key that selects the check in YAML."""

    kind: ClassVar[str]
    table_level: ClassVar[bool] = False
    """True when the check's one failing row describes the table (row_count), not a row to fix."""
    severity: CheckSeverity | None = Field(None, description="`warn` or `error`; default: the suite's.")
    name: Name | None = Field(None, description="Name of the check in results (default: from its options).")
    description: Description

    def labels(self) -> list[str]:
        """The name of each result this check produces (one, except `not_null` over several columns)."""
        return [self.name or self.default_label()]

    def default_label(self) -> str:
        """The name results get when the check has no `name`: the kind and what sets it apart."""
        return self.kind


class NotNullCheck(CheckBase):
    """Rows where a column is null; one result per column."""

    kind: ClassVar[str] = "not_null"
    not_null: Columns = Field(description="Columns that must never be null.")

    def labels(self) -> list[str]:
        if self.name and len(self.not_null) == 1:
            return [self.name]
        return [f"{self.name or 'not_null'}({column})" for column in self.not_null]


class UniqueCheck(CheckBase):
    """Key values held by more than one row (a list is one composite key)."""

    kind: ClassVar[str] = "unique"
    unique: Columns = Field(description="A column, or the columns of one composite key.")

    def default_label(self) -> str:
        return f"unique({', '.join(self.unique)})"


class AcceptedValues(StrictModel):
    """Options of `accepted_values`."""

    column: Column
    values: list[Value] = Field(min_length=1, description="Every non-null value must be one of these.")


class AcceptedValuesCheck(CheckBase):
    """Rows whose column holds a value outside the list (nulls are left to `not_null`)."""

    kind: ClassVar[str] = "accepted_values"
    accepted_values: AcceptedValues

    def default_label(self) -> str:
        return f"accepted_values({self.accepted_values.column})"


class Relationship(StrictModel):
    """Options of `relationships`: `column` of this table references `field` of the table `to`."""

    column: Column
    to: TableName = Field(description="The referenced table.")
    field: Column | None = Field(None, description="The referenced column (default: the same name).")


class RelationshipsCheck(CheckBase):
    """Rows whose non-null column value has no match in another table (a foreign key, checked)."""

    kind: ClassVar[str] = "relationships"
    relationships: Relationship

    def default_label(self) -> str:
        return f"relationships({self.relationships.column} -> {self.relationships.to})"


class RowCount(StrictModel):
    """Options of `row_count`: bounds, another table to match, or both."""

    min: int | None = Field(None, ge=0, description="Fewest rows allowed.")
    max: int | None = Field(None, ge=0, description="Most rows allowed.")
    equal_to: TableName | None = Field(None, description="Another table that must have as many rows.")

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None and self.equal_to is None:
            raise ValueError("give min, max or equal_to")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RowCountCheck(CheckBase):
    """The table's row count is out of bounds, or differs from another table's."""

    kind: ClassVar[str] = "row_count"
    table_level: ClassVar[bool] = True
    row_count: RowCount

    def default_label(self) -> str:
        bounds = self.row_count.model_dump(exclude_none=True)
        return f"row_count({', '.join(f'{k}={v}' for k, v in bounds.items())})"


class Freshness(StrictModel):
    """Options of `freshness`."""

    column: Column = Field(description="A timestamp (or date) column.")
    max_age: Duration = Field(description="The newest value may be at most this old.")


class FreshnessCheck(CheckBase):
    """The newest value of a timestamp column is older than `max_age` (or the table is empty)."""

    kind: ClassVar[str] = "freshness"
    table_level: ClassVar[bool] = True
    freshness: Freshness

    def default_label(self) -> str:
        return f"freshness({self.freshness.column}, {format_duration(self.freshness.max_age)})"


LABEL_SQL_CHARS = 60


class ExpressionCheck(CheckBase):
    """Rows for which a SQL predicate is not true (false or null)."""

    kind: ClassVar[str] = "expression"
    expression: SqlText = Field(description="A SQL predicate over the table's columns, e.g. `price >= 0`.")

    def default_label(self) -> str:
        text = " ".join(self.expression.split())
        if len(text) > LABEL_SQL_CHARS:
            text = text[: LABEL_SQL_CHARS - 1] + "…"
        return f"expression({text})"


class SqlCheck(CheckBase):
    """Custom SQL: every row it returns is a failure."""

    kind: ClassVar[str] = "sql"
    sql: SqlText = Field(description="A query returning the failing rows.")
    name: Name = Field(description="Name of the check in results (required: SQL has no natural name).")


CHECK_MODELS: tuple[type[CheckBase], ...] = (
    NotNullCheck,
    UniqueCheck,
    AcceptedValuesCheck,
    RelationshipsCheck,
    RowCountCheck,
    FreshnessCheck,
    ExpressionCheck,
    SqlCheck,
)
CHECK_KINDS: dict[str, type[CheckBase]] = {model.kind: model for model in CHECK_MODELS}
_SHARED_KEYS = frozenset(CheckBase.model_fields)


def _tag(kind: str) -> str:
    # Bracketed like Pydantic's own union tags, so the error locator skips it in error paths.
    return f"check[{kind}]"


def _check_tag(value: Any) -> str | None:
    if isinstance(value, CheckBase):
        return _tag(value.kind)
    if isinstance(value, dict):
        for key in value:
            if key in CHECK_KINDS:
                return _tag(key)
    return None


def _one_check(value: Any) -> Any:
    """Each item names exactly one check; say which key is wrong before the union reports anything.

    User text goes into the error's context, never into its message template, and last: Pydantic fills
    the template one context key at a time, so a key named `{suggestion}` must come after `suggestion`.
    """
    expected = ", ".join(CHECK_KINDS)
    if not isinstance(value, dict):
        named = isinstance(value, str) and value in CHECK_KINDS
        hint = f"write `{value}: ...` with its options" if named else f"one of: {expected}"
        raise PydanticCustomError(
            SUGGESTED, "a check is a mapping like `not_null: [column]`", {"suggestion": hint}
        )
    kinds = [key for key in value if key in CHECK_KINDS]
    if len(kinds) > 1:
        raise PydanticCustomError(
            SUGGESTED,
            "one check per item: found both '{first}' and '{second}'",
            {"first": kinds[0], "second": kinds[1], "suggestion": "split them into two list items"},
        )
    if not kinds:
        unknown = [str(key) for key in value if key not in _SHARED_KEYS]
        if unknown:
            hint = did_you_mean(unknown[0], CHECK_KINDS) or f"built-in checks: {expected}"
            raise PydanticCustomError(
                SUGGESTED, "unknown check '{key}'", {"suggestion": hint, "key": unknown[0]}
            )
        raise PydanticCustomError(
            SUGGESTED, "this item has no check", {"suggestion": f"add one of: {expected}"}
        )
    return value


Check = Annotated[
    Annotated[NotNullCheck, Tag(_tag("not_null"))]
    | Annotated[UniqueCheck, Tag(_tag("unique"))]
    | Annotated[AcceptedValuesCheck, Tag(_tag("accepted_values"))]
    | Annotated[RelationshipsCheck, Tag(_tag("relationships"))]
    | Annotated[RowCountCheck, Tag(_tag("row_count"))]
    | Annotated[FreshnessCheck, Tag(_tag("freshness"))]
    | Annotated[ExpressionCheck, Tag(_tag("expression"))]
    | Annotated[SqlCheck, Tag(_tag("sql"))],
    Discriminator(_check_tag),
    BeforeValidator(_one_check),
]


class CheckSuite(StrictModel):
    """Data-quality checks on tables of one destination, run together as one step of a job."""

    name: Name
    description: Description
    tags: Tags
    destination: DestinationRef = Field(description="Where the tables live.")
    severity: CheckSeverity = Field("error", description="Default severity: `error` fails the step.")
    tables: dict[TableName, Annotated[list[Check], Field(min_length=1)]] = Field(
        min_length=1, description="schema.table -> the checks on that table."
    )

    def severity_of(self, check: CheckBase) -> CheckSeverity:
        """The check's own severity, else the suite's."""
        return check.severity or self.severity

    def checks(self) -> list[tuple[str, CheckBase]]:
        """Every (table, check) in file order."""
        return [(table, check) for table, checks in self.tables.items() for check in checks]
