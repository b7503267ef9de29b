"""REST source benchmark: 1M JSON records over 1,000 pages from a local API into DuckDB.

The API runs in a child process (a `ThreadingHTTPServer`, HTTP/1.1 keep-alive, pages rendered ahead of
time so the server is not what is measured) and pages by `next` links in the body, which the source
detects. `RestSource` reads it (httpx -> pyarrow.json -> Arrow, flattened `address__city` columns) in a
background thread (`connectors.pipe`, as the loader will) while DuckDB ingests the Arrow stream. Rows
are checked by count and id sum; peak RSS shows memory stays bounded by a page plus a batch (plus
DuckDB's buffer pool, capped at 512 MB), not by the 1M records. dlt is not installed, so there is no dlt run.

    .venv/bin/python bench/rest.py                  # 1M records, 1,000 pages
    .venv/bin/python bench/rest.py --pages 100      # a quicker run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

SERVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

pages, per_page = int(sys.argv[1]), int(sys.argv[2])

def record(i):
    return {"id": i, "name": f"user-{i}", "email": f"user{i}@example.com", "score": i * 0.5,
            "active": i % 3 == 0, "created_at": f"2024-01-01T00:00:{i % 60:02d}Z",
            "address": {"city": f"city-{i % 100}", "zip": f"{i % 99999:05d}"}}

def page(n):
    start = (n - 1) * per_page
    body = {"data": [record(i) for i in range(start, start + per_page)],
            "next": f"/users?page={n + 1}" if n < pages else None}
    return json.dumps(body).encode()

rendered = {n: page(n) for n in range(1, pages + 1)}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args):
        pass
    def do_GET(self):
        n = int(self.path.partition("page=")[2] or 1)
        payload = rendered[n]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=65_536)
    args = parser.parse_args()
    total = args.pages * args.per_page

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.pages), str(args.per_page)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        rate = run(f"http://127.0.0.1:{port}", total, args.batch_size)
    finally:
        server.terminate()
        server.wait()
    print(f"rest_records_per_s: {rate:.0f}")
    print("rest_vs_dlt: n/a")


def run(base_url: str, total: int, batch_size: int) -> float:
    import duckdb
    import pyarrow as pa

    from datakit.connectors import ReadRequest, TableRef, pipe
    from datakit.connectors.rest import RestParams, RestResourceParams, RestSource

    source = RestSource(
        RestParams(
            base_url=base_url,
            resources=[RestResourceParams(name="users", endpoint="/users", max_pages=100_000)],
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        con.execute("SET memory_limit = '512MB'")
        start = time.perf_counter()
        batches = source.read(ReadRequest(table=TableRef("users"), batch_size=batch_size))

        def ingest(stream: Iterator[pa.RecordBatch]) -> None:
            first = next(stream)
            reader = pa.RecordBatchReader.from_batches(first.schema, _chain(first, stream))
            con.register("incoming", reader)
            con.execute("CREATE TABLE users AS SELECT * FROM incoming")

        pipe(batches, ingest)  # as the loader does: reading and DuckDB's ingestion run at once
        seconds = time.perf_counter() - start
        count, id_sum, cities = con.execute(
            "SELECT count(*), sum(id), count(DISTINCT address__city) FROM users"
        ).fetchone()  # type: ignore[misc]
        con.close()
    expected_sum = total * (total - 1) // 2
    if count != total or id_sum != expected_sum or cities != min(100, total):
        raise SystemExit(f"wrong result: {count} rows, id sum {id_sum}, {cities} cities")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"records": total, "seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb)}))
    return total / seconds


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


if __name__ == "__main__":
    main()
