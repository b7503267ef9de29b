"""A transaction on Spark tables: every change builds the table's next version, switched at commit.

Spark's Parquet tables cannot UPDATE or DELETE, and Spark has no multi-statement transactions. This
keeps, per table the transaction touched, its columns and a DataFrame of its new content (lazy: a
query over the current version and staged data). Statements are the loader's standard SQL, parsed
with sqlglot: `$n` parameters become literals, tables changed in this transaction are read as their
pending version, and

* `CREATE TABLE` (temporary or not), `ALTER TABLE ... ADD COLUMN` and `DROP TABLE` change the pending
  table; `CREATE SCHEMA` runs at once (an empty database left by a rollback is harmless);
* `INSERT INTO t (...) VALUES/SELECT` and `DELETE FROM t WHERE ...` give `t` a new version (the
  union with the new rows, the rows that do not match);
* a `SELECT` runs on Spark and returns its rows.

Nothing is visible outside until commit writes each changed table's version folder and switches the
catalog (`versions.commit`). A rollback forgets the pending tables and removes the staged files.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from datakit.connectors.base import CheckedRows, Column, FileRead, JdbcRead, TableRef
from datakit.connectors.engines.spark import errors, versions
from datakit.connectors.engines.spark.engine import SPARK
from datakit.connectors.engines.spark.frames import Staging, conform, stamp_columns
from datakit.connectors.errors import ConnectorError, SchemaMismatch

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlglot.expressions as exp
    from pyspark.sql import DataFrame, SparkSession

    from datakit.connectors.base import CheckedWrite, NativeRead
    from datakit.connectors.engines.spark.params import SparkParams
    from datakit.connectors.stamp import Stamp

_ids = itertools.count()
_FORMATS = {"csv": "CSV", "jsonl": "JSON", "parquet": "Parquet"}


@dataclass
class Pending:
    """A table as this transaction sees it: its columns and (once changed) its new content."""

    ref: TableRef
    columns: list[tuple[str, str]]  # (name, Spark type)
    frame: DataFrame | None = None  # None: unchanged (the live table)
    created: bool = False
    temporary: bool = False
    dropped: bool = False
    comment: str | None = None
    view: str | None = field(default=None)

    @property
    def changed(self) -> bool:
        return self.frame is not None or self.created or self.dropped


def _key(ref: TableRef) -> tuple[str, str]:
    return ((ref.schema or "").lower(), ref.name.lower())


class SparkTransaction:
    """An open transaction on a Spark warehouse; see `datakit.connectors.base.Transaction`."""

    engine = SPARK

    def __init__(self, spark: SparkSession, params: SparkParams) -> None:
        self.spark = spark
        self.params = params
        self.id = uuid.uuid4().hex
        self.staging = Staging(spark, params.datakit_dir / "staging" / self.id)
        self._tables: dict[tuple[str, str], Pending] = {}
        self._views: list[str] = []  # every view registered, dropped at the end

    def quote(self, *parts: str) -> str:
        return SPARK.quote(*parts)

    # -- the catalog as this transaction sees it --------------------------------------------------------

    def pending(self, table: TableRef) -> Pending | None:
        """The table (live or pending), or None when it does not exist here."""
        key = _key(table)
        if key in self._tables:
            entry = self._tables[key]
            return None if entry.dropped else entry
        if table.schema is None:  # not a table of this transaction: one of the default database
            return self.pending(TableRef(table.name, SPARK.default_schema))
        if not self._exists(table):
            return None
        live = self.spark.catalog.listColumns(SPARK.quote(table.schema, table.name))
        entry = Pending(
            TableRef(table.name.lower(), table.schema.lower()), [(c.name, c.dataType) for c in live]
        )
        self._tables[key] = entry
        return entry

    def _exists(self, table: TableRef) -> bool:
        assert table.schema is not None
        try:
            return bool(self.spark.catalog.tableExists(SPARK.quote(table.schema, table.name)))
        except Exception as exc:
            raise errors.translate(exc, f"reading the catalog of {table}") from None

    def columns(self, table: TableRef) -> list[Column]:
        entry = self.pending(table)
        if entry is None:
            return []
        result = []
        for name, kind in entry.columns:
            logical, max_length = SPARK.logical_type(kind)
            result.append(Column(name, kind, True, kind, None, logical, max_length))
        return result

    def frame(self, table: TableRef) -> DataFrame:
        """The content of `table` in this transaction."""
        entry = self._require(table)
        if entry.frame is not None:
            return entry.frame
        return self.spark.table(SPARK.quote(entry.ref.schema or "", entry.ref.name))

    def replace(self, table: TableRef, frame: DataFrame) -> None:
        """Make `frame` the new content of `table` (cast to its columns)."""
        entry = self._require(table)
        entry.frame = conform(frame, entry.columns)
        entry.view = None  # the next read registers a view of the new content

    def _require(self, table: TableRef) -> Pending:
        entry = self.pending(table)
        if entry is None:
            raise ConnectorError(f"table {table} does not exist", table=str(table))
        return entry

    def _view(self, entry: Pending) -> str:
        """A temporary view of the entry's pending content (its name, for SQL)."""
        if entry.view is None:
            entry.view = f"_dk_tx_{self.id[:12]}_{next(_ids)}"
            self.frame(entry.ref).createOrReplaceTempView(entry.view)
            self._views.append(entry.view)
        return entry.view

    # -- statements --------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        import sqlglot.expressions as exp

        statement = self._parse(sql, params)
        try:
            if isinstance(statement, exp.Create):
                self._create(statement)
            elif isinstance(statement, exp.Insert):
                self._insert(statement)
            elif isinstance(statement, exp.Delete):
                self._delete(statement)
            elif isinstance(statement, exp.Alter):
                self._alter(statement)
            elif isinstance(statement, exp.Drop):
                self._drop(statement)
            elif isinstance(statement, exp.Query):
                self.query(sql, params)
            else:
                raise ConnectorError(
                    f"Spark transactions do not run {type(statement).__name__} statements: `{_short(sql)}`"
                )
        except ConnectorError:
            raise
        except Exception as exc:
            raise errors.translate(exc, f"running `{_short(sql)}`") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        frame = self.select(sql, params)
        try:
            return rows_of(frame)
        except Exception as exc:
            raise errors.translate(exc, f"running `{_short(sql)}`") from None

    def select(self, sql: str, params: Sequence[Any] = ()) -> DataFrame:
        """The DataFrame of a SELECT, reading this transaction's pending tables."""
        statement = self._parse(sql, params)
        return self._run(self._reading(statement))

    def _run(self, statement: exp.Expression) -> DataFrame:
        text = statement.sql(dialect="spark")
        try:
            return self.spark.sql(text)
        except Exception as exc:
            raise errors.translate(exc, f"running `{_short(text)}`") from None

    def _parse(self, sql: str, params: Sequence[Any]) -> Any:
        import sqlglot
        import sqlglot.expressions as exp

        try:
            statement = sqlglot.parse_one(sql, read="spark")
        except sqlglot.errors.ParseError as exc:
            raise ConnectorError(f"cannot parse `{_short(sql)}`: {exc}") from None

        def bind(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal):
                return literal(params[int(node.this.this) - 1])
            return node

        return statement.transform(bind) if params else statement

    def _reading(self, statement: Any) -> Any:
        """`statement` with every table changed in this transaction read from its pending view."""
        import sqlglot.expressions as exp

        def swap(node: exp.Expression) -> exp.Expression:
            if not isinstance(node, exp.Table) or not node.name:
                return node
            ref = TableRef(node.name, node.db or None)
            key = _key(ref)
            entry = self._tables.get(key)
            if entry is None or not entry.changed or entry.dropped:
                return node
            view = exp.to_table(self._view(entry))
            if node.alias:
                view.set("alias", node.args.get("alias"))
            return view

        return statement.transform(swap)

    def _ref(self, table: exp.Table) -> TableRef:
        return TableRef(table.name, table.db or None)

    def _create(self, statement: exp.Create) -> None:
        import sqlglot.expressions as exp

        kind = str(statement.args.get("kind") or "").upper()
        if kind in ("SCHEMA", "DATABASE"):
            self._run(statement)
            return
        if kind != "TABLE":
            raise ConnectorError(f"Spark transactions do not create {kind.lower()}s")
        schema = statement.this
        if not isinstance(schema, exp.Schema):
            raise ConnectorError("CREATE TABLE ... AS is not supported in Spark transactions")
        table = schema.this
        ref = self._ref(table)
        properties = statement.args.get("properties")
        temporary = bool(properties and properties.find(exp.TemporaryProperty))
        if self.pending(ref) is not None:
            if statement.args.get("exists"):
                return
            raise ConnectorError(f"table {ref} already exists", table=str(ref))
        columns = []
        for definition in schema.expressions:
            if isinstance(definition, exp.ColumnDef):
                kind_sql = definition.args["kind"].sql(dialect="spark")
                columns.append((definition.name, kind_sql))
        comment = None
        if properties is not None and (prop := properties.find(exp.SchemaCommentProperty)) is not None:
            comment = prop.this.name
        entry = Pending(ref, columns, created=True, temporary=temporary, comment=comment)
        entry.frame = self._empty(columns)
        self._tables[_key(ref)] = entry

    def _empty(self, columns: Sequence[tuple[str, str]]) -> DataFrame:
        items = ", ".join(f"CAST(NULL AS {kind}) AS {SPARK.quote(name)}" for name, kind in columns)
        return self.spark.sql(f"SELECT {items} WHERE FALSE")

    def _insert(self, statement: exp.Insert) -> None:
        import sqlglot.expressions as exp

        target = statement.this
        names: list[str] | None = None
        if isinstance(target, exp.Schema):
            names = [column.name for column in target.expressions]
            target = target.this
        ref = self._ref(target)
        entry = self._require(ref)
        source = statement.expression
        if isinstance(source, exp.Values):
            rows = []
            for row in source.expressions:
                values = row.expressions if isinstance(row, exp.Tuple) else [row]
                rows.append(exp.select(*(v.as_(f"_c{i}") for i, v in enumerate(values))))
            query: exp.Expression = rows[0]
            for row in rows[1:]:
                query = exp.union(query, row, distinct=False)
        else:
            query = source
        frame = self._run(self._reading(query))
        if names is None:
            names = [name for name, _ in entry.columns][: len(frame.columns)]
        frame = frame.toDF(*names)
        self.append(ref, frame)

    def append(self, table: TableRef, frame: DataFrame) -> None:
        """Add the rows of `frame` (columns by name) to `table`."""
        entry = self._require(table)
        known = {name.lower() for name, _ in entry.columns}
        unknown = [name for name in frame.columns if name.lower() not in known]
        if unknown:
            from datakit.errors import did_you_mean

            hint = did_you_mean(unknown[0], [n for n, _ in entry.columns])
            raise SchemaMismatch(f"table {table} has no column '{unknown[0]}'", hint=hint, table=str(table))
        current = self.frame(table)
        self.replace(table, current.unionByName(conform(frame, entry.columns)))

    def _delete(self, statement: exp.Delete) -> None:
        import sqlglot.expressions as exp

        if statement.args.get("using"):
            raise ConnectorError("DELETE ... USING is not supported in Spark transactions")
        table = statement.this
        ref = self._ref(table)
        entry = self._require(ref)
        where = statement.args.get("where")
        if where is None:
            self.replace(ref, self._empty(entry.columns))
            return
        source = exp.to_table(self._view(entry))
        if table.alias:
            source.set("alias", table.args.get("alias"))
        keep = exp.select("*").from_(source).where(exp.not_(exp.func("coalesce", where.this, exp.false())))
        self.replace(ref, self._run(self._reading(keep)))

    def _alter(self, statement: exp.Alter) -> None:
        import sqlglot.expressions as exp

        ref = self._ref(statement.this)
        self._require(ref)
        for action in statement.args.get("actions") or []:
            definition = action if isinstance(action, exp.ColumnDef) else action.find(exp.ColumnDef)
            if definition is None:
                raise ConnectorError(f"Spark transactions do not run `{_short(statement.sql())}`")
            self.add_column(ref, definition.name, definition.args["kind"].sql(dialect="spark"))

    def add_column(self, table: TableRef, name: str, kind: str) -> None:
        """Add a column of NULLs (nothing when it exists)."""
        entry = self._require(table)
        if name.lower() in {n.lower() for n, _ in entry.columns}:
            return
        current = self.frame(table)
        entry.columns.append((name, kind))
        self.replace(table, current)

    def retype(self, table: TableRef, name: str, kind: str, *, keep_values: bool) -> None:
        """Change a column's type: its values converted (`keep_values`) or set to NULL."""
        from pyspark.sql import functions as F

        entry = self._require(table)
        current = self.frame(table)
        entry.columns = [(n, kind if n.lower() == name.lower() else k) for n, k in entry.columns]
        if not keep_values:
            current = current.withColumn(name, F.lit(None).cast(kind))
        self.replace(table, current)

    def _drop(self, statement: exp.Drop) -> None:
        for table in statement.args.get("tables") or [statement.this]:
            ref = self._ref(table)
            entry = self.pending(ref)
            if entry is None:
                if statement.args.get("exists"):
                    continue
                raise ConnectorError(f"table {ref} does not exist", table=str(ref))
            if entry.temporary or entry.created:
                del self._tables[_key(ref)]
                continue
            entry.dropped = True
            entry.frame, entry.view = None, None

    # -- bulk writes ---------------------------------------------------------------------------------------

    def write(self, table: TableRef, batches: Iterable[pa.RecordBatch], stamp: Stamp | None = None) -> int:
        self._require(table)
        frame, rows = self.staging.write_batches(batches)
        if frame is None:
            return 0
        frame = frame.select(*frame.columns, *stamp_columns(frame, stamp))
        self.append(table, frame)
        return rows

    def write_checked(
        self,
        table: TableRef,
        batches: Iterable[pa.RecordBatch],
        stamp: Stamp | None,
        spec: CheckedWrite,
    ) -> CheckedRows:
        """Validate the rows against the contract in Spark, write the good ones, reject the others."""
        from datakit.connectors.engines.spark.validate import write_checked

        frame, _ = self.staging.write_batches(batches)
        return write_checked(self, table, frame, stamp, spec)

    def reads(self, read: NativeRead) -> bool:
        """Whether Spark can do `read`: it has the JDBC driver (a Spark Connect server: assumed to), or
        its executors see the files (a local session's do; a Connect server's may not)."""
        from datakit.connectors.engines.spark.params import JDBC_DRIVERS
        from datakit.connectors.engines.spark.reads import MAX_FILES

        if isinstance(read, FileRead):
            return self.params.remote is None and len(read.files) < MAX_FILES
        if self.params.remote is not None:
            return True
        jar = JDBC_DRIVERS.get(read.driver)
        return jar is not None and jar in self.params.spark_conf().get("spark.jars", "").split(",")

    def read_checked(
        self, table: TableRef, read: NativeRead, stamp: Stamp | None, spec: CheckedWrite
    ) -> CheckedRows:
        """Spark's executors read the source (`reads`), then validate as `write_checked` does."""
        from datakit.connectors.engines.spark import reads
        from datakit.connectors.engines.spark.validate import Malformed, write_checked

        what = f"reading {read.label} over JDBC" if isinstance(read, JdbcRead) else f"reading {read.label}"
        secrets = (read.password,) if isinstance(read, JdbcRead) else ()
        try:
            if isinstance(read, JdbcRead):
                frame = reads.jdbc_frame(self.spark, read, spec.row)
                checked = write_checked(self, table, frame, stamp, spec)
                found: tuple[tuple[str, int, int], ...] = ()
            else:
                if spec.file is None:
                    raise ConnectorError(f"{read.label}: a read of files needs the file column")
                frame = reads.file_frame(self.spark, read, spec.row, spec.file)
                malformed = None
                if reads.MALFORMED in frame.columns:
                    malformed = Malformed(reads.MALFORMED, f"malformed {_FORMATS[read.format]} record")
                checked = write_checked(self, table, frame, stamp, spec, malformed=malformed)
                found = reads.origins(read)
        except ConnectorError:
            raise
        except Exception as exc:
            raise errors.translate(exc, what, secrets=secrets, table=read.label) from None
        return CheckedRows(
            checked.loaded, checked.rejected, checked.cursor, checked.loaded + checked.rejected, found
        )

    # -- the end -----------------------------------------------------------------------------------------

    def commit(self) -> None:
        """Write each changed table's version, then switch them all (`versions.commit`)."""
        switches = []
        written = []
        try:
            for entry in self._tables.values():
                if entry.temporary or not entry.changed:
                    continue
                schema = entry.ref.schema or SPARK.default_schema
                if entry.dropped:
                    switches.append(versions.Switch(schema, entry.ref.name))
                    continue
                location = versions.new_location(self.params, schema, entry.ref.name, self.id)
                written.append(location)
                frame = conform(self.frame(entry.ref), entry.columns)
                frame.write.mode("errorifexists").format(self.params.table_format).save(str(location))
                switches.append(
                    versions.Switch(
                        schema, entry.ref.name, tuple(entry.columns), str(location), entry.comment
                    )
                )
        except Exception as exc:
            for location in written:
                from datakit.connectors.engines.spark.frames import remove_folder

                remove_folder(location)
            raise errors.translate(exc, "writing the new table versions") from None
        try:
            versions.commit(self.spark, self.params, self.id, switches)
        except Exception as exc:
            raise errors.translate(exc, "switching the tables to their new versions") from None

    def close(self) -> None:
        """Forget pending tables and views, remove staged files (after commit or rollback)."""
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        self._tables.clear()
        self.staging.remove()


def rows_of(frame: DataFrame) -> list[tuple[Any, ...]]:
    """A small result's rows as Python values (instants as aware UTC datetimes), through Arrow."""
    table = frame.toArrow()
    return [tuple(row.values()) for row in table.to_pylist()]


def literal(value: Any) -> exp.Expression:
    """A Python value as a Spark SQL literal expression (instants and dates typed)."""
    import sqlglot.expressions as exp

    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime):
        kind = "TIMESTAMP" if value.tzinfo is not None else "TIMESTAMP_NTZ"
        return exp.cast(
            exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build(kind, dialect="spark")
        )
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    return exp.Literal.string(str(value))


def _short(sql: str) -> str:
    return " ".join(sql.split())[:200]


def batches_of(frame: DataFrame) -> Iterator[pa.RecordBatch]:
    """A DataFrame's rows as Arrow batches (for reads back through the driver)."""
    yield from frame.toArrow().to_batches()
