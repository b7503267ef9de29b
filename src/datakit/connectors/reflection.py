"""Contracts from a live database, through SQLAlchemy's inspector: the start of a datakit for a system
you do not own ("reverse-engineer A's schema into SQLModel classes").

What is read: column types, nullability, primary keys, unique constraints and unique indexes (plain
column indexes only), single-column foreign keys, comments, and the rules PostgreSQL states in enums
(accepted values), domains (base type, NOT NULL and CHECKs) and simple CHECK constraints (ranges,
IN lists, `~` patterns). What is skipped: views and materialized views; partitions of a partitioned
table (the parent is reflected, and it is where PostgreSQL keeps the primary key — foreign keys that
exist only on the partitions, as in Pagila's `payment`, are not seen); composite foreign keys and
CHECKs that are not column rules (logged). Types without a logical equivalent (tsvector, inet, ...)
become `string`, their text form.

Sources with a catalog (`SourceCapabilities.catalog`) reflect through `reflect`, which reads their
drivers' errors as they do (a refused login says so); tests and tools call `reflect_database` with a
URL, an engine or a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Inspector

from datakit.contracts.checks import ColumnRules, parse_check
from datakit.contracts.model import Column, Contract, Layer
from datakit.contracts.satypes import MappedType, logical_from_sqlalchemy
from datakit.contracts.sqlmodel_source import build_contract
from datakit.contracts.types import floating

if TYPE_CHECKING:
    from datakit.connectors.errors import ConnectorError

log = logging.getLogger(__name__)

Source = str | sa.URL | sa.Engine | sa.Connection


def reflect(
    url: str,
    schema: str,
    *,
    action: str,
    translate: Callable[[BaseException, str], ConnectorError],
    tables: Sequence[str] | None = None,
    layer: str = "source",
    system: str | None = None,
) -> list[Contract]:
    """`reflect_database` of a source's `url` (with its password: for SQLAlchemy only); driver errors
    read by the source's `translate`."""
    try:
        return reflect_database(url, schema, tables=tables, layer=layer, system=system)
    except sa.exc.DBAPIError as exc:
        raise translate(exc.orig or exc, action) from None


def reflect_database(
    source: Source,
    schema: str,
    *,
    system: str | None = None,
    layer: Layer | str = Layer.SOURCE,
    tables: Sequence[str] | None = None,
) -> list[Contract]:
    """One contract per table of `schema`, in table-name order (or in the order of `tables`)."""
    with _connection(source) as connection:
        inspector = sa.inspect(connection)
        names = _table_names(connection, inspector, schema)
        if tables is not None:
            unknown = sorted(set(tables) - set(names))
            if unknown:
                from datakit.errors import not_found

                raise not_found("table", unknown[0], names)
            names = list(tables)
        domains = _domains(inspector) if connection.dialect.name == "postgresql" else {}
        return [
            _reflect_table(inspector, schema, name, domains, system=system, layer=Layer(layer))
            for name in names
        ]


@contextmanager
def _connection(source: Source) -> Iterator[sa.Connection]:
    if isinstance(source, sa.Connection):
        yield source
        return
    engine = source if isinstance(source, sa.Engine) else sa.create_engine(_with_driver(source))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        if not isinstance(source, sa.Engine):
            engine.dispose()


