"""A real Prefect 3 server for the tests: `prefect server start` on 127.0.0.1 with SQLite, once per session.

Prefect is the optional extra `datakit[prefect]`; without it these tests skip with the reason (or fail
under DATAKIT_REQUIRE_SERVICES=1, like the other services). The server gets a home, database and
profiles of its own in a temporary folder (nothing is written to ~/.prefect), and the fixture waits on
its health endpoint, never on the clock. Flows run in subprocesses (`datakit prefect run job ...`) with
`PREFECT_API_URL` pointing at it, as a user runs them, so Prefect never configures itself inside pytest.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import services_required
from tests.waits import wait_until

STARTUP_GUARD = 300.0
"""A server's first start migrates its database and registers blocks: a minute on a loaded 2-core box."""


@dataclass(frozen=True)
class PrefectServer:
    """A running Prefect server and the environment that points a process at it."""

    url: str
    home: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT" and not k.startswith("PREFECT_")}
        return {**base, **_home_env(self.home), "PREFECT_API_URL": self.api, **(extra or {})}

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def datakit(
        self, *args: str, cwd: Path, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`datakit ARGS` against this server, in `cwd` (a project)."""
        return subprocess.run(
            [sys.executable, "-m", "datakit", *args],
            cwd=cwd,
            env=self.env(extra),
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    def flow_run_task_runs(self, flow_run_id: str) -> dict[str, Any]:
        """Task runs of a flow run by name, each with its state history (oldest first)."""
        runs = self.post("/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}})
        found = {}
        for run in runs:
            states = self.get(f"/task_run_states/?task_run_id={run['id']}")
            run["history"] = [s["name"] for s in sorted(states, key=lambda s: s["timestamp"])]
            found[run["name"]] = run
        return found


def _home_env(home: Path) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_MEMO_STORE_PATH": str(home / "memo_store.toml"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _require_prefect() -> None:
    if importlib.util.find_spec("prefect") is not None:
        return
    message = "Prefect is not installed (pip install -e '.[prefect]')"
    if services_required():
        pytest.fail(f"{message} — DATAKIT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """`prefect server start` on a free port of 127.0.0.1, SQLite, its scheduler polling every second."""
    _require_prefect()
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        **_home_env(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
    }
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with everything it started
    )
    server = PrefectServer(f"http://127.0.0.1:{port}", home)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"prefect server exited {process.returncode}: {(home / 'server.log').read_text()[-3000:]}"
            )
        try:
            return httpx.get(f"{server.api}/health", timeout=5).json() is True
        except (httpx.HTTPError, json.JSONDecodeError):
            return False

    try:
        wait_until(healthy, "the Prefect server's /api/health", guard=STARTUP_GUARD)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
