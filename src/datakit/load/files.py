"""Exactly-once loading of file sets: which files a load reads, and the record of what it loaded.

For sources that read sets of files (`SourceCapabilities.file_sets`, the `FileSetSource` protocol).

`_datakit.files` (or a tenant's `acme__datakit.files`) holds one row per loaded file (pipeline,
resource, target, path, size, SHA-256, load id), written in the data's transaction, so a file is
recorded if and only if its rows are in. Which files a load reads:

* append / merge: the files not recorded with their current checksum (new files and changed ones; a
  changed file's rows are appended again, or merged on the key);
* replace: every file, but only when at least one is new or changed (a file set is a snapshot); when
  none is, nothing is read and the target stays as it is;
* `--full-refresh`: every file.

Paths are recorded relative to the source's base path, so moving the project does not reload anything.
Malformed records (`RejectedRow`) are collected while the files stream and become rows of the rejected
table: the file in `_dk_file`, its line number in `_dk_row_index`, the reason, the raw text in `_dk_raw`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from datakit.connectors.writes import FILE, PARSE_RULE, RAW
from datakit.contracts.validate import FAILED_COLUMN, FAILED_RULE, REASON, ROW_INDEX
from datakit.load.state import FILES, FILES_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

    from datakit.connectors import ReadRequest, Transaction
    from datakit.connectors.base import FileInfo, FileSetSource, RejectedRow
    from datakit.load.plan import ResourcePlan

REJECT_COLUMNS = (FILE, RAW)
"""Columns the rejected table of a files resource has in addition to the data's."""


class FileLoad:
    """The files one load reads, their malformed records, and how they are recorded."""

    def __init__(
        self,
        tx: Transaction,
        plan: ResourcePlan,
        source: FileSetSource,
        *,
        disposition: str,
        full_refresh: bool,
    ) -> None:
        assert plan.request.table is not None
        self.source = source
        self.plan = plan
        self.base = source.base_path
        self.rejected: list[RejectedRow] = []
        current = source.files(plan.request.table)
        loaded = {} if full_refresh else self._loaded(tx)
        changed = [f for f in current if loaded.get(self._key(f.path)) != f.sha256]
        self.replace_all = full_refresh or (disposition == "replace" and bool(changed))
        self.pending: list[FileInfo] = current if self.replace_all else changed

    def read(self, request: ReadRequest) -> Iterator[tuple[pa.RecordBatch, str]]:
        """The pending files' batches, one file after the other, each with its file (as `_dk_file`
        names it); malformed records kept aside."""
        for file in self.pending:
            for batch in self.source.read_file(request, file, on_reject=self.rejected.append):
                yield batch, str(file.path)

    def rejected_table(self) -> pa.Table:
        """The malformed records as rows for the rejected spool (line number as the row index)."""
        import pyarrow as pa

        rows = self.rejected
        return pa.table(
            {
                FILE: pa.array([r.file for r in rows], pa.string()),
                RAW: pa.array([r.text for r in rows], pa.string()),
                ROW_INDEX: pa.array([r.line if r.line is not None else 0 for r in rows], pa.int64()),
                FAILED_COLUMN: pa.nulls(len(rows), pa.string()),
                FAILED_RULE: pa.array([PARSE_RULE] * len(rows), pa.string()),
                REASON: pa.array([r.reason for r in rows], pa.string()),
            }
        )

    def record(self, tx: Transaction, load_id: str, at: datetime) -> None:
        """Record the loaded files (in the load's transaction); replace forgets the earlier set."""
        table = tx.quote(self.plan.state_schema, FILES)
        keys = [self.plan.pipeline, self.plan.resource, str(self.plan.target)]
        where = "pipeline = $1 AND resource = $2 AND target = $3"
        if self.replace_all:
            tx.execute(f"DELETE FROM {table} WHERE {where}", keys)
        names = ", ".join(tx.quote(name) for name, _, _ in FILES_COLUMNS)
        for file in self.pending:
            path = self._key(file.path)
            if not self.replace_all:
                tx.execute(f"DELETE FROM {table} WHERE {where} AND path = $4", [*keys, path])
            tx.execute(
                f"INSERT INTO {table} ({names}) VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS TIMESTAMPTZ))",
                [*keys, path, file.size, file.sha256, load_id, at],
            )

    def _loaded(self, tx: Transaction) -> dict[str, str]:
        table = tx.quote(self.plan.state_schema, FILES)
        rows = tx.query(
            f"SELECT path, sha256 FROM {table} WHERE pipeline = $1 AND resource = $2 AND target = $3",
            [self.plan.pipeline, self.plan.resource, str(self.plan.target)],
        )
        return {str(path): str(sha) for path, sha in rows}

    def _key(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:
            return path.resolve().as_posix()