def _with_driver(url: str | sa.URL) -> sa.URL:
    """`postgresql://` means psycopg 3 here (the driver datakit installs), not SQLAlchemy's psycopg2."""
    parsed = sa.make_url(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


def _table_names(connection: sa.Connection, inspector: Inspector, schema: str) -> list[str]:
    names = set(inspector.get_table_names(schema=schema))
    if connection.dialect.name == "postgresql":
        partitions: sa.ScalarResult[str] = connection.execute(
            sa.text(
                "SELECT c.relname FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relispartition"
            ),
            {"schema": schema},
        ).scalars()
        names -= set(partitions)
    return sorted(names)


def _domains(inspector: Inspector) -> dict[tuple[str | None, str], tuple[bool, ColumnRules]]:
    """(nullable, rules) of every PostgreSQL domain, by (schema, name)."""
    found: dict[tuple[str | None, str], tuple[bool, ColumnRules]] = {}
    for domain in inspector.get_domains(schema="*"):  # type: ignore[attr-defined]
        rules = ColumnRules()
        for constraint in domain["constraints"]:
            parsed = parse_check(constraint["check"], value_name="VALUE")
            if parsed is None or set(parsed) != {"VALUE"}:
                log.info(
                    "domain %s: check %r is not a column rule; ignored", domain["name"], constraint["check"]
                )
                continue
            rules = rules.merge(parsed["VALUE"])
        entry = (bool(domain["nullable"]), rules)
        found[(domain["schema"], domain["name"])] = entry
        if domain.get("visible"):
            found[(None, domain["name"])] = entry
    return found


def _reflect_table(
    inspector: Inspector,
    schema: str,
    table: str,
    domains: dict[tuple[str | None, str], tuple[bool, ColumnRules]],
    *,
    system: str | None,
    layer: Layer,
) -> Contract:
    checks = _check_rules(inspector, schema, table)
    foreign = _foreign_keys(inspector, schema, table)
    columns = []
    for info in inspector.get_columns(table, schema=schema):
        mapped = logical_from_sqlalchemy(info["type"], fallback_to_string=True)
        if inspector.dialect.name == "sqlite" and mapped.type == floating(32):
            mapped = MappedType(floating(64))  # SQLite's REAL is an 8-byte float
        nullable, rules = bool(info["nullable"]), ColumnRules()
        if mapped.domain is not None:
            domain_nullable, rules = domains.get(
                mapped.domain, domains.get((None, mapped.domain[1]), (True, rules))
            )
            nullable = nullable and domain_nullable
        if mapped.native is not None:
            log.info(
                "%s.%s.%s: %s has no logical type; kept as string", schema, table, info["name"], mapped.native
            )
        rules = rules.merge(checks.get(info["name"], ColumnRules()))
        columns.append(_column(f"{schema}.{table}", info, mapped, nullable, rules, foreign.get(info["name"])))
    primary = inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or []
    comment = _table_comment(inspector, schema, table)
    return build_contract(
        name=table,
        schema_name=schema,
        system=system,
        layer=layer,
        columns=columns,
        primary_key=tuple(primary),
        unique=_unique_keys(inspector, schema, table),
        description=comment or None,
    )


def _table_comment(inspector: Inspector, schema: str, table: str) -> str | None:
    try:
        return inspector.get_table_comment(table, schema=schema).get("text")
    except NotImplementedError:  # SQLite keeps no comments
        return None


def _column(
    where: str,
    info: Any,
    mapped: MappedType,
    nullable: bool,
    rules: ColumnRules,
    foreign_key: str | None,
) -> Column:
    base: dict[str, Any] = {
        "name": info["name"],
        "type": mapped.type,
        "nullable": nullable,
        "max_length": mapped.max_length,
        "accepted_values": mapped.accepted_values,
        "description": info.get("comment") or None,
        "foreign_key": foreign_key,
    }
    ruled = {
        **base,
        "max_length": mapped.max_length or rules.max_length,
        "accepted_values": mapped.accepted_values or rules.accepted_values,
        "pattern": rules.pattern,
    }
    if rules.min is not None:
        ruled.update(min=rules.min, min_exclusive=rules.min_exclusive)
    if rules.max is not None:
        ruled.update(max=rules.max, max_exclusive=rules.max_exclusive)
    try:
        return Column.model_validate(ruled)
    except ValidationError as exc:  # a CHECK that does not fit the column's type is not a column rule
        log.warning("%s.%s: CHECK rules ignored (%s)", where, info["name"], exc.errors()[0]["msg"])
        return Column.model_validate(base)


def _check_rules(inspector: Inspector, schema: str, table: str) -> dict[str, ColumnRules]:
    rules: dict[str, ColumnRules] = {}
    for check in inspector.get_check_constraints(table, schema=schema):
        parsed = parse_check(check["sqltext"])
        if parsed is None:
            log.info("%s.%s: check %s is not a column rule; ignored", schema, table, check.get("name"))
            continue
        for column, found in parsed.items():
            rules[column] = rules.get(column, ColumnRules()).merge(found)
    return rules


def _foreign_keys(inspector: Inspector, schema: str, table: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for fk in inspector.get_foreign_keys(table, schema=schema):
        local, remote = fk["constrained_columns"], fk["referred_columns"]
        if len(local) != 1:
            log.warning(
                "%s.%s: composite foreign key %s is not represented; skipped", schema, table, fk.get("name")
            )
            continue
        target_schema = fk.get("referred_schema")
        parts = [fk["referred_table"], remote[0]]
        if target_schema and target_schema != schema:
            parts.insert(0, target_schema)
        found[local[0]] = ".".join(parts)
    return found


def _unique_keys(inspector: Inspector, schema: str, table: str) -> list[tuple[str, ...]]:
    keys = [tuple(c["column_names"]) for c in inspector.get_unique_constraints(table, schema=schema)]
    for index in inspector.get_indexes(table, schema=schema):
        expressions = index.get("expressions") or []
        partial = (index.get("dialect_options") or {}).get("postgresql_where")
        if not index["unique"] or index.get("duplicates_constraint") or partial or any(expressions):
            continue
        columns = index["column_names"]
        if all(name is not None for name in columns):
            keys.append(tuple(str(name) for name in columns))
    return keys
