"""`FilesSource` on real files: each format, globs, rejected rows with line numbers, stable checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.connectors import ConnectorError, ReadRequest, SchemaMismatch, Source, TableRef
from datakit.connectors.files import (
    CsvParams,
    FileResourceParams,
    FilesParams,
    FilesSource,
    RejectedRow,
    rejected_batch,
)


def _source(base: Path, path: str, fmt: str, **kwargs: Any) -> FilesSource:
    resource = FileResourceParams(name="t", path=path, format=fmt, **kwargs)  # type: ignore[arg-type]
    return FilesSource(FilesParams(base_path=base, resources=[resource]))


def _rows(source: FilesSource, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for batch in source.read(ReadRequest(table=TableRef("t"), **kwargs)):
        out.extend(batch.to_pylist())
    return out


def test_csv_with_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,price\n1,ann,1.5\n2,,2\n")
    source = _source(tmp_path, "a.csv", "csv")
    assert isinstance(source, Source)
    assert _rows(source) == [{"id": 1, "name": "ann", "price": 1.5}, {"id": 2, "name": None, "price": 2.0}]
    assert [(c.name, c.arrow_type) for c in source.columns(TableRef("t"))] == [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("price", pa.float64()),
    ]


def test_csv_options_delimiter_quote_encoding_no_header(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes("1;'Zoë; the first'\n2;'Åsa'\n".encode("latin-1"))
    csv = CsvParams(delimiter=";", quote="'", encoding="latin-1", header=False, column_names=["id", "name"])
    assert _rows(_source(tmp_path, "b.csv", "csv", csv=csv)) == [
        {"id": 1, "name": "Zoë; the first"},
        {"id": 2, "name": "Åsa"},
    ]


def test_malformed_csv_lines_are_rejected_with_their_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("id,name\n1,a\n2,b,extra\n3,c\n4\n5,e\n")
    source = _source(tmp_path, "bad.csv", "csv")
    assert [r["id"] for r in _rows(source)] == [1, 3, 5]
    path = str(tmp_path / "bad.csv")
    assert source.rejected == [
        RejectedRow(path, 3, "expected 2 fields, found 3", "2,b,extra"),
        RejectedRow(path, 5, "expected 2 fields, found 1", "4"),
    ]
    batch = rejected_batch(source.rejected)
    assert batch.column("_dk_line").to_pylist() == [3, 5]
    assert batch.schema.names == ["_dk_file", "_dk_line", "_dk_reason", "_dk_raw"]


def test_an_unterminated_quote_rejects_its_own_line_and_nothing_else(tmp_path: Path) -> None:
    """Read alone, pyarrow folds the lines after a quote that is never closed into one value."""
    lines = ["id;name", "1;'Zoë'", "2;'never closed", "3;'two", "lines'", "4;'a''b'c", "5;x;extra", "6;'e'"]
    (tmp_path / "q.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    source = _source(tmp_path, "q.csv", "csv", csv=CsvParams(delimiter=";", quote="'", encoding="latin-1"))
    assert _rows(source) == [
        {"id": 1, "name": "Zoë"},
        {"id": 3, "name": "two\r\nlines"},
        {"id": 6, "name": "e"},
    ]
    assert [(r.line, r.text) for r in source.rejected] == [
        (3, "2;'never closed"),
        (6, "4;'a''b'c"),
        (7, "5;x;extra"),
    ]
    assert source.rejected[0].reason.startswith("unterminated or malformed quote")
    assert source.rejected[2].reason == "expected 2 fields, found 3"


def test_csv_quotes_are_scanned_only_when_a_line_has_an_odd_count(tmp_path: Path) -> None:
    from datakit.connectors.files.params import CsvParams as Params
    from datakit.connectors.files.quoting import quotes_span_lines

    even, odd = tmp_path / "even.csv", tmp_path / "odd.csv"
    even.write_text('a,b\n"x, y",2\n"say ""hi""",3\n')
    odd.write_text('a,b\n"x\ny",2\n')
    assert not quotes_span_lines(even, Params())
    assert quotes_span_lines(odd, Params())
    assert quotes_span_lines(even, Params(encoding="utf-16"))  # not scannable as bytes: read strictly


def test_rejected_rows_can_go_to_a_callback_and_are_capped(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("id,name\n" + "x\n" * 5 + "1,a\n")
    seen: list[RejectedRow] = []
    resource = FileResourceParams(name="t", path="bad.csv", format="csv")
    source = FilesSource(FilesParams(base_path=tmp_path, resources=[resource]), on_reject=seen.append)
    assert len(_rows(source)) == 1 and len(seen) == 5 and source.rejected == []
    capped = FilesSource(FilesParams(base_path=tmp_path, resources=[resource]), max_rejected=2)
    _rows(capped)
    assert len(capped.rejected) == 2 and capped.rejected_count == 5


def test_parquet(tmp_path: Path) -> None:
    table = pa.table({"id": pa.array(range(1000), pa.int32()), "v": [f"v{i}" for i in range(1000)]})
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=300)
    source = _source(tmp_path, "*.parquet", "parquet")
    batches = list(source.read(ReadRequest(table=TableRef("t"), batch_size=256)))
    assert max(b.num_rows for b in batches) <= 256
    assert pa.Table.from_batches(batches).equals(table)
    assert source.estimate_rows(TableRef("t")) == 1000
    assert source.count(ReadRequest(table=TableRef("t"))) == 1000
    assert _rows(source, columns=["v"])[:2] == [{"v": "v0"}, {"v": "v1"}]


