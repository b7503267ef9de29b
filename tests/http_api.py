"""A local HTTP API for the REST tests: routes are plain functions, requests are recorded.

`ThreadingHTTPServer` on 127.0.0.1 and a free port, one per test, speaking HTTP/1.1 with keep-alive like
real APIs. A route gets a `Req` and returns a `Resp`; `api.requests` lists what the source asked for.
Shared by the connector tests (`tests/connectors/rest`) and the loader tests (`tests/load`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Resp:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[Req], Resp]


class FakeApi:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Req] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(fn: Route) -> Route:
            self.routes[path] = fn
            return fn

        return register

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Req(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                with api._lock:
                    api.requests.append(req)
                route = api.routes.get(parts.path)
                try:
                    resp = route(req) if route else Resp(404, {"error": f"no route {parts.path}"})
                except Exception as exc:  # a broken test route: answer, do not hang the client
                    resp = Resp(599, {"error": repr(exc)})
                if resp.delay:
                    time.sleep(resp.delay)
                payload = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
                try:
                    self.send_response(resp.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in resp.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            do_GET = _serve
            do_POST = _serve

        return Handler


@contextmanager
def running_api() -> Iterator[FakeApi]:
    """A started `FakeApi`, shut down on exit."""
    server = FakeApi()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


API_SOURCE = """\
source:
  name: events_api
  type: rest_api
  connection:
    base_url: {url}
    retry: {{max_attempts: 1}}
  resources:
    - name: events
      endpoint: /events
      data_path: data
      paginator: {{type: page_number}}
      primary_key: [id]
"""
API_PIPELINE = """\
pipeline:
  name: api_bronze
  source: {name: events_api}
  destination: {name: warehouse, layer: bronze}
"""
API_JOB = """\
job:
  name: api_job
  pipelines:
    - name: api_bronze
  retries: {retries}
"""


def add_api_job(root: Path, url: str, *, retries: str = "{max_attempts: 1}") -> None:
    """Add to the scaffold project at `root` job `api_job`: one load of the API at `url`'s `/events`
    (source `events_api`, pipeline `api_bronze`), retried as `retries` says."""
    config = root / "config"
    (config / "sources" / "events_api.yaml").write_text(API_SOURCE.format(url=url), encoding="utf-8")
    (config / "pipelines" / "api_bronze.yaml").write_text(API_PIPELINE, encoding="utf-8")
    (config / "jobs" / "api_job.yaml").write_text(API_JOB.format(retries=retries), encoding="utf-8")
