"""Secrets never leave in any form: a REST job against an API that echoes its credentials, end to end.

A local server answers every request with the Authorization header and the raw query string it got
(401 with a JSON body, 500 with a plain-text one) and takes the job's failure webhook. The job loads
from three REST sources (basic auth, bearer, an API key in the query) through the CLI, then every
place datakit writes text is searched for every form of every canary: the CLI's output, every file of
the project (run history, logs), the webhook body the receiver got, and the status pages.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from tests.config.helpers import write
from tests.masking.canaries import canary, file_leaks, leak_forms, leaks

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

USER = "ann"
HOOK_TOKEN = "hook-token-0d9e"


@dataclass
class EchoServer:
    """Echoes credentials back in error bodies; records what it was sent."""

    server: ThreadingHTTPServer
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # path, Authorization, raw query
    hooks: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    state: dict[str, EchoServer] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            authorization = self.headers.get("Authorization", "")
            state["echo"].seen.append((parts.path, authorization, parts.query))
            if parts.path == "/denied":  # JSON: `"` escaped, non-ASCII as \\u escapes
                body = json.dumps({"error": "denied", "authorization": authorization, "query": parts.query})
                self._answer(401, body.encode(), "application/json")
            else:
                body = f"broken; authorization={authorization}; query={parts.query}"
                self._answer(500, body.encode(), "text/plain; charset=utf-8")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state["echo"].hooks.append(self.rfile.read(length))
            self._answer(200, b"{}", "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["echo"] = EchoServer(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state["echo"]
    finally:
        server.shutdown()
        server.server_close()


SOURCE = """\
source:
  name: {name}
  type: rest_api
  connection:
    base_url: {url}
    auth: {auth}
    retry: {{max_attempts: 2, backoff_factor: 0}}
  resources:
    - {{name: denied, endpoint: /denied}}
    - {{name: broken, endpoint: /broken, params: {{page: "1"}}}}
"""
AUTHS = {
    "basic_api": f"{{type: basic, username: {USER}, password_secret_key: basic_password}}",
    "bearer_api": "{type: bearer, credentials_secret_key: bearer_token}",
    "key_api": "{type: api_key, location: query, name: api_key, credentials_secret_key: api_key}",
}


def make_project(root: Path, url: str) -> None:
    write(
        root,
        "datakit.yaml",
        """
        name: canaries
        notifications:
          webhook: {url_secret_key: hook_url}
        """,
    )
    write(
        root,
        "config/secrets_mapping.yaml",
        """
        secrets:
          basic_password: {env_var: CANARY_BASIC}
          bearer_token: {env_var: CANARY_BEARER}
          api_key: {env_var: CANARY_KEY}
          hook_url: {env_var: CANARY_HOOK_URL}
        """,
    )
    write(root, "config/destinations/local.yaml", "destination: {name: local, type: duckdb}\n")
    for name, auth in AUTHS.items():
        write(root, f"config/sources/{name}.yaml", SOURCE.format(name=name, url=url, auth=auth))
        write(
            root,
            f"config/pipelines/{name}.yaml",
            f"pipeline: {{name: {name}_bronze, source: {{name: {name}}}, "
            "destination: {name: local, layer: bronze}}\n",
        )
    write(
        root,
        "config/jobs/daily.yaml",
        f"""
        job:
          name: daily
          pipelines: [{", ".join(f"{name}_bronze" for name in AUTHS)}]
          execution: {{mode: sequential, continue_on_failure: true}}
          retries: {{max_attempts: 1}}
          notifications: {{on_failure: true, channels: [log, webhook]}}
        """,
    )


def cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | env
    return subprocess.run(
        [sys.executable, "-m", "datakit", *args],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )


def history_text(root: Path) -> str:
    """Every value of every table of the run history, as text."""
    with sqlite3.connect(root / ".datakit" / "state.db") as db:
        tables = [name for (name,) in db.execute("select name from sqlite_master where type = 'table'")]
        rows = [row for table in tables for row in db.execute(f'select * from "{table}"')]
    return "\n".join(str(value) for row in rows for value in row)


def status_pages(root: Path, env: dict[str, str]) -> str:
    """The HTML of every status page, as `datakit serve` renders it."""
    from datakit.config import load_project
    from datakit.orchestrate.store import open_store
    from datakit.server.pages import page_routes

    project = load_project(root, environ={**os.environ, **env})
    store = open_store(project)
    try:
        client = TestClient(Starlette(routes=page_routes(project, store)))
        pages = [client.get(path) for path in ("/", "/runs/1", "/jobs/daily", "/triggers")]
    finally:
        store.close()
    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    return "\n".join(page.text for page in pages)


def test_no_form_of_a_secret_reaches_output_history_logs_webhooks_or_pages(
    tmp_path: Path, echo: EchoServer
) -> None:
    secrets = {
        "CANARY_BASIC": canary("basic"),
        "CANARY_BEARER": canary("bearer", ascii_only=True),  # httpx sends ASCII headers only
        "CANARY_KEY": canary("key"),
    }
    forms = {
        f"{var}:{name}": form
        for var, value in secrets.items()
        for name, form in leak_forms(value, user=USER if var == "CANARY_BASIC" else None).items()
    }
    env = {**secrets, "CANARY_HOOK_URL": f"{echo.url}/hooks/{HOOK_TOKEN}"}
    root = tmp_path / "canaries"
    make_project(root, echo.url)

    run = cli(root, env, "run", "job", "daily")
    assert run.returncode == 1, run.stdout + run.stderr
    outputs = [
        run,
        *(
            cli(root, env, *args)
            for args in (["runs", "show", "1", "--logs"], ["runs", "show", "1", "--json"], ["runs", "--json"])
        ),
    ]

    # the credentials really went out, and came back in the error bodies
    sent = {(path, auth, unquote_plus(query)) for path, auth, query in echo.seen}
    assert any(secrets["CANARY_BEARER"] in auth for _, auth, _ in sent)
    assert any(secrets["CANARY_KEY"] in query for _, _, query in sent)
    assert any(forms["CANARY_BASIC:basic"] in auth for _, auth, _ in sent)
    history = history_text(root)
    assert "HTTP 401" in history and "***" in history

    found = {
        "console": [leaks(out.stdout + out.stderr, forms) for out in outputs],
        "files": file_leaks(root, forms),
        "history": leaks(history, forms),
        "webhook": [leaks(body.decode(), forms) for body in echo.hooks],
        "pages": leaks(status_pages(root, env), forms),
    }
    assert len(echo.hooks) == 1
    assert found == {
        "console": [[], [], [], []],
        "files": {},
        "history": [],
        "webhook": [[]],
        "pages": [],
    }
