"""`FilesSource`: each resource is the set of files a path or glob matches, read as one table.

Loading each file exactly once is the caller's bookkeeping, made possible here: `files(table)` lists the
matched files with size and SHA-256 (stable: the digest of the bytes, nothing else), and
`read_file(table, file)` reads one of them, so a loader reads only the files its load record does not
already hold with that checksum, and records each one in the same transaction as its rows.

Rejected rows (the side channel). A malformed record (a CSV row with the wrong number of fields, a JSON
Lines line that does not parse) does not fail the read: it is skipped and handed to `on_reject` as a
`RejectedRow(file, line, reason, text)`. The default `on_reject` keeps them on `source.rejected` (the
first `max_rejected`; `rejected_count` counts them all); `rejected_batch()` makes an Arrow batch of them
(`_dk_file`, `_dk_line`, `_dk_reason`, `_dk_raw`) for the loader's rejected table. A separate channel,
not a column of the data, because a broken row has no values to put in the data's typed columns.

Schemas: the request's schema when given (extra file columns dropped, missing nullable ones null),
otherwise the first file's, which every later file must match (a new column fails the read).

An engine that reads files itself (Spark's executors) is given the files as a `FileRead`
(`native_file_read`); a CSV file whose quoted values may span lines is read here instead, where a
broken quote rejects its own line only (`quoting`).
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.connectors.base import (
    Column,
    CsvFormat,
    FileInfo,
    FileRead,
    ReadRequest,
    RejectedRow,
    SourceCapabilities,
    TableRef,
)
from datakit.connectors.errors import ConnectorError, NoRowsToInfer
from datakit.connectors.files.formats import read_csv, read_jsonl, read_parquet
from datakit.connectors.files.params import FileResourceParams, FilesParams
from datakit.connectors.files.quoting import quotes_span_lines
from datakit.connectors.rest.records import Rebatcher, align, settle
from datakit.errors import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FileInfo", "FilesSource", "RejectedRow", "rejected_batch"]

_HASH_CHUNK = 1 << 20


class FilesSource:
    """Reads CSV, Parquet and JSON Lines files (`Source` protocol; tables are the resources)."""

    capabilities = SourceCapabilities(
        queries=False, exact_types=False, schemas=False, file_sets=True, native_file_reads=True
    )

    def __init__(
        self,
        params: FilesParams,
        *,
        on_reject: Callable[[RejectedRow], None] | None = None,
        max_rejected: int = 10_000,
    ) -> None:
        self.params = params
        self._resources = {r.name: r for r in params.resources}
        if any(r.format == "jsonl" for r in params.resources):  # JSON records name only their fields
            self.capabilities = replace(self.capabilities, sampled_schema=True)
        self.rejected: list[RejectedRow] = []
        self.rejected_count = 0
        self.max_rejected = max_rejected
        self._on_reject = on_reject or self._keep
        self._digests: dict[tuple[Path, int, int], str] = {}

    def __repr__(self) -> str:
        return f"FilesSource({self.params.describe()})"

    @property
    def base_path(self) -> Path:
        """Where relative paths start (the project root): recorded paths are relative to it."""
        return self.params.base_path

    # --- files ------------------------------------------------------------------------------------

    def files(self, table: TableRef | str) -> list[FileInfo]:
        """The files `table`'s path or glob matches now, sorted by path, each with size and SHA-256."""
        resource = self._resource(table)
        pattern = self.params.base_path / resource.path
        paths = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())
        return [self._info(path) for path in paths]

    def _info(self, path: Path) -> FileInfo:
        stat = path.stat()
        key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        if key not in self._digests:  # hashing a large file once per source is enough
            with path.open("rb") as handle:
                self._digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return FileInfo(path, stat.st_size, self._digests[key])

    # --- Source protocol --------------------------------------------------------------------------

    def tables(self, schema: str | None = None) -> list[TableRef]:  # noqa: ARG002 - no schemas here
        return [TableRef(name) for name in self._resources]

    def columns(self, table: TableRef) -> list[Column]:
        schema = self.arrow_schema(ReadRequest(table=table))
        return [Column(f.name, str(f.type), f.nullable, str(f.type), f.type) for f in schema]

    def estimate_rows(self, table: TableRef) -> int | None:
        """Parquet's row counts from the file footers; None for text formats (only a scan knows)."""
        resource = self._resource(table)
        if resource.format != "parquet":
            return None
        import pyarrow.parquet as pq

        return int(sum(pq.ParquetFile(f.path).metadata.num_rows for f in self.files(table)))

    def count(self, request: ReadRequest) -> int:
        if request.table is not None and self._resource(request.table).format == "parquet":
            estimate = self.estimate_rows(request.table)
            if estimate is not None:
                return estimate
        return sum(batch.num_rows for batch in self.read(request))

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        if request.schema is not None:
            return request.schema
        table = self._table(request)
        files = self.files(table)
        if not files:
            raise ConnectorError(f"{table}: no file matches {self._pattern(table)}", table=table.name)
        for batch in self._raw(self._resource(table), files[0].path, request, None):
            return _select(settle(batch.schema), request)
        raise NoRowsToInfer(
            f"{table}: {files[0].path} holds no rows to infer a schema from", table=table.name
        )

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        """Every matched file of the table, one after the other, in one schema."""
        table = self._table(request)
        return self._read(request, self.files(table))

    def read_file(
        self,
        request: ReadRequest,
        file: FileInfo | Path,
        *,
        on_reject: Callable[[RejectedRow], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """One file of the table `request` names (a loader's unit of exactly-once loading).

        `on_reject` receives this read's malformed records instead of the source's handler, so a
        loader sees exactly the rejects of the files it loads.
        """
        path = file.path if isinstance(file, FileInfo) else file
        return self._read(request, [self._info(path)], on_reject)

    def native_file_read(self, request: ReadRequest, files: Sequence[FileInfo]) -> FileRead | None:
        """`files` of the request's resource for an engine's own reader; None when a CSV file's quoted
        values may span lines (read here: a broken quote then rejects its own line only)."""
        resource = self._resource(self._table(request))
        options = resource.csv
        if resource.format == "csv" and any(quotes_span_lines(f.path, options) for f in files):
            return None
        return FileRead(
            format=resource.format,
            files=tuple((f.path.resolve(), str(f.path)) for f in files),
            csv=CsvFormat(
                delimiter=options.delimiter,
                header=options.header,
                encoding=options.encoding,
                quote=options.quote,
                column_names=tuple(options.column_names) if options.column_names is not None else None,
                null_values=tuple(options.null_values),
            ),
            columns=tuple(request.columns) if request.columns is not None else None,
            label=resource.name,
        )

    # --- internals --------------------------------------------------------------------------------

    def _read(
        self,
        request: ReadRequest,
        files: Iterable[FileInfo],
        on_reject: Callable[[RejectedRow], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        if request.order_by:
            raise ConnectorError(f"{request.label}: a files source cannot order rows", table=request.label)
        resource = self._resource(self._table(request))
        schema: pa.Schema | None = request.schema
        strict = request.schema is None and request.columns is None
        batcher = Rebatcher(request.batch_size)
        for file in files:
            for batch in self._raw(resource, file.path, request, schema, on_reject):
                if schema is None:
                    schema = _select(settle(batch.schema), request)
                aligned = align(batch, schema, strict=strict, label=f"{resource.name} ({file.path.name})")
                yield from batcher.add(aligned)
        yield from batcher.flush()

    def _raw(
        self,
        resource: FileResourceParams,
        path: Path,
        request: ReadRequest,
        schema: pa.Schema | None,
        on_reject: Callable[[RejectedRow], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        reject = on_reject or self._on_reject
        if resource.format == "csv":
            return read_csv(path, resource.csv, request.batch_size, reject, schema)
        if resource.format == "parquet":
            columns = list(request.columns) if request.columns is not None else None
            return read_parquet(path, request.batch_size, columns)
        return read_jsonl(path, request.batch_size, reject)

    def _keep(self, row: RejectedRow) -> None:
        self.rejected_count += 1
        if len(self.rejected) < self.max_rejected:
            self.rejected.append(row)

    def _table(self, request: ReadRequest) -> TableRef:
        if request.table is None:
            raise ConnectorError("a files source reads resources, not SQL queries")
        return request.table

    def _resource(self, table: TableRef | str) -> FileResourceParams:
        name = table if isinstance(table, str) else table.name
        if name not in self._resources:
            raise ConnectorError(
                f"unknown files resource '{name}'", hint=did_you_mean(name, self._resources), table=name
            )
        return self._resources[name]

    def _pattern(self, table: TableRef) -> Path:
        return self.params.base_path / self._resource(table).path


def rejected_batch(rows: Iterable[RejectedRow]) -> pa.RecordBatch:
    """Rejected rows as a batch for the rejected table: `_dk_file`, `_dk_line`, `_dk_reason`, `_dk_raw`."""
    import pyarrow as pa

    rows = list(rows)
    return pa.RecordBatch.from_pydict(
        {
            "_dk_file": [r.file for r in rows],
            "_dk_line": [r.line for r in rows],
            "_dk_reason": [r.reason for r in rows],
            "_dk_raw": [r.text for r in rows],
        },
        schema=pa.schema(
            [
                pa.field("_dk_file", pa.string(), False),
                pa.field("_dk_line", pa.int64()),
                pa.field("_dk_reason", pa.string(), False),
                pa.field("_dk_raw", pa.string()),
            ]
        ),
    )


def _select(schema: pa.Schema, request: ReadRequest) -> pa.Schema:
    import pyarrow as pa

    if request.columns is None:
        return schema
    missing = [c for c in request.columns if schema.get_field_index(c) < 0]
    if missing:
        raise ConnectorError(
            f"{request.label} has no column '{missing[0]}'",
            hint=did_you_mean(missing[0], schema.names),
            table=request.label,
        )
    return pa.schema([schema.field(c) for c in request.columns])
