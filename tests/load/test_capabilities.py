"""The loader asks a source what it can do (`SourceCapabilities`), never what class it is."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from datakit.connectors import Column, DuckDBParams, ReadRequest, SourceCapabilities, TableRef
from datakit.connectors.base import FileInfo, RejectedRow
from datakit.connectors.engines.duckdb.destination import DuckDBDestination
from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])


class InMemoryFiles:
    """A file set held in memory: no `FilesSource`, only the `file_sets` capability and its protocol."""

    capabilities = SourceCapabilities(queries=False, schemas=False, file_sets=True)

    def __init__(self, base_path: Path) -> None:
        self.base_path = base_path
        self.contents: dict[str, pa.Table] = {}

    def files(self, table: TableRef) -> list[FileInfo]:
        return [
            FileInfo(
                self.base_path / name, data.nbytes, hashlib.sha256(str(data.to_pylist()).encode()).hexdigest()
            )
            for name, data in sorted(self.contents.items())
        ]

    def read_file(
        self, request: ReadRequest, file: FileInfo, *, on_reject: Callable[[RejectedRow], None]
    ) -> Iterator[pa.RecordBatch]:
        yield from self.contents[file.path.name].to_batches(request.batch_size)

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        for data in self.contents.values():
            yield from data.to_batches(request.batch_size)

    def arrow_schema(self, request: ReadRequest) -> pa.Schema:
        return SCHEMA

    def columns(self, table: TableRef) -> list[Column]:
        return [Column(f.name, str(f.type), True, str(f.type), f.type) for f in SCHEMA]

    def tables(self, schema: str | None = None) -> list[TableRef]:
        return [TableRef("people")]

    def estimate_rows(self, table: TableRef) -> int | None:
        return None

    def count(self, request: ReadRequest) -> int:
        return sum(1 for batch in self.read(request) for _ in range(batch.num_rows))


def _digest(data: pa.Table) -> str:
    return hashlib.sha256(str(data.to_pylist()).encode()).hexdigest()


def test_a_source_declaring_file_sets_loads_each_file_once(tmp_path: Path) -> None:
    source = InMemoryFiles(tmp_path)
    source.contents["a.part"] = pa.table({"id": [1, 2], "name": ["ann", "bob"]}, schema=SCHEMA)
    destination = DuckDBDestination(DuckDBParams(database=str(tmp_path / "w.duckdb")))
    contract = contract_from_spec(
        {
            "table": "people",
            "layer": "bronze",
            "columns": {"id": {"type": "int64"}, "name": {"type": "string"}},
        }
    )
    plan = ResourcePlan(
        pipeline="mem",
        resource="people",
        source=source,
        request=ReadRequest(table=TableRef("people")),
        contract=contract,
        target=TableRef("people", "br__mem__main"),
        source_label="mem.people",
    )
    first = load_resource(plan, destination)
    again = load_resource(plan, destination)  # nothing new: the file is recorded with its checksum
    source.contents["b.part"] = pa.table({"id": [3], "name": ["cy"]}, schema=SCHEMA)
    third = load_resource(plan, destination)  # only the new file
    assert (first.rows_read, again.rows_read, third.rows_read) == (2, 0, 1)
    with destination.transaction() as tx:
        assert tx.query('SELECT count(*) FROM "br__mem__main"."people"') == [(3,)]
        recorded = tx.query('SELECT path FROM "_datakit"."files" ORDER BY path')
    assert recorded == [("a.part",), ("b.part",)]
