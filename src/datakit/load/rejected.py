"""Rejected rows: collected while the load streams, written to `<table>__rejected` at its end.

The destination connection is busy with the good rows' bulk write while batches stream, so rejected
rows wait in an Arrow IPC file on local disk (memory stays bounded however many rows fail) and are
written in the same transaction after the data. Every rejected table is normalised to one schema:
the text of every column the load knows (source and contract), then the load id, the row's position in
the read (`_dk_row_index`), the failed column and rule, the reason and the rejection time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from datakit.connectors.stamp import constant
from datakit.connectors.writes import FILE, REJECTED_AT
from datakit.contracts.audit import LOAD_ID
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX

if TYPE_CHECKING:
    import pyarrow as pa


class RejectSpool:
    """Rejected rows of one load, spooled to a temporary Arrow IPC file."""

    def __init__(self, columns: Sequence[str], load_id: str, rejected_at: datetime) -> None:
        import pyarrow as pa

        self.columns = list(dict.fromkeys(columns))
        self.load_id = load_id
        self.rejected_at = rejected_at
        fields = [pa.field(name, pa.string()) for name in self.columns]
        fields += [
            pa.field(LOAD_ID, pa.string(), False),
            pa.field(ROW_INDEX, pa.int64(), False),
            pa.field(FAILED_COLUMN, pa.string()),
            pa.field(FAILED_RULE, pa.string(), False),
            pa.field(REASON, pa.string(), False),
            pa.field(REJECTED_AT, pa.timestamp("us", tz="UTC"), False),
        ]
        self.schema = pa.schema(fields)
        self.rows = 0
        self._file: Any = None
        self._writer: Any = None

    def add(self, rejected: pa.Table, offset: int, *, file: str | None = None) -> None:
        """Add rows rejected from a batch whose first row is row `offset` of the read.

        `file`: the file the batch came from, for the `_dk_file` column a files source's table has.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if rejected.num_rows == 0:
            return
        n = rejected.num_rows
        names = rejected.schema.names
        arrays: list[pa.Array] = []
        for name in self.columns:
            if name in names:
                column = rejected.column(name).combine_chunks()
            elif name == FILE and file is not None:
                column = constant(file, n, pa.string())
            else:
                column = pa.nulls(n, pa.string())
            arrays.append(column.cast(pa.string()))
        index = (
            pc.add(rejected.column(ROW_INDEX).combine_chunks().cast(pa.int64()), offset)
            if ROW_INDEX in names
            else constant(offset, n, pa.int64())
        )
        rule = (
            rejected.column(FAILED_RULE).combine_chunks()
            if FAILED_RULE in names
            else constant("transform", n, pa.string())
        )
        failed = (
            rejected.column(FAILED_COLUMN).combine_chunks()
            if FAILED_COLUMN in names
            else pa.nulls(n, pa.string())
        )
        arrays += [
            constant(self.load_id, n, pa.string()),
            index,
            failed.cast(pa.string()),
            rule.cast(pa.string()),
            pc.fill_null(rejected.column(REASON).combine_chunks().cast(pa.string()), "rejected"),
            constant(self.rejected_at, n, pa.timestamp("us", tz="UTC")),
        ]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="datakit-rejected-")  # noqa: SIM115 - closed by close()
            self._writer = pa.ipc.new_stream(self._file, self.schema)
        self._writer.write_batch(batch)
        self.rows += n

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The spooled rows, read back in order."""
        import pyarrow as pa

        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self._file.seek(0)
        yield from pa.ipc.open_stream(self._file)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
