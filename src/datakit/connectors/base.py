"""The connector interface: Arrow record batches out of sources and into destinations.

One `Protocol` per role, capabilities as plain data, and no driver imported at module level, so that
importing `datakit.connectors` costs nothing until a connector is used. A destination is one engine
(`Destination.engine`, `datakit.connectors.engine`): everything that speaks to a warehouse — loads,
deploys, drift, checks, dbt profiles, reports — goes through a destination's `transaction()` or
`session()` and asks its engine how to spell things.

Atomicity contract. A destination writes only inside a `Transaction`: `write()` bulk-loads an Arrow
stream into one table (normally a staging table the caller created), and `execute()` runs further SQL,
all on one connection in one database transaction that commits when the `with` block ends normally and
rolls back otherwise. The loader therefore stages batches and applies the write disposition (append,
replace, merge), the incremental cursor and the load record in that one transaction, so a crash at any
instant leaves every target table as it was before the load or as it is after it, never in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors.engine import Engine
    from datakit.connectors.stamp import Stamp
    from datakit.contracts.model import Contract
    from datakit.contracts.types import LogicalType

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
    """One column of a live table, as the database reports it: the one type for a live column.

    `db_type` is the database's own spelling (`numeric(5,2)`, `timestamp with time zone`, `mpaa_rating`);
    `base_type` resolves domains and enums to what is stored (`integer`, `enum`); `arrow_type` is the
    Arrow type the connector reads it as when the caller asks for no other. `type` and `max_length` are
    its logical type (None: no equivalent) and length limit, read by the engine that owns the catalog
    (`Engine.logical_type`), for drift detection; sources without such a mapping leave them unset.
    """

    name: str
    db_type: str
    nullable: bool
    base_type: str
    arrow_type: pa.DataType | None = None
    type: LogicalType | None = None
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Incremental:
    """Read only rows whose `cursor` column is past `lower` (`> lower`, or `>= lower` when inclusive),
    and, with `upper`, before it (`< upper`: a backfill's window, only for sources that declare
    `cursor_windows`).

    `lower=None` means the first load: no predicate, every row.
    """

    cursor: str
    lower: Any = None
    inclusive: bool = False
    upper: Any = None


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
    """What a source can do, as data, so the loader and planners decide without asking what it is.

    A capability that needs methods beyond `Source` names the protocol that has them (`FileSetSource`,
    `ChildTableSource`, `ReflectingSource`): a source declaring it implements that protocol.
    """

    streaming: bool = True  # memory bounded by batch_size, whatever the table size
    queries: bool = True  # accepts arbitrary SELECTs
    exact_types: bool = True  # values arrive in their declared type (SQLite: declared types are hints)
    cheap_estimate: bool = False  # estimate_rows() reads statistics, not the table
    schemas: bool = True  # has schemas (namespaces) inside one database
    sampled_schema: bool = False  # arrow_schema() comes from some records (REST pages, JSON Lines), so
    # a field it lacks may still come in later records; otherwise it lists every column a read delivers
    sample_after_cursor: bool = False  # arrow_schema(request) samples the rows read(request) yields from
    # its incremental lower bound on (and keeps them for the read), so it must be asked with that bound;
    # with nothing past the bound it raises `NoRowsToInfer` (REST APIs)
    catalog_types: bool = False  # columns() gives each column's logical type and length (`Column.type`),
    # which is then what a load delivers, more precisely than its Arrow type (numeric(5,2), varchar(20))
    catalog: bool = False  # has a catalog to reflect contracts from (`ReflectingSource`); without one,
    # contracts are inferred from a sample of the records
    file_sets: bool = False  # reads sets of files, each loaded exactly once (`FileSetSource`)
    child_tables: bool = False  # splits nested lists into child tables (`ChildTableSource`)
    cursor_windows: bool = False  # reads a window of rows by cursor (`Incremental.upper`): backfills
    native_reads: bool = False  # describes its reads for an engine's own workers (`NativeSource`)
    native_file_reads: bool = False  # describes reads of its files for an engine's own workers
    # (`NativeFileSource`)


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

    @property
    def engine(self) -> Engine:
        """The engine this transaction speaks (the destination's)."""
        ...


@dataclass(frozen=True)
class CheckedWrite:
    """What a destination that validates rows itself (`Engine.validates_rows`) needs for one write.

    The batches carry the rows as delivered (transformed, not validated) and `row`, each row's position
    in the read; files add `file`, the file a row came from. Rows that break `contract` go to `rejected`
    (the loader's layout, `datakit.connectors.writes`), the others, cast to the contract's types, to the
    table, with `fill` columns set to `at` where NULL, and `row` kept when `keep_row` (a stage).
    """

    contract: Contract
    rejected: TableRef
    load_id: str
    at: datetime
    row: str
    keep_row: bool
    file: str | None = None
    cursor: str | None = None
    fill: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckedRows:
    """What a validating write did: rows written, rows rejected, the largest good cursor value, and
    (for a native read) the rows read and, for files, the read positions each file's rows have
    (file, first, last), as the loader records them for batches it reads itself."""

    loaded: int
    rejected: int
    cursor: Any = None
    read: int | None = None
    origins: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class JdbcRead:
    """A read an engine's own workers can do over JDBC (`NativeSource.native_read`): the source's SELECT
    (with the incremental predicate) and, to read it in parallel, an integer column with its lowest and
    highest value, whose range the workers split between them."""

    url: str
    query: str
    driver: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    split: tuple[str, int, int] | None = None
    label: str = "query"


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is parsed, for an engine's own reader (`FileRead`)."""

    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"
    quote: str = '"'
    column_names: tuple[str, ...] | None = None  # without a header: None means f0, f1, ...
    null_values: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class FileRead:
    """A read of files an engine's own workers can do (`NativeFileSource.native_file_read`): the files,
    in load order, each with the name the loader records it under (`label`), their format, and the
    columns to keep (None: all)."""

    format: str  # "csv", "parquet" or "jsonl"
    files: tuple[tuple[Path, str], ...]  # (absolute path, label)
    csv: CsvFormat = field(default_factory=CsvFormat)
    columns: tuple[str, ...] | None = None
    label: str = "files"


NativeRead = JdbcRead | FileRead
"""A read an engine's workers do themselves, instead of the loader streaming batches to it."""


@runtime_checkable
class ValidatingTransaction(Protocol):
    """A transaction of an engine that validates rows as its own expressions (`Engine.validates_rows`),
    where its executors hold the rows, instead of the loader validating Arrow batches on its thread."""

    def write_checked(
        self, table: TableRef, batches: Iterable[pa.RecordBatch], stamp: Stamp | None, spec: CheckedWrite
    ) -> CheckedRows:
        """Validate `batches` against `spec.contract`; write the good rows to `table`, the others to
        `spec.rejected`."""
        ...

    def reads(self, read: NativeRead) -> bool:
        """Whether this engine's workers can do `read` themselves (its driver is installed, they see
        its files)."""
        ...

    def read_checked(
        self, table: TableRef, read: NativeRead, stamp: Stamp | None, spec: CheckedWrite
    ) -> CheckedRows:
        """`write_checked` on the rows the engine's workers read themselves (`reads`); each row's
        position in `spec.row` is the engine's (rows of a parallel read have no single order; a file's
        rows come after the earlier files' rows). Malformed file records are rejected rows too."""
        ...


Rows = tuple[list[str], list[tuple[Any, ...]]]
"""A query's column names and rows."""


class Session(Protocol):
    """A read-only connection for checks and reports: each statement on its own (autocommit), so one
    failing query does not abort the next; a failure is a `ConnectorError` with the database's message
    (`ConnectionLost` when the connection went), never a raw driver error."""

    def query(self, sql: str) -> Rows:
        """Run one query (sent as written: no parameters) and return its column names and rows."""
        ...

    def tables(self) -> list[TableRef]:
        """Every table and view in the database's user schemas."""
        ...


@dataclass(frozen=True)
class DbtTarget:
    """A dbt `outputs:` entry for a destination, and the environment it needs (its password, if any).

    `output` holds no secret: a password is an `env_var(...)` reference whose value is in `env`."""

    output: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict, repr=False)


