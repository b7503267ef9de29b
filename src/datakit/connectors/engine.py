"""What a database engine says its own way: one `Engine` per destination kind, behind one base class.

Everything above `connectors/` asks the engine of a destination (`Destination.engine`, the same as
`Transaction.engine`) instead of branching on its name: how to quote, spell a literal or a type, read a
catalog type back, create a contract's tables, make a temporary table, lock. The base class speaks the
SQL that DuckDB and PostgreSQL share; each engine's folder (`connectors/engines/<name>/`) overrides
what differs, and a new engine overrides what it needs. The loader's statements (stage, merge, history,
rejected rows) are built on these in `datakit.connectors.writes`; an engine whose SQL cannot express
them (no UPDATE ... FROM) replaces that class through `Engine.writes`.

Values from config are literals and names are quoted identifiers, never pasted text: a column called
`email"; drop table x; --` is a (strange) column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from datakit.connectors.base import TableRef
from datakit.connectors.sqltypes import parse_sql_type

if TYPE_CHECKING:
    from datakit.connectors.base import Transaction
    from datakit.connectors.writes import Writes
    from datakit.contracts.model import Column, Contract, Layer, LayerRules
    from datakit.contracts.types import LogicalType

Value = bool | int | float | str
"""A constant from config (accepted values, bounds) to spell as a SQL literal."""


class Engine:
    """The SQL of one database engine. Stateless: one instance per engine serves every connection."""

    name: ClassVar[str]
    """The destination `type:` and sqlglot's name for the dialect (`duckdb`, `postgres`)."""
    title: ClassVar[str]
    """The engine's name in messages (`DuckDB`, `PostgreSQL`)."""
    default_schema: ClassVar[str]
    """Where a table named without a schema lives (the connection's default)."""
    failure_words: ClassVar[tuple[str, ...]] = (
        "could not connect",
        "connection refused",
        "connection reset",
        "timeout expired",
    )
    """Lower-cased words of a failure another attempt may not meet, in this engine's error messages.

    Only for errors that reach datakit as text: dbt wraps its adapter's driver errors into messages.
    Errors datakit's own connectors raise are classified by type and code (each folder's `errors.py`).
    """
    drivers: ClassVar[tuple[str, ...]] = ()
    """The driver modules its destination imports when it connects (a step server imports them ahead)."""
    keeps_lengths: ClassVar[bool] = False
    """VARCHAR(n) limits values (PostgreSQL); otherwise the length is a CHECK (DuckDB ignores n)."""
    late_foreign_keys: ClassVar[bool] = True
    """A foreign key can be added to an existing table (so contracts may reference each other in a cycle)."""
    unknown_type: ClassVar[LogicalType | None] = None
    """The logical type of a catalog type outside the shared names (None: no equivalent, i.e. drift)."""
    validates_rows: ClassVar[bool] = False
    """Rows are validated by the engine, as its own expressions where its workers hold them (Spark's
    executors), through `ValidatingTransaction.write_checked`; otherwise the loader validates Arrow
    batches before `Transaction.write`."""

    def __repr__(self) -> str:
        return f"<engine {self.name}>"

    def transient_message(self, text: str) -> bool:
        """Whether an error message of this engine (as dbt passes it on) says "try again": the
        database was unreachable or busy, not the SQL wrong."""
        lowered = text.lower()
        return any(word in lowered for word in self.failure_words)

    # -- identifiers and literals -------------------------------------------------------------------

    def quote(self, *parts: str) -> str:
        """A dotted, quoted identifier (`"schema"."table"`): double quotes, embedded ones doubled."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    def table(self, table: TableRef) -> str:
        """The quoted name of `table` (schema-qualified when it has a schema)."""
        return self.quote(table.schema, table.name) if table.schema else self.quote(table.name)

    def literal(self, value: Value) -> str:
        """A constant from config as a SQL literal."""
        if isinstance(value, bool):  # before int: bool is an int
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return repr(value)
            return f"CAST('{value!r}' AS DOUBLE PRECISION)"  # 'nan', 'inf', '-inf'
        return self.string(value)

    def string(self, text: str) -> str:
        """A string literal (quotes doubled)."""
        return "'" + text.replace("'", "''") + "'"

    def timestamp(self, at: datetime) -> str:
        """An instant as a literal of the engine's zoned timestamp type."""
        return f"CAST('{at.isoformat(sep=' ')}' AS {self.timestamptz})"

    def older_than(self, max_age: timedelta) -> str:
        """The instant `max_age` before the database's clock (the clock that stamped the rows)."""
        seconds = max_age.total_seconds()
        amount = str(int(seconds)) if seconds.is_integer() else repr(seconds)
        return f"current_timestamp - interval '{amount} seconds'"

    def regex_match(self, ref: str, pattern: str) -> str:
        """SQL true when the value of `ref` contains a match of the literal `pattern` (a search)."""
        return f"{ref} ~ {pattern}"

    # -- types --------------------------------------------------------------------------------------

    @property
    def timestamptz(self) -> str:
        from datakit.contracts.types import TypeKind, simple

        return self.sql_type(simple(TypeKind.TIMESTAMPTZ))

    def sql_type(self, logical: LogicalType, *, max_length: int | None = None) -> str:
        """The type to declare for a column of `logical` type (and `max_length`, where the engine keeps
        lengths)."""
        raise NotImplementedError(f"{type(self).__name__}.sql_type")

    def logical_type(self, native: str) -> tuple[LogicalType | None, int | None]:
        """(logical type, max_length) of a type as this engine's catalog spells it; the inverse of
        `sql_type`, so a column declared from a contract reads back as the contract's type."""
        return parse_sql_type(native, self.unknown_type)

    def same_type(
        self, want: LogicalType, have: LogicalType, *, lengths: tuple[int | None, int | None] = (None, None)
    ) -> bool:
        """Whether two logical types (with their max lengths) are stored alike here: DuckDB keeps
        `decimal` as DECIMAL(38,9), and ignores lengths."""
        want_length, have_length = lengths if self.keeps_lengths else (None, None)
        return self.sql_type(want, max_length=want_length) == self.sql_type(have, max_length=have_length)

    def column_sql(self, name: str, logical: LogicalType, *, nullable: bool = True) -> str:
        """`"name" TYPE [NOT NULL]`, for the loader's own tables."""
        return f"{self.quote(name)} {self.sql_type(logical)}{'' if nullable else ' NOT NULL'}"

    # -- DDL of contracts ---------------------------------------------------------------------------

    def create_schema_sql(self, schema: str) -> str:
        """`CREATE SCHEMA IF NOT EXISTS` for `schema`, quoted."""
        return f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}"

    def create_tables_sql(
        self,
        contracts: Sequence[Contract],
        schema: str,
        *,
        layer_rules: LayerRules | Layer | str | None = None,
    ) -> list[str]:
        """Statements creating the contracts' tables in `schema`, referenced tables first (see `ddl`)."""
        from datakit.connectors.ddl import create_tables_sql

        return create_tables_sql(self, contracts, schema, layer_rules=layer_rules)

    def check_sql(self, column: Column) -> str | None:
        """The CHECK expression enforcing `column`'s rules (and, where VARCHAR(n) is ignored, its length)."""
        from datakit.contracts.checks import rule_sql
        from datakit.contracts.types import TypeKind

        parts = rule_sql(column, match=self.regex_match)
        if column.max_length is not None and not self.keeps_lengths and column.type.kind is TypeKind.STRING:
            parts.append(f"length({self.quote(column.name)}) <= {column.max_length}")
        return " AND ".join(parts) or None

    # -- what the loader needs besides plain SQL ----------------------------------------------------

    def writes(self) -> Writes:
        """The loader's statements on this engine (stage, dispositions, history, rejected rows)."""
        from datakit.connectors.writes import Writes

        return Writes(self)

    def create_temp_table(self, tx: Transaction, name: str, body: str) -> TableRef:
        """A temporary table `name (body)`, gone at the end of the transaction or the connection."""
        tx.execute(f"CREATE TEMPORARY TABLE {self.quote(name)} ({body})")
        return TableRef(name)

    def create_stage(
        self, tx: Transaction, name: str, target: TableRef, columns: Sequence[str], row: str
    ) -> TableRef:
        """A temporary table with `columns` of `target` (same types) and a BIGINT `row` column.

        Declared column by column. DuckDB 2.0 has a bug: a table made by `CREATE TABLE AS ... WHERE
        1 = 0` and then filled by a large Arrow insert reads as empty to aggregates and joins in the
        same transaction (the stage of a 1M-row merge merged nothing); a declared table does not.
        """
        types = {column.name: column.db_type for column in tx.columns(target)}
        body = ", ".join(f"{self.quote(c)} {types[c]}" for c in columns)
        return self.create_temp_table(tx, name, f"{body}, {self.quote(row)} BIGINT")

    def prepare_join(self, tx: Transaction, table: TableRef) -> None:
        """Ready a freshly filled (temporary) table to be joined: statistics, memory. Nothing by default."""

    def lock_setup(self, tx: Transaction) -> None:
        """Serialise concurrent set-ups of schemas and state tables (CREATE ... IF NOT EXISTS races).

        Nothing by default: an engine with one writer at a time has no race."""

    def create_load_ids(self, tx: Transaction, loads: TableRef) -> None:
        """Ready `next_load_id` for the load records `loads` (created, or given its `id` column). Nothing
        by default: the largest id + 1 needs nothing."""

    def next_load_id(self, tx: Transaction, loads: TableRef) -> int:
        """A new integer id for a load record of `loads`, inside the load's transaction (its bronze rows
        carry it as `_dk_load_id`). By default the largest id + 1: right where one transaction at a time
        writes (a DuckDB file, Spark's versions); an engine with concurrent loads uses a sequence."""
        ((top,),) = tx.query(f"SELECT max({self.quote('id')}) FROM {self.table(loads)}")
        return int(top or 0) + 1

    def lock_loads(self, tx: Transaction, table: TableRef) -> None:
        """Wait for transactions that have written to `table` (the load records) to end. Nothing by
        default: see `datakit.load.state.committed_load`."""

    def dependent_views(self, tx: Transaction, table: TableRef) -> list[str]:
        """The views (`schema.name`) that would block dropping `table`. None by default: DuckDB binds a
        view when it is read, so a table dropped and created again serves its views as before."""
        del tx, table
        return []
