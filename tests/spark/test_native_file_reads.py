"""Spark reads file sets itself (issue 18, item 3): CSV, JSON Lines and Parquet files are read by its
executors, not streamed through the driver, with the files source's guarantees.

The source's own file reads are made to fail, so a load that passes did not use them; what is asserted
is what the same load gives through the driver (tests/load/test_files_load.py): each file loaded once
and recorded, malformed records rejected with rule `parse` and their text, contract rules applied, and
on a merge the row of the later file kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.base import FileInfo, FileRead, RejectedRow
from datakit.connectors.files.params import FileResourceParams, FilesParams
from datakit.connectors.files.source import FilesSource
from datakit.contracts import contract_from_spec
from datakit.load.loader import load_resource
from datakit.load.plan import ResourcePlan
from tests.load.test_files_load import counts, people, write
from tests.matrix import WITH_SPARK, Target

pytestmark = pytest.mark.parametrize("dest", [WITH_SPARK[-1]], indirect=True)


class _NativeOnly(FilesSource):
    """A files source whose files may only be read by the destination's workers."""

    def __init__(self, params: FilesParams) -> None:
        super().__init__(params)
        self.native: list[FileRead] = []

    def read_file(
        self, request: ReadRequest, file: Any, *, on_reject: Callable[[RejectedRow], None] | None = None
    ) -> Iterator[object]:
        raise AssertionError(f"{file} was read through the driver")

    def native_file_read(self, request: ReadRequest, files: Sequence[FileInfo]) -> FileRead | None:
        read = super().native_file_read(request, files)
        assert read is not None
        self.native.append(read)
        return read


def _plan(
    folder: Path, dest: Target, fmt: str, disposition: str = "append", columns: dict[str, Any] | None = None
) -> ResourcePlan:
    source = _NativeOnly(
        FilesParams(
            base_path=folder,
            resources=[FileResourceParams(name="people", path=f"*.{fmt}", format=fmt)],  # type: ignore[arg-type]
        )
    )
    spec = {"id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "integer", "max": 100}}
    contract = contract_from_spec(
        {"table": "people", "layer": "bronze", "primary_key": ["id"], "columns": spec | (columns or {})}
    )
    return ResourcePlan(
        pipeline="files_test",
        resource="people",
        source=source,
        request=ReadRequest(table=TableRef("people"), batch_size=1000),
        contract=contract,
        target=dest.table("people"),
        source_label="files.people",
        write_disposition=disposition,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_format_is_read_by_spark_once(dest: Target, tmp_path: Path, fmt: str) -> None:
    write(tmp_path, f"a.{fmt}", fmt, people(0, 3))
    write(tmp_path, f"b.{fmt}", fmt, people(3, 4))
    plan = _plan(tmp_path, dest, fmt)

    first = load_resource(plan, dest.destination)
    again = load_resource(plan, dest.destination)

    native = plan.source.native  # type: ignore[attr-defined]
    assert [[label for _, label in read.files] for read in native] == [
        [str(tmp_path / f"a.{fmt}"), str(tmp_path / f"b.{fmt}")]
    ]  # the second load had no file to read
    assert counts(first) == (7, 7, 0)
    assert counts(again) == (0, 0, 0)
    assert dest.query(f"SELECT sum(id), min(name), max(score), count(*) FROM {dest.q('people')}") == [
        (21, "p0", 1, 7)
    ]
    recorded = dest.query(
        "SELECT path, load_id FROM _datakit.files WHERE target = $1 ORDER BY path",
        [str(dest.table("people"))],
    )
    assert recorded == [(f"a.{fmt}", first.load_id), (f"b.{fmt}", first.load_id)]


def test_malformed_and_invalid_records_are_rejected_with_their_file(dest: Target, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,score\n1,ann,5\n2,bob,6,extra\n3,cy,700\n")
    (tmp_path / "b.csv").write_text('id,name,score\n4,"dee, the second",8\n5,,9\n')

    result = load_resource(_plan(tmp_path, dest, "csv"), dest.destination)

    assert counts(result) == (5, 3, 2)
    assert dest.query(f"SELECT id, name FROM {dest.q('people')} ORDER BY id") == [
        (1, "ann"),
        (4, "dee, the second"),
        (5, None),
    ]
    rejected = dest.query(
        "SELECT _dk_file, id, _dk_failed_column, _dk_failed_rule, _dk_reason, _dk_raw "
        f"FROM {dest.q('people__rejected')} ORDER BY _dk_failed_rule"
    )
    a = str(tmp_path / "a.csv")
    assert rejected == [
        (a, None, None, "parse", "malformed CSV record", "2,bob,6,extra"),
        (a, "3", "score", "range", "'700' is above the maximum 100", None),
    ]


def test_json_lines_flatten_objects_and_reject_broken_lines(dest: Target, tmp_path: Path) -> None:
    rows = [{"id": 1, "name": "ann", "score": 5, "home": {"city": "Oslo"}, "tags": ["a", "b"]}]
    lines = [json.dumps(r) for r in rows] + ['{"id": 9, "name": ', json.dumps(people(2, 1)[0])]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    extra = {"home__city": {"type": "string"}, "tags": {"type": "string"}}

    result = load_resource(_plan(tmp_path, dest, "jsonl", columns=extra), dest.destination)

    assert counts(result) == (3, 2, 1)
    assert dest.query(f"SELECT id, home__city, tags FROM {dest.q('people')} ORDER BY id") == [
        (1, "Oslo", '["a","b"]'),
        (2, None, None),
    ]
    rejected = dest.query(f"SELECT _dk_failed_rule, _dk_raw FROM {dest.q('people__rejected')}")
    assert rejected == [("parse", '{"id": 9, "name": ')]


def test_merge_keeps_the_row_of_the_later_file(dest: Target, tmp_path: Path) -> None:
    # b.csv is the larger file: Spark reads larger files first, the load still keeps the later file's row
    write(tmp_path, "a.csv", "csv", [{"id": 1, "name": "old", "score": 1}])
    write(tmp_path, "b.csv", "csv", [{"id": 1, "name": "new", "score": 2}, *people(2, 50)])

    result = load_resource(_plan(tmp_path, dest, "csv", "merge"), dest.destination)

    assert counts(result) == (52, 51, 1)
    assert dest.query(f"SELECT name, score FROM {dest.q('people')} WHERE id = 1") == [("new", 2)]
    rejected = dest.query(f"SELECT _dk_file, name, _dk_failed_rule FROM {dest.q('people__rejected')}")
    assert rejected == [(str(tmp_path / "a.csv"), "old", "duplicate_key")]
