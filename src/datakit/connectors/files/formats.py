"""One reader per file format: a file in, Arrow batches out, malformed records reported, not fatal.

CSV goes through pyarrow's streaming CSV reader, single-threaded because only then does pyarrow report
the line number of a malformed row (the header is line 1 and each record one line). A file where a
quoted value may span lines (a quoted line break, or a quote never closed) is first read strictly,
line by line, so that a broken quote rejects its own line and nothing after it (`quoting`).
Parquet through `ParquetFile.iter_batches`. JSON Lines through `pyarrow.json` a block of lines at a
time; a block with a broken line is parsed again line by line so that only the broken lines are
rejected, each with its line number. Nested JSON objects flatten to `a__b` columns and lists become
JSON text (the REST rule without child tables).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from datakit.connectors.base import RejectedRow
from datakit.connectors.errors import ConnectorError
from datakit.connectors.files.params import CsvParams
from datakit.connectors.files.quoting import quotes_span_lines, strict_copy
from datakit.connectors.rest.records import flatten_structs, json_text, to_batches

if TYPE_CHECKING:
    import pyarrow as pa

_JSONL_BLOCK_BYTES = 16 << 20
_CSV_BLOCK_BYTES = 4 << 20


Reject = Callable[[RejectedRow], None]


def read_csv(
    path: Path, options: CsvParams, batch_size: int, reject: Reject, types: pa.Schema | None = None
) -> Iterator[pa.RecordBatch]:
    """Batches of a CSV file; rows with the wrong number of fields or broken quotes go to `reject`."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    def invalid(row: Any) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        reject(RejectedRow(str(path), row.number, reason, row.text[:4096]))
        return "skip"

    copy: IO[bytes] | None = None
    read_options = pcsv.ReadOptions(
        use_threads=False,
        block_size=_CSV_BLOCK_BYTES,
        encoding=options.encoding,
        column_names=options.column_names if not options.header else None,
        autogenerate_column_names=not options.header and options.column_names is None,
    )
    parse_options = pcsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote,
        newlines_in_values=True,
        invalid_row_handler=invalid,
    )
    convert = pcsv.ConvertOptions(
        column_types={f.name: f.type for f in types} if types is not None else None,
        null_values=options.null_values,
        strings_can_be_null=True,
    )
    try:
        if quotes_span_lines(path, options):
            copy = strict_copy(path, options, reject)
            read_options.encoding = "utf-8"
        reader = pcsv.open_csv(
            copy or path, read_options=read_options, parse_options=parse_options, convert_options=convert
        )
        for batch in reader:
            yield from _sliced(batch, batch_size)
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError) as exc:
        raise ConnectorError(f"reading {path}: {exc}", table=str(path)) from None
    finally:
        if copy is not None:
            copy.close()


def read_parquet(path: Path, batch_size: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    """Batches of a Parquet file, row group by row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConnectorError(f"reading {path}: {exc}", table=str(path)) from None


def read_jsonl(path: Path, batch_size: int, reject: Reject) -> Iterator[pa.RecordBatch]:
    """Batches of a JSON Lines file, `batch_size` lines (or 16 MiB) at a time; broken lines rejected."""
    lines: list[bytes] = []
    size, first_line = 0, 1
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not lines:
                first_line = number
            lines.append(line)
            size += len(line)
            if len(lines) >= batch_size or size >= _JSONL_BLOCK_BYTES:
                yield from _jsonl_block(path, lines, first_line, reject)
                lines, size = [], 0
    if lines:
        yield from _jsonl_block(path, lines, first_line, reject)


def _jsonl_block(path: Path, lines: list[bytes], first_line: int, reject: Reject) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.json as pjson

    try:
        table = pjson.read_json(io.BytesIO(b"".join(lines)))
    except pa.ArrowInvalid:
        yield from _jsonl_lines(path, lines, first_line, reject)
        return
    for batch in table.to_batches():
        yield _lists_as_text(flatten_structs(batch))


def _jsonl_lines(path: Path, lines: list[bytes], first_line: int, reject: Reject) -> Iterator[pa.RecordBatch]:
    """The slow path for a block with broken lines: parse each line, reject the broken ones."""
    records: list[Any] = []
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else exc.reason
            text = line.decode("utf-8", "replace").rstrip("\r\n")[:4096]
            reject(RejectedRow(str(path), first_line + offset, f"invalid JSON: {reason}", text))
            continue
        if not isinstance(record, dict):
            reject(RejectedRow(str(path), first_line + offset, "not a JSON object", line.decode()[:4096]))
            continue
        records.append(record)
    if records:
        yield to_batches(records, "t", child_tables=False)["t"]


def _lists_as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    import pyarrow as pa

    if not any(pa.types.is_list(t) or pa.types.is_large_list(t) for t in batch.schema.types):
        return batch
    arrays = [
        json_text(c) if pa.types.is_list(c.type) or pa.types.is_large_list(c.type) else c
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _sliced(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)
