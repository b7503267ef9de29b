"""Files sources end to end: each format, rejected lines, exactly-once loading, changed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.connectors import ReadRequest, TableRef
from datakit.connectors.files.params import FileResourceParams, FilesParams
from datakit.connectors.files.source import FilesSource
from datakit.load.loader import load_resource
from datakit.load.plan import LoadResult, ResourcePlan
from datakit.load.resolve import infer_contract
from tests.matrix import Target


def write(folder: Path, name: str, fmt: str, rows: list[dict[str, Any]]) -> Path:
    """A file of `rows` in format `fmt`."""
    path = folder / name
    if fmt == "csv":
        lines = ["id,name,score", *(f"{r['id']},{r['name']},{r['score']}" for r in rows)]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def people(start: int, n: int, score: int = 1) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"p{i}", "score": score} for i in range(start, start + n)]


def plan(folder: Path, dest: Target, fmt: str, disposition: str = "append") -> ResourcePlan:
    """A plan as `plans_for` makes it for a files source without a datakit (contract inferred)."""
    source = FilesSource(
        FilesParams(
            base_path=folder,
            resources=[FileResourceParams(name="people", path=f"*.{fmt}", format=fmt)],  # type: ignore[arg-type]
        )
    )
    request = ReadRequest(table=TableRef("people"), batch_size=1000)
    contract = infer_contract(source, request, "people", ["id"], layer="bronze", system="files")
    return ResourcePlan(
        pipeline="files_test",
        resource="people",
        source=source,
        request=request,
        contract=contract,
        target=dest.table("people"),
        source_label="files.people",
        write_disposition=disposition,  # type: ignore[arg-type]
    )


def counts(result: LoadResult) -> tuple[int, int, int]:
    return result.rows_read, result.rows_loaded, result.rows_rejected


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_format_loads_once(dest: Target, tmp_path: Path, fmt: str) -> None:
    write(tmp_path, f"a.{fmt}", fmt, people(0, 3))
    write(tmp_path, f"b.{fmt}", fmt, people(3, 4))

    first = load_resource(plan(tmp_path, dest, fmt), dest.destination)
    again = load_resource(plan(tmp_path, dest, fmt), dest.destination)

    assert counts(first) == (7, 7, 0)
    assert counts(again) == (0, 0, 0)
    assert dest.count("people") == 7
    assert dest.query(f"SELECT sum(id), min(name), max(score) FROM {dest.q('people')}") == [(21, "p0", 1)]
    recorded = dest.query(
        "SELECT path, size, sha256, load_id FROM _datakit.files WHERE target = $1 ORDER BY path",
        [str(dest.table("people"))],
    )
    assert [(r[0], r[1], r[3]) for r in recorded] == [
        (f"a.{fmt}", (tmp_path / f"a.{fmt}").stat().st_size, first.load_id),
        (f"b.{fmt}", (tmp_path / f"b.{fmt}").stat().st_size, first.load_id),
    ]
    assert all(len(r[2]) == 64 for r in recorded)


def test_malformed_csv_line_is_rejected_with_its_line_number(dest: Target, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,score\n1,ann,5\n2,bob,6,extra\n3,cy,7\n")

    result = load_resource(plan(tmp_path, dest, "csv"), dest.destination)

    assert counts(result) == (3, 2, 1)
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert dest.query(f"SELECT id FROM {dest.q('people')} ORDER BY id") == [(1,), (3,)]
    rejected = dest.query(
        "SELECT _dk_file, _dk_row_index, _dk_failed_rule, _dk_reason, _dk_raw, _dk_load_id "
        f"FROM {dest.q('people__rejected')}"
    )
    assert rejected == [
        (
            str(tmp_path / "a.csv"),
            3,
            "parse",
            "expected 3 fields, found 4",
            "2,bob,6,extra",
            result.load_id,
        )
    ]


def test_new_file_loads_alone_and_changed_file_reloads_on_merge(dest: Target, tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "csv", people(0, 3))
    load_resource(plan(tmp_path, dest, "csv", "merge"), dest.destination)
    write(tmp_path, "b.csv", "csv", people(3, 2))

    added = load_resource(plan(tmp_path, dest, "csv", "merge"), dest.destination)
    write(tmp_path, "a.csv", "csv", people(0, 3, score=9))  # same path, new bytes
    changed = load_resource(plan(tmp_path, dest, "csv", "merge"), dest.destination)

    assert counts(added) == (2, 2, 0)
    assert counts(changed) == (3, 3, 0)
    assert dest.query(f"SELECT score, count(*) FROM {dest.q('people')} GROUP BY 1 ORDER BY 1") == [
        (1, 2),
        (9, 3),
    ]
    recorded = dest.query(
        "SELECT count(DISTINCT load_id), count(*) FROM _datakit.files WHERE target = $1",
        [str(dest.table("people"))],
    )
    assert recorded == [(2, 2)]  # one row per path: a.csv of the third load, b.csv of the second


def test_replace_reloads_the_whole_set_only_when_a_file_changed(dest: Target, tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", "jsonl", people(0, 2))
    write(tmp_path, "b.jsonl", "jsonl", people(2, 2))
    load_resource(plan(tmp_path, dest, "jsonl", "replace"), dest.destination)

    unchanged = load_resource(plan(tmp_path, dest, "jsonl", "replace"), dest.destination)
    assert counts(unchanged) == (0, 0, 0)
    assert dest.count("people") == 4  # not emptied by a load that had nothing to read

    write(tmp_path, "b.jsonl", "jsonl", people(2, 3))
    changed = load_resource(plan(tmp_path, dest, "jsonl", "replace"), dest.destination)
    assert counts(changed) == (5, 5, 0)
    assert dest.count("people") == 5


def test_broken_json_line_is_rejected_and_the_rest_loads(dest: Target, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in people(0, 2)] + ['{"id": 9, "name": ', json.dumps(people(2, 1)[0])]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")

    result = load_resource(plan(tmp_path, dest, "jsonl"), dest.destination)

    assert counts(result) == (4, 3, 1)
    rejected = dest.query(f"SELECT _dk_row_index, _dk_failed_rule, _dk_raw FROM {dest.q('people__rejected')}")
    assert rejected == [(3, "parse", '{"id": 9, "name": ')]
