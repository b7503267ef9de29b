"""CREATE TABLE statements from contracts, in the spelling of an `Engine`.

The statements are built as SQLAlchemy `Table`s and compiled, so quoting, constraint syntax and the
order of dependent tables are SQLAlchemy's; the column types and CHECK expressions are the engine's
(`Engine.sql_type`, `Engine.check_sql`), so that the DDL and drift detection agree on what a logical
type looks like. SQLAlchemy's PostgreSQL compiler writes them: DuckDB speaks PostgreSQL's DDL and
quoting for all we emit (an engine that does not overrides `Engine.create_tables_sql`). Every identifier
is quoted: source systems have columns called `order` or `Name`. What each layer enforces:
`datakit.contracts.model.LayerRules`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.ddl import sort_tables_and_constraints
from sqlalchemy.sql.elements import quoted_name

from datakit.contracts.errors import ContractError
from datakit.contracts.model import Contract, Layer, LayerRules
from datakit.contracts.naming import MAX_IDENTIFIER_BYTES

if TYPE_CHECKING:
    from datakit.connectors.engine import Engine


class _SqlType(sa.types.UserDefinedType[Any]):
    """A column type spelled exactly as `Engine.sql_type` says."""

    cache_ok = True

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl

    def get_col_spec(self, **_: Any) -> str:
        return self.ddl


_COMPILER_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]  # DuckDB speaks PostgreSQL's DDL and quoting for all we emit


def create_tables_sql(
    engine: Engine,
    contracts: Sequence[Contract],
    schema: str,
    *,
    layer_rules: LayerRules | Layer | str | None = None,
) -> list[str]:
    """Statements creating `contracts`' tables in `schema`, referenced tables first, then comments.

    `layer_rules` defaults to each contract's layer's. Foreign keys to tables outside these contracts are
    emitted as they are (the referenced tables must exist when the statements run). Foreign keys in a
    cycle are added afterwards with ALTER TABLE; an engine that cannot (`late_foreign_keys`, DuckDB)
    makes a cycle a ContractError.
    """
    metadata = sa.MetaData()
    tables: dict[str, tuple[sa.Table, Contract]] = {}
    for contract in contracts:
        rules = _rules(contract, layer_rules)
        if contract.name in tables:
            raise ContractError("two contracts for one table", contract=contract.name)
        tables[contract.name] = (_table(metadata, contract, engine, schema, rules), contract)
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
        if not engine.late_foreign_keys:
            names = sorted({f"{c.table.name}->{c.referred_table.name}" for c in deferred})
            raise ContractError(
                f"foreign keys form a cycle ({', '.join(names)}); "
                f"{engine.title} cannot add them once the tables exist",
                hint="drop one foreign key of the cycle from the contracts, or deploy silver to another "
                "destination",
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
    metadata: sa.MetaData, contract: Contract, engine: Engine, schema: str, rules: LayerRules
) -> sa.Table:
    columns = [
        sa.Column(
            quoted_name(column.name, quote=True),
            _SqlType(engine.sql_type(column.type, max_length=column.max_length)),
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
            sql = engine.check_sql(column)
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


def _constraint_name(table: str, *parts: str) -> quoted_name:
    """`<table>_<parts>` like PostgreSQL's own names, shortened with a hash past 63 bytes."""
    name = "_".join((table, *parts))
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name.encode()[: MAX_IDENTIFIER_BYTES - 9].decode(errors='ignore')}_{digest}"
    return quoted_name(name, quote=True)