DBT_PASSWORD_ENV = "DBT_ENV_SECRET_DATAKIT_PASSWORD"
"""The variable a generated profile reads a password from: dbt scrubs `DBT_ENV_SECRET_` values from its
logs and errors, a second mask to datakit's."""


@runtime_checkable
class Destination(Protocol):
    """A database batches are loaded into: one engine's connections (see `datakit.connectors.engine`)."""

    engine: Engine

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Open a connection and a transaction; commit on normal exit, roll back on any exception."""
        ...

    def columns(self, table: TableRef) -> list[Column]:
        """The live column catalog of `table` ([] when it does not exist)."""
        ...

    def held(self) -> AbstractContextManager[None]:
        """Until the block ends, this thread's transactions share one connection (`connectors.held`):
        a step of several small loads opens its destination once."""
        ...

    def session(self) -> AbstractContextManager[Session]:
        """A read-only session (checks, reports); closed, and any file lock released, on exit."""
        ...

    def dbt_target(self, *, schema: str | None = None, threads: int) -> DbtTarget:
        """The dbt target that writes where this destination loads (raises `ConnectorError` when dbt
        could not use it, e.g. an in-memory database)."""
        ...


# -- what some sources can do besides reading tables (declared by `SourceCapabilities`) -------------


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file of a file set: its path, size and the SHA-256 of its bytes (hex)."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A record that could not be parsed: where it is, why, and its text (capped) for the rejected table."""

    file: str
    line: int | None
    reason: str
    text: str


