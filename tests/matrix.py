"""The destination matrix: every test that loads or checks data runs once per destination engine.

Like dlt's `destinations_configs`, one module says which engines exist and how a test reaches them. A test
that takes `dest` runs as `[duckdb]` and `[postgres]`, each in a schema or file of its own; one that also
takes `source_db` builds its source tables there and reads them through a real datakit source. The DuckDB
case is fed by a SQLite file, so `pytest -k duckdb` runs on a laptop without PostgreSQL; the PostgreSQL
case reads a schema of a PostgreSQL database of its own (skipped, or failed under
`DATAKIT_REQUIRE_SERVICES=1`, when the server is unreachable). A test whose source must have exact types
(drift by retyping a column) takes `pg_source` instead: PostgreSQL in both cases. Spark is a third case
a test opts into (`WITH_SPARK`): a database of one `local[2]` warehouse shared by the test process, fed
by SQLite like DuckDB's (its looks are translated to Spark SQL by sqlglot).

Every handle speaks one SQL: names go through `q()`, parameters are `$1, $2, ...`, rows come back as
tuples of Python values.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from datakit.connectors import (
    Destination,
    DuckDBParams,
    PostgresParams,
    Source,
    SqliteParams,
    TableRef,
    open_destination,
    open_source,
)

Engine = Literal["duckdb", "postgres", "spark"]
SourceKind = Literal["postgres", "sqlite"]
Row = tuple[Any, ...]
"""A row as a test reads it: the driver's Python values (they are what the assertions compare)."""

SOURCE_OF: dict[Engine, SourceKind] = {"duckdb": "sqlite", "postgres": "postgres", "spark": "sqlite"}
"""The source kind that feeds each engine's case: the DuckDB case never needs a server."""

ENGINES: list[object] = [pytest.param("duckdb"), pytest.param("postgres", marks=pytest.mark.postgres)]
"""The cases of the matrix, as `params` of a fixture (`indirect=True` with one name narrows a test)."""

WITH_SPARK: list[object] = [*ENGINES, pytest.param("spark", marks=pytest.mark.spark)]
"""The matrix and Spark: a test opts in with `@pytest.mark.parametrize("dest", WITH_SPARK, indirect=True)`
(Spark costs seconds per load on two cores, so only the tests that say something about it run there)."""


def quote(*parts: str) -> str:
    """A qualified SQL name (both engines and SQLite quote alike: double quotes, doubled inside)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def unique_name(prefix: str) -> str:
    """A schema or database name no other test (or parallel session) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class Target(ABC):
    """A destination under test: a private schema, the datakit destination, and a way to look inside."""

    kind: Engine

    def __init__(self, schema: str, destination: Destination) -> None:
        self.schema = schema
        self.destination = destination  # the datakit destination the loader writes through

    @property
    @abstractmethod
    def location(self) -> str:
        """The file or DSN another process opens to reach this target."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of `sql`, read outside the loader with a connection of the test's own."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run one statement outside the loader (committed when it returns)."""

    def table(self, name: str) -> TableRef:
        return TableRef(name, self.schema)

    def q(self, name: str) -> str:
        return quote(self.schema, name)

    def count(self, name: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {self.q(name)}")[0][0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, schema={self.schema!r})"


class DuckDBTarget(Target):
    """A DuckDB file; each look opens and closes a connection, as another process would."""

    kind: Engine = "duckdb"

    def __init__(self, path: Path, schema: str = "main", *, read_only: bool = False) -> None:
        super().__init__(schema, open_destination(DuckDBParams(database=str(path))))
        self.path = path
        self.read_only = read_only  # for files that subprocesses write: the test only reads

    @property
    def location(self) -> str:
        return str(self.path)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        import duckdb

        with duckdb.connect(str(self.path), read_only=self.read_only) as conn:
            table = conn.sql(sql, params=list(params) or None).to_arrow_table()  # no pytz needed
            return [tuple(row.values()) for row in table.to_pylist()]

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        import duckdb

        with duckdb.connect(str(self.path)) as conn:
            conn.execute(sql, list(params) or None)


class PostgresTarget(Target):
    """A schema of a PostgreSQL database; looks run in UTC with PostgreSQL's own `$n` parameters."""

    kind: Engine = "postgres"

    def __init__(self, dsn: str, schema: str) -> None:
        super().__init__(schema, open_destination(PostgresParams.from_dsn(dsn)))
        self.dsn = dsn

    @property
    def location(self) -> str:
        return self.dsn

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        import psycopg

        with psycopg.connect(self.dsn, cursor_factory=psycopg.RawCursor) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return list(conn.execute(sql, list(params) or None).fetchall())

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, cursor_factory=psycopg.RawCursor) as conn:
            conn.execute(sql, list(params) or None)

    def drop(self) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {quote(self.schema)} CASCADE")


