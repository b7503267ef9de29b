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
  statement that may change a table's columns (anything but reads, row changes and `CREATE SCHEMA`),
  and dropped with the transaction. Within one transaction nothing but that transaction changes what it
  sees of its own tables, so the cache answers exactly as the catalog would. Where one process owns
  the database while it holds it (DuckDB: one writing process per file), the held connection keeps
  one cache across its transactions (`shared_catalog`): nobody else can change that catalog, and a
  failed transaction drops the connection with its cache. PostgreSQL's catalog is shared with every
  other client, so there a cache lives for one transaction only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from datakit.connectors.base import Column, TableRef

C = TypeVar("C")

_KEEPS_CATALOG = (
    "INSERT",
    "UPDATE",
    "DELETE",
    "SELECT",
    "WITH",
    "MERGE",
    "SET",
    "RESET",
    "LOCK",
    "COPY",
    "CREATE SCHEMA",
)
"""Statements that change no table's columns: they keep a catalog cache."""


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
        if self._columns and not " ".join(sql.split()[:2]).upper().startswith(_KEEPS_CATALOG):
            self._columns.clear()


class HeldConnection(Generic[C]):
    """One connection a thread holds across its transactions (see the module docstring)."""

    def __init__(
        self, connect: Callable[[], C], close: Callable[[C], None], *, shared_catalog: bool = False
    ) -> None:
        self._connect = connect
        self._close = close
        self._shared_catalog = shared_catalog
        self._local = threading.local()

    def catalog(self) -> CatalogCache:
        """The catalog cache of a new transaction: the held connection's own (with `shared_catalog`,
        while this thread holds it), else a fresh one."""
        if not self._shared_catalog or not getattr(self._local, "depth", 0):
            return CatalogCache()
        cache: CatalogCache | None = getattr(self._local, "catalog", None)
        if cache is None:
            cache = self._local.catalog = CatalogCache()
        return cache

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
        self._local.catalog = None
        if conn is not None:
            self._close(conn)
