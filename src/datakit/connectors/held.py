"""What a destination keeps between its transactions: one held connection, and a transaction's catalog.

A small resource's load is mostly fixed costs (issue 21): opening a connection (DuckDB reads the file
and checkpoints it on close, ~80 ms; PostgreSQL authenticates) and asking the catalog the same question
again (DuckDB's `information_schema` ~8 ms a look). So:

- `HeldConnection`: while a step holds its destination (`Destination.held()`), every transaction of the
  holding thread runs on one connection: BEGIN ... COMMIT, not connect ... close. Another thread still
  gets a connection of its own (a held connection is never shared across threads), and a transaction
  that fails closes the held connection (a PostgreSQL connection may be broken, a DuckDB one aborted):
  the next transaction opens a fresh one.
- `CatalogCache`: the columns of each table a transaction asked for, kept until the transaction runs a
  statement that may change a catalog (anything but plain reads and row changes), and dropped with the
  transaction. Within one transaction nothing but that transaction changes what it sees of its own
  tables, so the cache answers exactly as the catalog would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from datakit.connectors.base import Column, TableRef

C = TypeVar("C")

_ROW_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "SELECT", "WITH", "MERGE", "SET", "RESET", "LOCK", "COPY")
"""Statements that change no table's columns: they keep a transaction's catalog cache."""


class CatalogCache:
    """The columns of the tables one transaction looked up (see the module docstring)."""

    def __init__(self) -> None:
        self._columns: dict[TableRef, list[Column]] = {}

    def columns(self, table: TableRef, look_up: Callable[[], list[Column]]) -> list[Column]:
        """`table`'s columns, asked of the catalog (`look_up`) once until a statement may change them."""
        found = self._columns.get(table)
        if found is None:
            found = self._columns[table] = look_up()
        return list(found)

    def ran(self, sql: str) -> None:
        """`sql` ran in the transaction: forget everything if it may have changed a catalog."""
        if self._columns and not sql.lstrip().upper().startswith(_ROW_STATEMENTS):
            self._columns.clear()


class HeldConnection(Generic[C]):
    """One connection a thread holds across its transactions (see the module docstring)."""

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None]) -> None:
        self._connect = connect
        self._close = close
        self._local = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a connection for this thread until the block ends (nested holds share it)."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._release()

    @contextmanager
    def connection(self) -> Iterator[C]:
        """A connection for one transaction: the held one (opened on first use), or a new one closed
        after it when this thread holds none. A transaction that raises closes the held connection."""
        if not getattr(self._local, "depth", 0):
            conn = self._connect()
            try:
                yield conn
            finally:
                self._close(conn)
            return
        held: C | None = getattr(self._local, "conn", None)
        if held is None:
            held = self._local.conn = self._connect()
        try:
            yield held
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            self._close(conn)
