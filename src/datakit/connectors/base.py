"""The connector interface: Arrow record batches out of sources and into destinations.

One `Protocol` per role, capabilities as plain data, and no driver imported at module level, so that
importing `datakit.connectors` costs nothing until a connector is used.

Atomicity contract. A destination writes only inside a `Transaction`: `write()` bulk-loads an Arrow
stream into one table (normally a staging table the caller created), and `execute()` runs further SQL,
all on one connection in one database transaction that commits when the `with` block ends normally and
rolls back otherwise. The loader therefore stages batches and applies the write disposition (append,
replace, merge), the incremental cursor and the load record in that one transaction, so a crash at any
instant leaves every target table as it was before the load or as it is after it, never in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors.stamp import Stamp

DEFAULT_BATCH_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table by schema and name (schema None: the connection's default; SQLite: the main database)."""

    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a live table, as the database reports it (for drift detection and type mapping).

    `db_type` is the database's own spelling (`numeric(5,2)`, `timestamp with time zone`, `mpaa_rating`);
    `base_type` resolves domains and enums to what is stored (`integer`, `enum`); `arrow_type` is the
    Arrow type the connector reads it as when the caller asks for no other.
    """

    name: str
    db_type: str
    nullable: bool
    base_type: str
    arrow_type: pa.DataType | None = None


@dataclass(frozen=True, slots=True)
class Incremental:
    """Read only rows whose `cursor` column is past `lower` (`> lower`, or `>= lower` when inclusive).

    `lower=None` means the first load: no predicate, every row.
    """

    cursor: str
    lower: Any = None
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What to read: a table (or a SELECT), which columns, which rows, in what order, in what shape.

    `schema` is the target Arrow schema (from the contract and the catalog): every batch is cast to it
    exactly (a lossy cast raises `SchemaMismatch`), so callers never see driver quirks such as numeric
    as text or int4 widened to int64. `batch_size` caps the rows of a batch; memory stays bounded by it.
    """

    table: TableRef | None = None
    query: str | None = None
    columns: Sequence[str] | None = None
    incremental: Incremental | None = None
    order_by: Sequence[str] = ()
    batch_size: int = DEFAULT_BATCH_ROWS
    schema: pa.Schema | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("a ReadRequest names either a table or a query")
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")

    @property
    def label(self) -> str:
        return str(self.table) if self.table is not None else "query"


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What a source can do, so planners decide without trying."""

    dialect: str
    streaming: bool = True  # memory bounded by batch_size, whatever the table size
    queries: bool = True  # accepts arbitrary SELECTs
    exact_types: bool = True  # values arrive in their declared type (SQLite: declared types are hints)
    cheap_estimate: bool = False  # estimate_rows() reads statistics, not the table
    schemas: bool = True  # has schemas (namespaces) inside one database
    sampled_schema: bool = False  # arrow_schema() comes from some records (REST pages, JSON Lines), so
    # a field it lacks may still come in later records; otherwise it lists every column a read delivers


@dataclass(frozen=True, slots=True)
class DestinationCapabilities:
    """What a destination can do."""

    dialect: str
    bulk_format: str  # how write() moves data: "copy-binary", "arrow"
    transactional_ddl: bool = True  # CREATE/ALTER/DROP roll back with the transaction
    max_identifier_length: int = 63
    supported_types: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class Source(Protocol):
    """A database rows are read from."""

    capabilities: SourceCapabilities

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        """Stream the requested rows; the connection closes when the iterator ends or is closed."""
        ...

    def columns(self, table: TableRef) -> list[Column]:
        """The live column catalog of `table` (raises `ConnectorError` if it does not exist)."""
        ...

    def tables(self, schema: str | None = None) -> list[TableRef]:
        """Base tables (and views) visible in `schema`, or in every user schema."""
        ...

    def estimate_rows(self, table: TableRef) -> int | None:
        """A row estimate from statistics, or None when it would need a scan."""
        ...

    def count(self, request: ReadRequest) -> int:
        """Exact count of the rows `read(request)` would yield (a scan on most databases)."""
        ...

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        """The schema of the batches `read(request)` yields."""
        ...


@runtime_checkable
class Transaction(Protocol):
    """One connection in one open transaction of a destination."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement; parameters are `$1, $2, ...` in both PostgreSQL and DuckDB."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (for small results: catalogs, cursors, counts)."""
        ...

    def write(self, table: TableRef, batches: Iterable[pa.RecordBatch], stamp: Stamp | None = None) -> int:
        """Bulk-load `batches` into existing `table` (matching columns by name); returns rows written.

        `stamp` names columns the destination fills on every row (constants, a row hash); see `stamp`.
        """
        ...

    def columns(self, table: TableRef) -> list[Column]:
        """The live catalog of `table` as this transaction sees it ([] when it does not exist)."""
        ...

    def quote(self, *parts: str) -> str:
        """A quoted, dotted identifier (`"schema"."table"`) safe to paste into this dialect's SQL."""
        ...


@runtime_checkable
class Destination(Protocol):
    """A database batches are loaded into."""

    capabilities: DestinationCapabilities

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a connection and a transaction; commit on normal exit, roll back on any exception."""
        ...

    def columns(self, table: TableRef) -> list[Column]:
        """The live column catalog of `table` ([] when it does not exist)."""
        ...
