"""PostgreSQL's SQL: its type names, string escapes, temporary tables, locks (see `connectors.engine`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datakit.connectors.base import TableRef
from datakit.connectors.engine import Engine
from datakit.contracts.types import LogicalType, TypeKind, string

if TYPE_CHECKING:
    from datakit.connectors.base import Transaction

_TYPES = {
    TypeKind.STRING: "TEXT",
    TypeKind.BOOLEAN: "BOOLEAN",
    TypeKind.DATE: "DATE",
    TypeKind.TIME: "TIME",
    TypeKind.TIMESTAMP: "TIMESTAMP",
    TypeKind.TIMESTAMPTZ: "TIMESTAMPTZ",
    TypeKind.BINARY: "BYTEA",
    TypeKind.JSON: "JSONB",
    TypeKind.UUID: "UUID",
    TypeKind.INTERVAL: "INTERVAL",
}
_INTEGERS = {16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}
_FLOATS = {32: "REAL", 64: "DOUBLE PRECISION"}
STAGE_WORK_MEM = "256MB"
SETUP_LOCK = 0x64_6B_73  # "dks": one advisory lock for every datakit set-up in a database


class PostgresEngine(Engine):
    """PostgreSQL: VARCHAR(n) enforced, unconstrained NUMERIC, temporary tables in `pg_temp`.

    Every PostgreSQL value has a text form, and that is how bronze stores types without a logical
    equivalent (tsvector, inet, xml, enums, ...): they read back as `string`.
    """

    name = "postgres"
    title = "PostgreSQL"
    default_schema = "public"
    drivers = ("psycopg",)
    failure_words = (
        *Engine.failure_words,
        "connection to server",
        "server closed the connection",
        "terminating connection",
        "the database system is starting up",
        "the database system is shutting down",
        "too many connections",
        "could not serialize access",
        "deadlock detected",
    )
    keeps_lengths = True
    unknown_type = string()

    def sql_type(self, logical: LogicalType, *, max_length: int | None = None) -> str:
        kind = logical.kind
        if kind is TypeKind.INTEGER:
            return _INTEGERS[logical.bits or 32]
        if kind is TypeKind.FLOAT:
            return _FLOATS[logical.bits or 64]
        if kind is TypeKind.DECIMAL:
            return "NUMERIC" if logical.precision is None else f"NUMERIC({logical.precision},{logical.scale})"
        if kind is TypeKind.ARRAY:
            assert logical.item is not None
            return f"{self.sql_type(logical.item)}[]"
        if kind is TypeKind.STRING and max_length is not None:
            return f"VARCHAR({max_length})"
        return _TYPES[kind]

    def string(self, text: str) -> str:
        """An E'' string when backslashes occur, so that the result does not depend on the server's
        `standard_conforming_strings`."""
        quoted = text.replace("'", "''")
        if "\\" in text:
            return "E'" + quoted.replace("\\", "\\\\") + "'"
        return "'" + quoted + "'"

    def create_temp_table(self, tx: Transaction, name: str, body: str) -> TableRef:
        """In `pg_temp`, dropped at commit: no WAL, and nothing left if the connection is reused."""
        tx.execute(f"CREATE TEMPORARY TABLE {self.quote(name)} ({body}) ON COMMIT DROP")
        return TableRef(name, "pg_temp")

    def create_stage(
        self, tx: Transaction, name: str, target: TableRef, columns: Sequence[str], row: str
    ) -> TableRef:
        items = ", ".join(self.quote(c) for c in columns)
        select = (
            f"SELECT {items}, CAST(NULL AS BIGINT) AS {self.quote(row)} FROM {self.table(target)} WHERE 1 = 0"
        )
        tx.execute(f"CREATE TEMPORARY TABLE {self.quote(name)} ON COMMIT DROP AS {select}")
        return TableRef(name, "pg_temp")

    def prepare_join(self, tx: Transaction, table: TableRef) -> None:
        """Statistics, and memory for in-memory hashes.

        PostgreSQL never auto-analyzes temporary tables, so without ANALYZE it plans joins blind; and the
        default work_mem (4MB) makes the hashes of a million-row stage spill to disk (measured on a 1M-row
        re-merge: UPDATE 4.5 s -> 2.8 s, INSERT 2.6 s -> 1.0 s). `SET LOCAL` ends with the transaction.
        """
        tx.execute(f"ANALYZE {self.table(table)}")
        tx.execute(f"SET LOCAL work_mem = '{STAGE_WORK_MEM}'")

    def lock_setup(self, tx: Transaction) -> None:
        """An advisory lock: CREATE ... IF NOT EXISTS is not safe against a concurrent twin here."""
        tx.query("SELECT pg_advisory_xact_lock($1)", [SETUP_LOCK])

    def create_load_ids(self, tx: Transaction, loads: TableRef) -> None:
        """A sequence beside the load records (`<table>_id_seq`), past any id they hold: loads into one
        database run concurrently, and a sequence hands out ids without making them wait on each other
        (the largest id + 1 would need a lock held until each load commits)."""
        sequence = self._load_ids(loads)
        tx.execute(f"CREATE SEQUENCE IF NOT EXISTS {self.table(sequence)}")
        tx.query(
            f"SELECT setval(CAST($1 AS regclass), coalesce(max({self.quote('id')}), 0) + 1, false) "
            f"FROM {self.table(loads)}",
            [self.table(sequence)],
        )

    def next_load_id(self, tx: Transaction, loads: TableRef) -> int:
        """The next value of the load records' sequence (`create_load_ids`); a rolled-back load leaves a
        gap, which is harmless: ids only need to be unique and to grow."""
        ((value,),) = tx.query("SELECT nextval(CAST($1 AS regclass))", [self.table(self._load_ids(loads))])
        return int(value)

    @staticmethod
    def _load_ids(loads: TableRef) -> TableRef:
        return TableRef(f"{loads.name}_id_seq", loads.schema)

    def dependent_views(self, tx: Transaction, table: TableRef) -> list[str]:
        """Views (and materialized views) reading `table`: PostgreSQL refuses to drop it under them (dbt's
        staging views over bronze, typically)."""
        rows = tx.query(
            "SELECT DISTINCT vn.nspname || '.' || v.relname FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid "
            "JOIN pg_class v ON v.oid = r.ev_class "
            "JOIN pg_namespace vn ON vn.oid = v.relnamespace "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
            "WHERE d.classid = 'pg_rewrite'::regclass AND tn.nspname = $1 AND t.relname = $2 "
            "AND v.oid <> t.oid ORDER BY 1",
            [table.schema or self.default_schema, table.name],
        )
        return [str(row[0]) for row in rows]

    def lock_loads(self, tx: Transaction, table: TableRef) -> None:
        """A SHARE lock waits for every transaction that has written to `table` to end: the COMMIT of a
        killed run may still be in flight (the server finishes a COMMIT its client sent before dying)."""
        tx.execute(f"LOCK TABLE {self.table(table)} IN SHARE MODE")


POSTGRES = PostgresEngine()
ENGINE = POSTGRES
"""The engine this folder serves, under the name `engines.engine_of` looks for."""