class SparkTarget(Target):
    """A database of the test session's Spark warehouse (one Spark session per test process).

    Looks are written in PostgreSQL's words like every other case's and translated by sqlglot."""

    kind: Engine = "spark"

    def __init__(self, destination: Destination, schema: str) -> None:
        super().__init__(schema, destination)

    @property
    def location(self) -> str:
        return str(getattr(self.destination, "params").warehouse)  # noqa: B009

    def _spark_sql(self, sql: str, params: Sequence[object]) -> str:
        import sqlglot
        import sqlglot.expressions as exp

        from datakit.connectors.engines.spark.transaction import literal

        statement = sqlglot.parse_one(sql, read="postgres")

        def bind(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder | exp.Parameter) and params:
                index = node.this.this if isinstance(node.this, exp.Literal) else node.name
                return literal(params[int(index) - 1])
            return node

        return str(statement.transform(bind).sql(dialect="spark"))

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self.destination.session() as session:
            return session.query(self._spark_sql(sql, params))[1]

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        getattr(self.destination, "spark").sql(self._spark_sql(sql, params))  # noqa: B009

    def drop(self) -> None:
        getattr(self.destination, "spark").sql(f"DROP DATABASE IF EXISTS `{self.schema}` CASCADE")  # noqa: B009


class SourceDb(ABC):
    """Source tables a test builds and changes, and the datakit source that reads them."""

    kind: SourceKind
    schema: str | None

    @property
    @abstractmethod
    def params(self) -> PostgresParams | SqliteParams:
        """The connection parameters (what a pipeline's `source:` resolves to)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """The file or DSN another process opens to read this source."""

    @property
    def source(self) -> Source:
        return open_source(self.params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, schema={self.schema!r})"

    def ref(self, table: str) -> TableRef:
        return TableRef(table, self.schema)

    def q(self, table: str) -> str:
        return quote(self.schema, table) if self.schema else quote(table)

    def create(self, table: str, columns: str) -> None:
        """`CREATE TABLE` with the column list in PostgreSQL's words (`id integer, at timestamptz`)."""
        self.execute(f"CREATE TABLE {self.q(table)} ({columns})")

    @abstractmethod
    def insert(self, table: str, rows: Iterable[Sequence[object]]) -> None:
        """Append `rows` (Python values, every column in table order)."""

    @abstractmethod
    def execute(self, sql: str, *params: object) -> None:
        """Run one statement (committed when it returns)."""

    @abstractmethod
    def query(self, sql: str, *params: object) -> list[Row]:
        """Rows of `sql` on the source, as the test sees them."""


class PostgresSourceDb(SourceDb):
    """A schema of the test session's PostgreSQL database; rows arrive by COPY."""

    kind: SourceKind = "postgres"
    schema: str

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema

    @property
    def params(self) -> PostgresParams:
        return PostgresParams.from_dsn(self.dsn)

    @property
    def location(self) -> str:
        return self.dsn

    def insert(self, table: str, rows: Iterable[Sequence[object]]) -> None:
        import psycopg

        statement = f"COPY {self.q(table)} FROM STDIN"
        with psycopg.connect(self.dsn) as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def execute(self, sql: str, *params: object) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, cursor_factory=psycopg.RawCursor) as conn:
            conn.execute(sql, list(params) or None)

    def query(self, sql: str, *params: object) -> list[Row]:
        import psycopg

        with psycopg.connect(self.dsn, cursor_factory=psycopg.RawCursor) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return list(conn.execute(sql, list(params) or None).fetchall())


_ZONED = re.compile(r"\btimestamptz\b", re.IGNORECASE)
_PARAMETER = re.compile(r"\$(\d+)")


