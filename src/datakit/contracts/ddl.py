"""CREATE TABLE statements for DuckDB and PostgreSQL, from contracts.

The statements are built as SQLAlchemy `Table`s and compiled, so quoting, constraint syntax and the
order of dependent tables are SQLAlchemy's; only the column type names are ours (`sqltypes.py`), so that
the DDL and drift detection agree on what a logical type looks like in each engine. Every identifier is
quoted: source systems have columns called `order` or `Name`.

What each layer enforces (`LayerRules.for_layer`):

* bronze — column types and NOT NULL only. Bronze keeps every version of a row (append, history) and
  loads in parallel, so primary keys, unique keys and foreign keys cannot hold there; the loader has
  already validated each row against the contract, so CHECKs would only slow COPY down. The contract's
  keys still drive merges; they are just not enforced by the database.
* silver, gold and source — everything: primary key, NOT NULL, unique keys, foreign keys, and CHECKs
  for ranges, accepted values, patterns (PostgreSQL `~`, DuckDB `regexp_matches`, both a search) and,
  in DuckDB (which ignores VARCHAR(n)), max length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.ddl import sort_tables_and_constraints
from sqlalchemy.sql.elements import quoted_name

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Column, Contract, Layer
from datakit.contracts.naming import MAX_IDENTIFIER_BYTES
from datakit.contracts.sqltypes import Dialect, sql_type
from datakit.contracts.types import TypeKind


@dataclass(frozen=True)
class LayerRules:
    """Which of a contract's rules the database itself enforces."""

    primary_key: bool = True
    not_null: bool = True
    unique: bool = True
    foreign_keys: bool = True
    checks: bool = True
    comments: bool = True

    @classmethod
    def for_layer(cls, layer: Layer | str) -> LayerRules:
        if Layer(layer) is Layer.BRONZE:
            return cls(primary_key=False, unique=False, foreign_keys=False, checks=False)
        return cls()


class _SqlType(sa.types.UserDefinedType[Any]):
    """A column type spelled exactly as `sqltypes.sql_type` says."""

    cache_ok = True

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl

    def get_col_spec(self, **_: Any) -> str:
        return self.ddl


_COMPILER_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]  # DuckDB speaks PostgreSQL's DDL and quoting for all we emit


def create_schema_sql(schema: str) -> str:
    """`CREATE SCHEMA IF NOT EXISTS` for `schema`, quoted."""
    return f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}"


def create_table_sql(
    contract: Contract,
    dialect: Dialect | str,
    schema: str,
    *,
    layer_rules: LayerRules | Layer | str | None = None,
) -> list[str]:
    """The statements creating `contract`'s table in `schema` (the CREATE TABLE, then any comments).

    `layer_rules` defaults to the rules of the contract's layer. Foreign keys to tables outside this one
    contract are emitted as they are; the referenced tables must exist when the statements run.
    """
    return create_tables_sql([contract], dialect, schema, layer_rules=layer_rules)


def create_tables_sql(
    contracts: Sequence[Contract],
    dialect: Dialect | str,
    schema: str,
    *,
    layer_rules: LayerRules | Layer | str | None = None,
) -> list[str]:
    """Statements creating several tables, ordered so that referenced tables come first.

    Foreign keys in a cycle are added afterwards with ALTER TABLE in PostgreSQL; DuckDB cannot add a
    foreign key to an existing table, so there a cycle is a ContractError.
    """
    dialect = Dialect(dialect)
    metadata = sa.MetaData()
    tables: dict[str, tuple[sa.Table, Contract]] = {}
    for contract in contracts:
        rules = _rules(contract, layer_rules)
        if contract.name in tables:
            raise ContractError("two contracts for one table", contract=contract.name)
        tables[contract.name] = (_table(metadata, contract, dialect, schema, rules), contract)
    for table, contract in tables.values():
        if _rules(contract, layer_rules).foreign_keys:
            _add_foreign_keys(metadata, table, contract, schema)
    statements: list[str] = []
    deferred: list[sa.ForeignKeyConstraint] = []
    ours = {table for table, _ in tables.values()}
    ordered = sort_tables_and_constraints([table for table, _ in tables.values()])  # type: ignore[no-untyped-call]
    for table, inline in ordered:
        if table is None:  # foreign keys in a cycle, to add once all tables exist
            deferred.extend(inline)
        elif table in ours:
            statements.append(_compile(sa.schema.CreateTable(table, include_foreign_key_constraints=inline)))
    if deferred:
        if dialect is Dialect.DUCKDB:
            names = sorted({f"{c.table.name}->{c.referred_table.name}" for c in deferred})
            raise ContractError(
                f"foreign keys form a cycle ({', '.join(names)}); "
                "DuckDB cannot add them once the tables exist",
                hint="drop one foreign key of the cycle from the contracts, or deploy silver to PostgreSQL",
            )
        statements.extend(_compile(sa.schema.AddConstraint(constraint)) for constraint in deferred)
    for table, contract in tables.values():
        if _rules(contract, layer_rules).comments:
            statements.extend(_comments(table, contract))
    return statements