class FileSetSource(Source, Protocol):
    """A source whose tables are sets of files (`SourceCapabilities.file_sets`)."""

    base_path: Path
    """Recorded paths are relative to it, so moving the project reloads nothing."""

    def files(self, table: TableRef) -> list[FileInfo]:
        """The files of `table` now, in the order they are read."""
        ...

    def read_file(
        self, request: ReadRequest, file: FileInfo, *, on_reject: Callable[[RejectedRow], None]
    ) -> Iterator[pa.RecordBatch]:
        """The batches of one file; malformed records go to `on_reject` instead of failing the read."""
        ...


class NativeFileSource(FileSetSource, Protocol):
    """A file-set source whose files an engine can read itself (`SourceCapabilities.native_file_reads`)."""

    def native_file_read(self, request: ReadRequest, files: Sequence[FileInfo]) -> FileRead | None:
        """Reading `files` of `request`'s table as an engine's workers would, or None when they could
        not read them as this source does."""
        ...


class ChildTableSource(Source, Protocol):
    """A source that splits nested lists into child tables (`SourceCapabilities.child_tables`)."""

    def has_child_tables(self, table: TableRef) -> bool:
        """Whether reading `table` yields child tables too."""
        ...

    def read_tables(self, request: ReadRequest) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Batches of the table and of its child tables, each with the table's name."""
        ...


class NativeSource(Source, Protocol):
    """A source whose reads an engine can do itself (`SourceCapabilities.native_reads`)."""

    def native_read(self, request: ReadRequest, *, split_by: str | None = None) -> JdbcRead | None:
        """`request` as a read for an engine's workers (split on `split_by`, an integer column, when
        given), or None when it cannot be said so."""
        ...


class ReflectingSource(Source, Protocol):
    """A source with a catalog to reflect contracts from (`SourceCapabilities.catalog`)."""

    default_schema: str
    """The schema a table named without one is read from."""

    def reflect(
        self,
        schema: str,
        *,
        tables: Sequence[str] | None = None,
        layer: str = "source",
        system: str | None = None,
    ) -> list[Contract]:
        """Contracts of the tables of `schema` (or of the named ones) as the catalog describes them."""
        ...