class SqliteSourceDb(SourceDb):
    """A SQLite file holding the same rows: what feeds the DuckDB case.

    SQLite has no zoned time type: a `timestamptz` column is declared `text` and holds ISO 8601 text with
    its offset (`2024-01-01 00:09:00+00:00`), which the contract parses into a zoned time. Other values are
    stored as sqlite3 adapts them (dates and naive times as ISO text, decimals as text).
    """

    kind: SourceKind = "sqlite"
    schema = None

    def __init__(self, path: Path) -> None:
        self.path = path
        sqlite3.connect(path).close()  # an empty database, as the PostgreSQL case has an empty schema

    @property
    def params(self) -> SqliteParams:
        return SqliteParams(database=self.path)

    @property
    def location(self) -> str:
        return str(self.path)

    def create(self, table: str, columns: str) -> None:
        super().create(table, _ZONED.sub("text", columns))

    def insert(self, table: str, rows: Iterable[Sequence[object]]) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            width = len(conn.execute(f"SELECT * FROM {self.q(table)} LIMIT 0").description)
            marks = ", ".join("?" * width)
            stored = ([_stored(value) for value in row] for row in rows)
            conn.executemany(f"INSERT INTO {self.q(table)} VALUES ({marks})", stored)

    def execute(self, sql: str, *params: object) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(_PARAMETER.sub(r"?\1", sql), [_stored(value) for value in params])

    def query(self, sql: str, *params: object) -> list[Row]:
        with closing(sqlite3.connect(self.path)) as conn:
            cursor = conn.execute(_PARAMETER.sub(r"?\1", sql), [_stored(value) for value in params])
            return list(cursor.fetchall())


def _stored(value: object) -> object:
    """A value as SQLite keeps it: times and dates as ISO text (with the offset when zoned), decimals as
    text (exact), the rest as sqlite3 binds it."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@contextmanager
def scratch_database(pg_dsn: str, prefix: str = "dk_load") -> Iterator[str]:
    """A new empty database on the PostgreSQL test server (dropped afterwards); yields its DSN."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = unique_name(prefix)
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(pg_dsn, dbname=name)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_target(dsn: str, prefix: str = "dk_dst") -> Iterator[PostgresTarget]:
    """A PostgreSQL target in a schema name of its own, dropped afterwards (whoever created it)."""
    target = PostgresTarget(dsn, unique_name(prefix))
    try:
        yield target
    finally:
        target.drop()


@contextmanager
def postgres_source(dsn: str) -> Iterator[PostgresSourceDb]:
    """A fresh schema for source tables, dropped afterwards."""
    db = PostgresSourceDb(dsn, unique_name("dk_src"))
    db.execute(f"CREATE SCHEMA {quote(db.schema)}")
    try:
        yield db
    finally:
        db.execute(f"DROP SCHEMA {quote(db.schema)} CASCADE")


# Fixtures (registered for the whole suite by tests/conftest.py).


@pytest.fixture(scope="session")
def load_dsn(pg_dsn: str) -> Iterator[str]:
    """A database of this test session's own (per xdist worker): sources and PostgreSQL targets live
    here, so nothing another suite does to the shared test database (dropping `_datakit`) reaches us."""
    with scratch_database(pg_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def pg_params(load_dsn: str) -> PostgresParams:
    return PostgresParams.from_dsn(load_dsn)


@pytest.fixture(params=ENGINES)
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Each destination engine in turn, in a schema (and for DuckDB a file) of the test's own."""
    engine: Engine = request.param
    if engine == "duckdb":
        yield DuckDBTarget(tmp_path / "warehouse.duckdb", unique_name("dk_dst"))
        return
    if engine == "spark":
        target = SparkTarget(request.getfixturevalue("spark_destination"), unique_name("dk_dst"))
        yield target
        target.drop()
        return
    with postgres_target(request.getfixturevalue("load_dsn")) as target:
        yield target


@pytest.fixture
def source_db(dest: Target, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceDb]:
    """The source of `dest`'s case: SQLite for DuckDB, a PostgreSQL schema for PostgreSQL."""
    if SOURCE_OF[dest.kind] == "sqlite":
        yield SqliteSourceDb(tmp_path / "source.sqlite")
        return
    with postgres_source(request.getfixturevalue("load_dsn")) as db:
        yield db


@pytest.fixture(scope="session")
def spark_destination(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Destination]:
    """The test process's Spark warehouse (`local[2]`, Derby metastore), shared by every Spark test:
    a Spark session is one per process and takes seconds to start."""
    import shutil

    from tests.services import unavailable

    try:
        import pyspark  # noqa: F401
    except ImportError:
        unavailable("Spark", "pyspark is not installed (pip install 'datakit[spark]')")
    if shutil.which("java") is None:
        unavailable("Spark", "no Java runtime (Spark needs Java 17)")
    from datakit.connectors.engines.spark import session
    from datakit.connectors.engines.spark.params import SparkParams

    warehouse = tmp_path_factory.mktemp("spark") / "warehouse"
    warehouse.mkdir()
    yield open_destination(SparkParams(master="local[2]", warehouse=str(warehouse)))
    session.stop()


@pytest.fixture
def pg_source(load_dsn: str) -> Iterator[PostgresSourceDb]:
    """A PostgreSQL source in every case: for tests whose source must keep exact types."""
    with postgres_source(load_dsn) as db:
        yield db
