"""Sources Spark's executors read themselves, as DataFrames: a database over JDBC, or files.

JDBC (`jdbc_frame`): the source's SELECT, split on an integer column's range into one query per
partition when the read names one (`JdbcRead.split`): at least two per core, and more as the range grows
(`jdbc_partitions`), so that a task's share — and the memory of the executors that hold it (in
`local[*]`, the driver) — stays the same whatever the table's size. A row's position is
`monotonically_increasing_id()`: the rows of a parallel read have no single order.

Files (`file_frame`): CSV, Parquet and JSON Lines, read as the files source reads them (`FilesSource`):

* CSV as text columns (the contract's validation casts them, as it casts text from any source), named
  by the first file's header (or `column_names`, or f0, f1, ...), each value in `null_values` NULL;
  quotes are doubled inside a quoted value (RFC 4180), as Python's and pyarrow's readers expect;
* JSON Lines with Spark's inferred types, nested objects flattened to `a__b` columns and lists as
  JSON text (the files source's rule);
* a malformed record (a CSV row with the wrong number of fields, a line that is not JSON) is kept in a
  column of its own (`MALFORMED`), which validation turns into a rejected row with rule `parse`.

Each row carries the file it came from (`FILE`, as the loader names the file) and a position that puts
every row of a file after the rows of the files before it: the file's index in the high bits, Spark's
`monotonically_increasing_id()` (increasing within a file) below, so that "the last row read" of a key
is the one of the last file, as when the loader reads the files one after the other. The file's range
of positions is its origin (`CheckedRows.origins`).
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from datakit.connectors.engines.spark.engine import SPARK
from datakit.connectors.errors import ConnectorError

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession

    from datakit.connectors.base import CsvFormat, FileRead, JdbcRead

MALFORMED = "_dk_malformed"
"""The column holding a malformed record's text (NULL for a well-formed one)."""
FILE_BITS = 47
"""Positions below a file's index: `monotonically_increasing_id()` puts the partition above bit 33,
so this leaves 2**14 partitions to a read and 2**16 files (the position is a positive BIGINT)."""
MAX_FILES = 1 << (63 - FILE_BITS)
_MAX_PARTITIONS = 1 << (FILE_BITS - 33)
_JSON_SEPARATOR = "__"
KEYS_PER_PARTITION = 500_000
"""The width of a JDBC partition's key range once a read has more than two per core: with the split
column a dense key, that many rows per task (`bench/spark.py`: the driver's peak memory at 10M rows
was 1.30x that at 2M with four partitions for both)."""
MAX_JDBC_PARTITIONS = 512
"""A sparse key's range (ids up to 10**12 for a few rows) must not make a million empty queries."""


def jdbc_frame(spark: SparkSession, read: JdbcRead, row: str) -> DataFrame:
    """The rows of `read`, read by the executors over JDBC, each with a position in `row`."""
    from pyspark.sql import functions as F

    reader = spark.read.format("jdbc").option("url", read.url).option("driver", read.driver)
    reader = reader.option("fetchsize", "10000")
    if read.user is not None:
        reader = reader.option("user", read.user)
    if read.password is not None:
        reader = reader.option("password", read.password)
    if read.split is not None:
        column, low, high = read.split
        parts = jdbc_partitions(spark.sparkContext.defaultParallelism, low, high)
        reader = (
            reader.option("dbtable", f"({read.query}) AS q")
            .option("partitionColumn", column)
            .option("lowerBound", str(low))
            .option("upperBound", str(high + 1))
            .option("numPartitions", str(parts))
        )
    else:
        reader = reader.option("query", read.query)
    return reader.load().withColumn(row, F.monotonically_increasing_id())


