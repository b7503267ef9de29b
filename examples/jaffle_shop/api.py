"""The jaffle shop's payments API, for trying the example on a laptop (and for its tests).

    python api.py [--port 8765]

GET /<tenant>/payments?page=1&per_page=50&updated_since=2018-02-01T00:00:00Z returns
{"data": [...], "page": 1, "total_pages": N}: the payments of data/<tenant>/payments.json, oldest
update first. When JAFFLE_API_TOKEN_<TENANT> is set (JAFFLE_API_TOKEN_DEFAULT, ..._ACME), requests for
that tenant need `Authorization: Bearer <token>`. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "data"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Payments(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[1] != "payments" or not (DATA / parts[0]).is_dir():
            return self._send(404, {"error": f"no such resource: {url.path}"})
        tenant = parts[0]
        token = os.environ.get(f"JAFFLE_API_TOKEN_{tenant.upper()}")
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            return self._send(401, {"error": "unauthorized"})
        query = parse_qs(url.query)
        try:
            page = int(query.get("page", ["1"])[0])
            size = int(query.get("per_page", ["50"])[0])
            since = _when(query["updated_since"][0]) if "updated_since" in query else None
        except ValueError as exc:
            return self._send(400, {"error": str(exc)})
        records = json.loads((DATA / tenant / "payments.json").read_text(encoding="utf-8"))
        if since is not None:
            records = [r for r in records if _when(r["updated_at"]) >= since]
        records.sort(key=lambda r: (r["updated_at"], r["id"]))
        pages = max(1, -(-len(records) // size))
        chunk = records[(page - 1) * size : page * size]
        return self._send(200, {"data": chunk, "page": page, "total_pages": pages})

    def _send(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Payments)
    print(f"serving on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
