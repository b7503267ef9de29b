"""Arrow batches into Spark, and the columns Spark adds to rows as it writes them.

Batches that come through the driver (sources Spark cannot read itself, transformed rows, rejected rows)
are written batch by batch into a Parquet folder of the transaction (`Staging`), which Spark then
reads with its executors: the driver holds one batch at a time, whatever the table's size. Arrow types
Spark's Parquet reader does not take are written as text first (TIME, UUID, intervals, NULL columns).

The stamp (`datakit.connectors.stamp`) is computed by Spark: constants as literals, and the record hash
as `xxhash64` of the change columns, each with its NULL flag (Spark's hash skips a NULL, so without the
flag ('a', NULL) and (NULL, 'a') would hash alike), integers widened to BIGINT so that widening a
column does not change every hash; kept to 63 bits like every engine's. The hash differs from the one
DuckDB and PostgreSQL store: it is only ever compared within one destination.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.connectors.engines.spark.engine import SPARK

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession

    from datakit.connectors.stamp import Stamp

_MAX_BIGINT = 2**63 - 1
_INTEGRAL = {"tinyint", "smallint", "int", "bigint"}


class Staging:
    """A transaction's folder of staged Parquet files, removed when the transaction ends."""

    def __init__(self, spark: SparkSession, root: Path) -> None:
        self.spark = spark
        self.root = root
        self._seq = itertools.count()

    def folder(self, kind: str) -> Path:
        """A new, empty folder for one staged data set."""
        path = self.root / f"{kind}_{next(self._seq)}"
        path.mkdir(parents=True)
        return path

    def write_batches(self, batches: Iterable[pa.RecordBatch]) -> tuple[DataFrame | None, int]:
        """Stage `batches` as Parquet and read them as a DataFrame (None when there was no batch)."""
        import pyarrow.parquet as pq

        folder = self.folder("batches")
        writer: pq.ParquetWriter | None = None
        rows = 0
        try:
            for batch in batches:
                table = spark_compatible(batch)
                if writer is None:
                    writer = pq.ParquetWriter(
                        str(folder / "part-00000.parquet"),
                        table.schema,
                        coerce_timestamps="us",
                        allow_truncated_timestamps=True,
                    )
                elif not table.schema.equals(writer.schema, check_metadata=False):
                    from datakit.connectors.errors import SchemaMismatch

                    raise SchemaMismatch("batch schema changed mid-stream")
                writer.write_table(table)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            return None, 0
        return self.spark.read.parquet(str(folder)), rows

    def materialize(self, frame: DataFrame, kind: str) -> DataFrame:
        """`frame` computed once, into a staged folder, and read back (later uses do not recompute it)."""
        folder = self.folder(kind)
        frame.write.mode("overwrite").parquet(str(folder))
        return self.spark.read.parquet(str(folder))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def spark_compatible(batch: pa.RecordBatch) -> pa.Table:
    """`batch` with the columns Spark cannot read from Parquet turned into text."""
    import pyarrow as pa

    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        array, kind = _compatible(column, field.type)
        arrays.append(array)
        fields.append(pa.field(field.name, kind))
    return pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))])


def _compatible(column: pa.Array, kind: pa.DataType) -> tuple[pa.Array, pa.DataType]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(kind):
        column = column.dictionary_decode()
        kind = column.type
    if isinstance(kind, pa.UuidType):
        from datakit.contracts.validate import as_text

        text = as_text(column)
        return text, pa.string()
    if isinstance(kind, pa.BaseExtensionType):
        column, kind = column.storage, kind.storage_type
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string()), pa.string()
    if pa.types.is_time(kind) or pa.types.is_duration(kind) or pa.types.is_interval(kind):
        from datakit.contracts.validate import as_text

        return as_text(column), pa.string()
    if pa.types.is_decimal256(kind):
        if kind.precision <= 38:
            target = pa.decimal128(kind.precision, kind.scale)
            return pc.cast(column, target), target
        return pc.cast(column, pa.string()), pa.string()
    return column, kind


def stamp_columns(frame: DataFrame, stamp: Stamp | None) -> list[SparkColumn]:
    """The stamp's columns as Spark expressions over `frame` (the constants, then the record hash)."""
    from pyspark.sql import functions as F

    if stamp is None:
        return []
    columns = [F.lit(c.value).cast(_arrow_to_spark(c.type)).alias(c.name) for c in stamp.constants]
    if stamp.hash_column:
        columns.append(row_hash(frame, stamp.hash_of).alias(stamp.hash_column))
    return columns


def row_hash(frame: DataFrame, names: Sequence[str]) -> SparkColumn:
    """The 63-bit record hash of `names` (see the module's docstring)."""
    from pyspark.sql import functions as F

    types = dict(frame.dtypes)
    parts: list[SparkColumn] = []
    for name in names:
        value = F.col(SPARK.quote(name))
        if types.get(name) in _INTEGRAL:
            value = value.cast("bigint")
        parts += [value, value.isNull()]
    if not parts:
        return F.lit(0).cast("bigint")
    return F.xxhash64(*parts).bitwiseAND(F.lit(_MAX_BIGINT))


def _arrow_to_spark(kind: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return "timestamp" if kind.tz else "timestamp_ntz"
    if pa.types.is_integer(kind):
        return "bigint"
    return "string"


def conform(frame: DataFrame, columns: Sequence[tuple[str, str]]) -> DataFrame:
    """`frame` with exactly `columns` (name, Spark type), in order: cast by name, NULL where missing."""
    from pyspark.sql import functions as F

    present = {name.lower() for name in frame.columns}
    return frame.select(
        *(
            (F.col(SPARK.quote(name)) if name.lower() in present else F.lit(None)).cast(kind).alias(name)
            for name, kind in columns
        )
    )


def remove_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
