"""Spark destination: transactions that switch table versions, read-only sessions, dbt-spark's target.

Every transaction and session of a process uses its one Spark session (`session.spark_session`),
started on first use. Transactions of one process run one at a time (a commit switches versions
with one writer; the destination's `exclusive()` keeps other processes' steps apart).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from datakit.connectors.base import Column, DbtTarget, Rows, TableRef
from datakit.connectors.engines.spark import errors
from datakit.connectors.engines.spark.engine import SPARK
from datakit.connectors.engines.spark.params import SparkParams
from datakit.connectors.engines.spark.session import lock, spark_session
from datakit.connectors.engines.spark.transaction import SparkTransaction, rows_of
from datakit.connectors.errors import ConnectorError, query_message

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkDestination:
    """Loads into Parquet tables of a Spark warehouse."""

    engine = SPARK

    def __init__(self, params: SparkParams) -> None:
        self.params = params

    def __repr__(self) -> str:
        return f"SparkDestination({self.params.describe()})"

    @property
    def spark(self) -> SparkSession:
        """The process's Spark session (started on first use)."""
        return spark_session(self.params)

    @contextmanager
    def transaction(self) -> Iterator[SparkTransaction]:
        with lock():
            tx = SparkTransaction(self.spark, self.params)
            try:
                yield tx
                tx.commit()
            finally:
                tx.close()

    def columns(self, table: TableRef) -> list[Column]:
        with self.transaction() as tx:
            return tx.columns(table)

    def held(self) -> AbstractContextManager[None]:
        """Nothing to hold: every transaction already runs on the process's one Spark session."""
        return nullcontext()

    @contextmanager
    def session(self) -> Iterator[SparkReadSession]:
        yield SparkReadSession(self.spark)

    def dbt_target(self, *, schema: str | None = None, threads: int) -> DbtTarget:  # noqa: ARG002
        """dbt-spark's `session` method: dbt runs its models in this process's Spark session (or starts
        it with the same settings, `server_side_parameters`). One thread: a session runs one query at a
        time for dbt."""
        output: dict[str, Any] = {
            "type": "spark",
            "method": "session",
            "host": "NA",  # required by dbt-spark, unused by the session method
            "schema": schema or self.engine.default_schema,
            "threads": 1,
            "server_side_parameters": self.params.spark_conf()
            if self.params.remote is None
            else {"spark.remote": self.params.remote},
        }
        return DbtTarget(output)


class SparkReadSession:
    """Queries for checks and reports; see `datakit.connectors.base.Session`. Only queries run: any other
    statement is refused, so a custom check cannot change data."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def query(self, sql: str) -> Rows:
        import sqlglot
        import sqlglot.expressions as exp

        try:
            statement = sqlglot.parse_one(sql, read="spark")
        except sqlglot.errors.ParseError:
            statement = None  # let Spark say what is wrong with it
        if statement is not None and not isinstance(statement, exp.Query):
            raise ConnectorError(f"checks run queries only, not {type(statement).__name__} statements")
        try:
            frame = self.spark.sql(sql)
            return list(frame.columns), rows_of(frame)
        except Exception as exc:
            raise errors.classify(exc).kind(query_message(exc)) from None

    def tables(self) -> list[TableRef]:
        found = []
        for database in self.spark.catalog.listDatabases():
            for table in self.spark.catalog.listTables(database.name):
                if not table.isTemporary:
                    found.append(TableRef(table.name, database.name))
        return sorted(found, key=lambda t: (t.schema or "", t.name))


def open(params: SparkParams) -> SparkDestination:
    """The destination `params` describe (see `datakit.connectors.engines`)."""
    return SparkDestination(params)