def jdbc_partitions(parallelism: int, low: int, high: int) -> int:
    """How many key ranges a JDBC read of keys `low`..`high` is split into (see the module)."""
    span = high - low + 1
    by_size = min(MAX_JDBC_PARTITIONS, -(-span // KEYS_PER_PARTITION))
    return max(1, min(parallelism * 2, span), by_size)


def file_frame(spark: SparkSession, read: FileRead, row: str, file: str) -> DataFrame:
    """The rows of `read`'s files with their file (`file`) and position (`row`); a malformed record's
    text in `MALFORMED` when the format has any (see the module)."""
    from pyspark.sql import functions as F

    if len(read.files) >= MAX_FILES:
        raise ConnectorError(f"{read.label}: Spark reads at most {MAX_FILES - 1} files in one load")
    paths = [path.as_posix() for path, _ in read.files]
    if read.format == "csv":
        frame = _csv(spark, read.csv, paths)
    elif read.format == "jsonl":
        frame = _json(spark, paths)
    else:
        frame = spark.read.parquet(*paths)
    if read.columns is not None:
        kept = [*read.columns, *([MALFORMED] if MALFORMED in frame.columns else [])]
        frame = frame.select(*(F.col(SPARK.quote(name)) for name in kept))
    _check_partitions(frame, read)
    index = F.element_at(
        F.create_map(*(F.lit(x) for i, p in enumerate(paths) for x in (p, i))), _local_path()
    ).cast("bigint")
    labels = F.array(*(F.lit(label) for _, label in read.files))
    return frame.select(
        *frame.columns,
        F.element_at(labels, (index + 1).cast("int")).alias(file),
        (F.shiftleft(index, FILE_BITS) + F.monotonically_increasing_id()).alias(row),
    )


def origins(read: FileRead) -> tuple[tuple[str, int, int], ...]:
    """Each file's label and its range of positions (`file_frame`)."""
    return tuple(
        (label, i << FILE_BITS, ((i + 1) << FILE_BITS) - 1) for i, (_, label) in enumerate(read.files)
    )


def _local_path() -> SparkColumn:
    """The local path of a row's file: Spark names it by URI (`file:/a%20b.csv`); a `+` is a plus in a
    URI's path, not the space `url_decode` (a form decoder) would make it."""
    from pyspark.sql import functions as F

    uri = F.replace(F.col("_metadata.file_path"), F.lit("+"), F.lit("%2B"))
    return F.regexp_replace(F.url_decode(uri), r"^file:(//)?", "")


def _check_partitions(frame: DataFrame, read: FileRead) -> None:
    """A read in more partitions than positions leave room for would mix the files' positions."""
    try:
        partitions = frame.rdd.getNumPartitions()
    except Exception:  # Spark Connect has no RDDs: its server's partitions are its own
        return
    if partitions >= _MAX_PARTITIONS:
        raise ConnectorError(
            f"{read.label}: Spark splits these files into {partitions} partitions "
            f"(at most {_MAX_PARTITIONS - 1})",
            hint="raise spark.sql.files.maxPartitionBytes in the destination's conf",
        )


def _csv(spark: SparkSession, options: CsvFormat, paths: list[str]) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    names = _csv_names(options, paths[0])
    schema = StructType([StructField(name, StringType()) for name in [*names, MALFORMED]])
    nulls = options.null_values
    reader = (
        spark.read.format("csv")
        .option("sep", options.delimiter)
        .option("quote", options.quote)
        .option("escape", options.quote)
        .option("header", options.header)
        .option("encoding", options.encoding)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", MALFORMED)
        .option("nullValue", nulls[0] if nulls else "\0")
        .option("emptyValue", "")
    )
    frame = reader.schema(schema).load(paths)
    if len(nulls) < 2 and (not nulls or nulls[0] == ""):
        return frame
    others = [F.lit(value) for value in nulls[1:]]
    return frame.select(
        *(
            F.when(F.col(SPARK.quote(name)).isin(*others), F.lit(None))
            .otherwise(F.col(SPARK.quote(name)))
            .alias(name)
            if others
            else F.col(SPARK.quote(name))
            for name in names
        ),
        F.col(MALFORMED),
    )


def _csv_names(options: CsvFormat, path: str) -> list[str]:
    """The columns of a CSV file: its header's names, `column_names`, or f0, f1, ... (the first record's
    field count), as the files source names them."""
    if options.header or options.column_names is None:
        try:
            with open(path, encoding=options.encoding, newline="") as handle:
                first = next(csv.reader(handle, delimiter=options.delimiter, quotechar=options.quote), [])
        except (OSError, UnicodeDecodeError, LookupError, csv.Error) as exc:
            raise ConnectorError(f"reading {path}: {exc}", table=path) from None
        if options.header:
            if not first:
                raise ConnectorError(f"{path} has no header line", table=path)
            return first
        return [f"f{i}" for i in range(len(first))]
    return list(options.column_names)


def _json(spark: SparkSession, paths: list[str]) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StructType

    frame = spark.read.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", MALFORMED).json(paths)

    def flat(field: object, prefix: str, path: list[str]) -> list[SparkColumn]:
        name, kind = field.name, field.dataType  # type: ignore[attr-defined]
        column = F.col(".".join(SPARK.quote(p) for p in [*path, name]))
        out_name = f"{prefix}{name}"
        if isinstance(kind, StructType):
            return [
                c for sub in kind.fields for c in flat(sub, f"{out_name}{_JSON_SEPARATOR}", [*path, name])
            ]
        if isinstance(kind, ArrayType | MapType):
            return [F.to_json(column).alias(out_name)]
        return [column.alias(out_name)]

    columns = [c for field in frame.schema.fields for c in flat(field, "", [])]
    return frame.select(*columns)
