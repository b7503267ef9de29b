"""A held destination runs a thread's transactions on one connection; a failed one gives way to a fresh
connection; outside a hold every transaction has its own (issue 21 item 2).

A temporary table lives as long as its connection (session), whatever the transactions: it tells
whether two transactions shared one."""

from __future__ import annotations

import pytest

from datakit.connectors import TableRef
from tests.matrix import Target


def made(dest: Target) -> None:
    with dest.destination.transaction() as tx:
        tx.execute("CREATE TEMPORARY TABLE dk_held_probe (x integer)")


def sees(dest: Target) -> bool:
    with dest.destination.transaction() as tx:
        return bool(tx.columns(TableRef("dk_held_probe", "pg_temp" if dest.kind == "postgres" else "main")))


def test_transactions_share_the_held_connection(dest: Target) -> None:
    with dest.destination.held():
        made(dest)
        assert sees(dest)  # the same session
        with dest.destination.held():  # a nested hold shares it too
            assert sees(dest)
    made(dest)  # unheld: a connection per transaction
    assert not sees(dest)


def test_a_failed_transaction_gives_up_the_held_connection(dest: Target) -> None:
    with dest.destination.held():
        made(dest)
        with pytest.raises(ZeroDivisionError), dest.destination.transaction():
            raise ZeroDivisionError
        assert not sees(dest)  # a fresh connection (the temporary table went with the old one)
        with dest.destination.transaction() as tx:
            assert tx.query("SELECT 1") == [(1,)]


def test_a_transaction_sees_its_own_ddl_through_the_catalog_cache(dest: Target) -> None:
    table = dest.table("dk_cached")
    with dest.destination.held(), dest.destination.transaction() as tx:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {tx.quote(dest.schema)}")
        assert tx.columns(table) == []
        tx.execute(f"CREATE TABLE {tx.quote(dest.schema, 'dk_cached')} (a integer)")
        assert [c.name for c in tx.columns(table)] == ["a"]
        tx.execute(f"ALTER TABLE {tx.quote(dest.schema, 'dk_cached')} ADD COLUMN b integer")
        assert [c.name for c in tx.columns(table)] == ["a", "b"]
    with dest.destination.held(), dest.destination.transaction() as tx:
        assert [c.name for c in tx.columns(table)] == ["a", "b"]
