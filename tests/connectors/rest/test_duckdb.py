"""REST and files sources into DuckDB through the destination connector: exact counts and sums."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datakit.connectors import DuckDBParams, ReadRequest, TableRef, open_destination, pipe
from datakit.connectors.files import FileResourceParams, FilesParams, FilesSource
from datakit.connectors.rest import RestSource
from datakit.connectors.rest.params import PageNumberPaginator
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource

PAGES, PER_PAGE = 25, 400


def _load(tmp_path: Path, source: Any, ddl: str, city: str) -> tuple[Any, ...]:
    destination = open_destination(DuckDBParams(database=str(tmp_path / "w.duckdb")))
    request = ReadRequest(table=TableRef("t"), batch_size=3000)
    with destination.transaction() as tx:
        tx.execute(ddl)
        written = pipe(source.read(request), lambda batches: tx.write(TableRef("t"), batches))
        (row,) = tx.query(f"SELECT count(*), sum(id), count(DISTINCT {city}) FROM t")
    return (written, *row)


def test_rest_pages_into_duckdb(api: FakeApi, tmp_path: Path) -> None:
    @api.route("/t")
    def _(req: Req) -> Resp:
        page = int(req.query.get("page", "1"))
        start = (page - 1) * PER_PAGE
        data = [{"id": i, "addr": {"city": f"c{i % 7}"}} for i in range(start, start + PER_PAGE)]
        return Resp(body={"data": data if page <= PAGES else []})

    source = RestSource(params(api, resource("t", "/t", paginator=PageNumberPaginator())))
    total = PAGES * PER_PAGE
    ddl = "CREATE TABLE t (id BIGINT, addr__city VARCHAR)"
    assert _load(tmp_path, source, ddl, "addr__city") == (total, total, total * (total - 1) // 2, 7)


def test_files_into_duckdb(tmp_path: Path) -> None:
    for part in range(3):
        lines = "".join(f"{i},c{i % 5}\n" for i in range(part * 1000, part * 1000 + 1000))
        (tmp_path / f"part{part}.csv").write_text("id,city\n" + lines)
    source = FilesSource(
        FilesParams(base_path=tmp_path, resources=[FileResourceParams(name="t", path="*.csv", format="csv")])
    )
    ddl = "CREATE TABLE t (id BIGINT, city VARCHAR)"
    assert _load(tmp_path, source, ddl, "city") == (3000, 3000, 3000 * 2999 // 2, 5)