def test_jsonl_flattens_and_rejects_broken_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "user": {"name": "ann"}, "tags": ["a"]}),
        "{broken",
        "",
        json.dumps({"id": 3, "user": {"name": "cy"}, "tags": []}),
        "[1, 2]",
    ]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    source = _source(tmp_path, "e.jsonl", "jsonl")
    assert _rows(source) == [
        {"id": 1, "user__name": "ann", "tags": '["a"]'},
        {"id": 3, "user__name": "cy", "tags": "[]"},
    ]
    assert [(r.line, r.reason.split(":")[0]) for r in source.rejected] == [
        (2, "invalid JSON"),
        (5, "not a JSON object"),
    ]


def test_jsonl_fast_path_keeps_types_across_blocks(tmp_path: Path) -> None:
    (tmp_path / "big.jsonl").write_text(
        "".join(json.dumps({"id": i, "x": {"y": i * 2}}) + "\n" for i in range(2500))
    )
    source = _source(tmp_path, "big.jsonl", "jsonl")
    batches = list(source.read(ReadRequest(table=TableRef("t"), batch_size=1000)))
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert batches[0].schema.names == ["id", "x__y"] and source.rejected == []


def test_glob_reads_every_matching_file_in_order(tmp_path: Path) -> None:
    (tmp_path / "in" / "2024").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("id,name\n1,a\n")
    (tmp_path / "in" / "2024" / "b.csv").write_text("id,name\n2,b\n")
    (tmp_path / "in" / "c.txt").write_text("not me")
    source = _source(tmp_path, "in/**/*.csv", "csv")
    assert [f.path.name for f in source.files("t")] == ["b.csv", "a.csv"]  # sorted by path
    assert sorted(r["id"] for r in _rows(source)) == [1, 2]
    one = source.files("t")[1]
    rows = [r for b in source.read_file(ReadRequest(table=TableRef("t")), one) for r in b.to_pylist()]
    assert rows == [{"id": 1, "name": "a"}]


def test_later_files_must_match_the_first_files_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    (tmp_path / "b.csv").write_text("id,new\n2,x\n")
    with pytest.raises(SchemaMismatch, match="new appeared"):
        _rows(_source(tmp_path, "*.csv", "csv"))
    schema = pa.schema([pa.field("id", pa.int32())])
    assert _rows(_source(tmp_path, "*.csv", "csv"), schema=schema) == [{"id": 1}, {"id": 2}]


def test_checksums_are_stable_and_follow_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id\n1\n")
    source = _source(tmp_path, "*.csv", "csv")
    first = source.files("t")[0]
    assert first.size == 5 and first.sha256 == hashlib.sha256(b"id\n1\n").hexdigest()
    assert _source(tmp_path, "*.csv", "csv").files("t") == [first]  # the same in another source
    path.write_text("id\n2\n")
    changed = source.files("t")[0]
    assert changed.size == first.size and changed.sha256 != first.sha256


def test_errors_name_the_resource_and_file(tmp_path: Path) -> None:
    source = _source(tmp_path, "none/*.csv", "csv")
    assert source.files("t") == [] and _rows(source) == []
    with pytest.raises(ConnectorError, match="no file matches"):
        source.arrow_schema(ReadRequest(table=TableRef("t")))
    with pytest.raises(ConnectorError, match="unknown files resource 'x'"):
        source.files("x")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ConnectorError, match=r"reading .*bad\.parquet"):
        _rows(_source(tmp_path, "bad.parquet", "parquet"))
    (tmp_path / "t.csv").write_text("id\n1\nabc\n")
    with pytest.raises(ConnectorError, match=r"t\.csv.*abc"):
        _rows(_source(tmp_path, "t.csv", "csv"), schema=pa.schema([pa.field("id", pa.int64())]))


def test_native_file_read_names_the_files_and_leaves_quoted_line_breaks_to_the_driver(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id;name\n1;ann\n")
    (tmp_path / "b.csv").write_text('id;name\n2;"two\nlines"\n')
    source = _source(tmp_path, "*.csv", "csv", csv=CsvParams(delimiter=";", null_values=["", "NA"]))
    request = ReadRequest(table=TableRef("t"), columns=["name"])
    files = source.files("t")

    read = source.native_file_read(request, files[:1])
    assert read is not None and read.format == "csv" and read.columns == ("name",)
    assert read.files == ((files[0].path.resolve(), str(files[0].path)),)
    assert (read.csv.delimiter, read.csv.null_values) == (";", ("", "NA"))
    assert source.native_file_read(request, files) is None  # b.csv: a quoted value spans lines