def _rules(contract: Contract, layer_rules: LayerRules | Layer | str | None) -> LayerRules:
    if isinstance(layer_rules, LayerRules):
        return layer_rules
    return LayerRules.for_layer(layer_rules if layer_rules is not None else contract.layer)


def _table(
    metadata: sa.MetaData, contract: Contract, dialect: Dialect, schema: str, rules: LayerRules
) -> sa.Table:
    columns = [
        sa.Column(
            quoted_name(column.name, quote=True),
            _SqlType(sql_type(column.type, dialect, max_length=column.max_length)),
            # a primary key is NOT NULL whatever the rules say (PostgreSQL insists)
            nullable=(column.nullable or not rules.not_null)
            and not (column.primary_key and rules.primary_key),
            comment=column.description,
        )
        for column in contract.columns
    ]
    constraints: list[sa.Constraint] = []
    if rules.primary_key and contract.primary_key:
        constraints.append(
            sa.PrimaryKeyConstraint(*contract.primary_key, name=_constraint_name(contract.name, "pkey"))
        )
    if rules.unique:
        constraints.extend(
            sa.UniqueConstraint(*key, name=_constraint_name(contract.name, *key, "key"))
            for key in contract.unique
        )
    if rules.checks:
        for column in contract.columns:
            sql = check_sql(column, dialect)
            if sql is not None:
                name = _constraint_name(contract.name, column.name, "check")
                constraints.append(sa.CheckConstraint(sa.literal_column(sql), name=name))
    return sa.Table(
        quoted_name(contract.name, quote=True),
        metadata,
        *columns,
        *constraints,
        schema=quoted_name(schema, quote=True),
        comment=contract.description,
    )


def _add_foreign_keys(metadata: sa.MetaData, table: sa.Table, contract: Contract, schema: str) -> None:
    for column in contract.columns:
        reference = column.references
        if reference is None:
            continue
        ref_schema, ref_table, ref_column = reference
        target = _referenced_table(metadata, ref_schema or schema, ref_table, ref_column)
        table.append_constraint(
            sa.ForeignKeyConstraint(
                [table.c[column.name]],
                [target.c[ref_column]],
                name=_constraint_name(contract.name, column.name, "fkey"),
            )
        )


def _referenced_table(metadata: sa.MetaData, schema: str, name: str, column: str) -> sa.Table:
    """The referenced table, or a stub naming it when it is not among the contracts being deployed."""
    key = f"{schema}.{name}"
    table = metadata.tables.get(key)
    if table is None:
        table = sa.Table(
            quoted_name(name, quote=True),
            metadata,
            schema=quoted_name(schema, quote=True),
            info={"stub": True},
        )
    if column not in table.c:
        if not table.info.get("stub"):
            raise ContractError(f"foreign key to {name}.{column}, but {name} has no column {column!r}")
        table.append_column(sa.Column(quoted_name(column, quote=True), _SqlType("INTEGER")))
    return table


def _comments(table: sa.Table, contract: Contract) -> Iterable[str]:
    if contract.description:
        yield _compile(sa.schema.SetTableComment(table))
    for column in table.columns:
        if column.comment:
            yield _compile(sa.schema.SetColumnComment(column))


def _compile(element: sa.schema.ExecutableDDLElement) -> str:
    return str(element.compile(dialect=_COMPILER_DIALECT)).strip()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _constraint_name(table: str, *parts: str) -> quoted_name:
    """`<table>_<parts>` like PostgreSQL's own names, shortened with a hash past 63 bytes."""
    name = "_".join((table, *parts))
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name.encode()[: MAX_IDENTIFIER_BYTES - 9].decode(errors='ignore')}_{digest}"
    return quoted_name(name, quote=True)


# -- CHECK constraints for a column's rules ------------------------------------------------------------------


def check_sql(column: Column, dialect: Dialect) -> str | None:
    """The CHECK expression enforcing `column`'s range, accepted values, pattern (and in DuckDB, length).

    `checks.parse_check` reads these back, so a deployed contract reflects to itself.
    """
    ref = _quote(column.name)
    parts: list[str] = []
    if column.min is not None:
        parts.append(f"{ref} {'>' if column.min_exclusive else '>='} {_literal(column.min)}")
    if column.max is not None:
        parts.append(f"{ref} {'<' if column.max_exclusive else '<='} {_literal(column.max)}")
    if column.accepted_values is not None:
        parts.append(f"{ref} IN ({', '.join(_literal(value) for value in column.accepted_values)})")
    if column.pattern is not None:
        pattern = _literal(column.pattern)
        parts.append(
            f"{ref} ~ {pattern}" if dialect is Dialect.POSTGRES else f"regexp_matches({ref}, {pattern})"
        )
    if column.max_length is not None and dialect is Dialect.DUCKDB and column.type.kind is TypeKind.STRING:
        parts.append(f"length({ref}) <= {column.max_length}")
    return " AND ".join(parts) or None


def _literal(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError("no boolean rule values")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return _string(value.isoformat(sep=" "))
    if isinstance(value, date | time):
        return _string(value.isoformat())
    return _string(str(value))


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
