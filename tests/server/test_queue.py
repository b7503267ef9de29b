"""`datakit serve` with a run held going: it queues a run on the same DuckDB file, refuses a second run.

A second process holds the DuckDB file, so the first run's step keeps meeting the lock (and retrying)
until the test lets go. Two jobs loading into that file, fired together by their webhooks: the later
run is recorded `queued` — on the status page and in `datakit runs` — and starts only once the first
has ended, so none of its steps ever meets the lock. Fifty more deliveries for the running job: each is
answered 409 at once, and no run starts later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from datakit.config.scaffold import init_project
from datakit.orchestrate.store import StateStore
from datakit.orchestrate.store.sql import sqlite_url
from tests.duckdb_lock import duckdb_lock
from tests.server.test_serve import _free_port, _serve
from tests.webhook_signing import signed_headers

SECRET = SecretStr("whsec-queue-7d1e")
SECRET_VAR = "DATAKIT_TEST_QUEUE_HOOK_SECRET"
PIPELINE = """\
pipeline:
  name: {name}
  source: {{name: shop, resources: [{resource}]}}
  destination: {{name: warehouse, layer: bronze}}
"""
JOB = """\
job:
  name: {name}
  pipelines: [{pipeline}]
  retries: {{max_attempts: 100, retry_delay: 1}}
"""
HOOK = """\
trigger:
  name: {name}_hook
  type: webhook
  job: {name}
  webhook: {{secret_key: queue_hook_secret}}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_project(root)
    for job, resource in (("customers_job", "customers"), ("orders_job", "orders")):
        pipeline = f"{resource}_bronze"
        (root / "config" / "pipelines" / f"{pipeline}.yaml").write_text(
            PIPELINE.format(name=pipeline, resource=resource), encoding="utf-8"
        )
        (root / "config" / "jobs" / f"{job}.yaml").write_text(
            JOB.format(name=job, pipeline=pipeline), encoding="utf-8"
        )
        hook = root / "config" / "triggers" / f"{job}_hook.yaml"
        hook.write_text(HOOK.format(name=job), encoding="utf-8")
    with (root / "config" / "secrets_mapping.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write(f"  queue_hook_secret:\n    env_var: {SECRET_VAR}\n")
    return root


def _wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not predicate():
        assert time.monotonic() < deadline, "serve never reached the state the test waits for"
        time.sleep(0.1)


def test_two_jobs_on_one_duckdb_file_fired_together_run_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    port = _free_port()
    with duckdb_lock(root / "warehouse.duckdb") as holder:
        child = _serve(root, port, "--grace", "0")
        try:
            assert child.stdout is not None
            assert "serving shop" in child.stdout.readline()
            store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
            now = int(time.time())

            def fire(job: str) -> httpx.Response:
                headers = signed_headers(b"{}", SECRET, now, f"{job}-1")
                url = f"http://127.0.0.1:{port}/hooks/{job}_hook"
                return httpx.post(url, content=b"{}", headers=headers, timeout=60)

            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(fire, ["customers_job", "orders_job"]))
            assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]

            def statuses() -> list[str]:
                return sorted(r.status for r in store.list_runs())

            _wait_until(lambda: statuses() == ["queued", "running"])
            first, second = sorted(store.list_runs(), key=lambda r: r.id)
            assert (first.status, second.status) == ("running", "queued")
            assert f"run {first.id} ({first.job}) is writing" in (second.error or "")
            # the first run meets the lock and retries; the queued one waits without trying
            _wait_until(lambda: any(s.attempts >= 2 for s in store.get_run(first.id).steps))
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30).text
            assert f'data-run="{second.id}" data-status="queued"' in page
            listed = subprocess.run(
                [sys.executable, "-m", "datakit", "--project", str(root), "runs"],
                capture_output=True,
                text=True,
                env={**os.environ, "COLUMNS": "200"},
                timeout=60,
                check=True,
            ).stdout
            assert "queued" in listed and second.job in listed
            holder.release()
            _wait_until(lambda: statuses() == ["succeeded", "succeeded"])
        finally:
            child.send_signal(signal.SIGTERM)
            child.communicate(timeout=60)
    first, second = sorted(store.list_runs(), key=lambda r: r.id)
    assert first.finished_at is not None and second.started_at >= first.finished_at
    assert all(step.attempts == 1 for step in store.get_run(second.id).steps)
    assert all(step.attempts >= 2 for step in store.get_run(first.id).steps[:1])
    store.close()


def test_fifty_deliveries_for_a_running_job_are_answered_409_and_start_nothing_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hooks/orders_job_hook"
    now = int(time.time())

    def deliver(number: int) -> httpx.Response:
        headers = signed_headers(b"{}", SECRET, now, f"d-{number}")
        return httpx.post(url, content=b"{}", headers=headers, timeout=60)

    with duckdb_lock(root / "warehouse.duckdb") as holder:  # the run stays running until released
        child = _serve(root, port, "--grace", "30")
        try:
            assert child.stdout is not None
            assert "serving shop" in child.stdout.readline()
            store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
            first = deliver(0)
            assert first.status_code == 202, first.text
            with ThreadPoolExecutor(50) as pool:
                answers = list(pool.map(deliver, range(1, 51)))
            assert [a.status_code for a in answers] == [409] * 50
            run_id = first.json()["run_id"]
            assert all(f"already running: run {run_id}" in a.json()["error"] for a in answers)
            holder.release()
            _wait_until(lambda: [r.status for r in store.list_runs()] == ["succeeded"])
        finally:
            child.send_signal(signal.SIGTERM)  # lets anything still starting start, then stops
            child.communicate(timeout=60)
    assert [(r.id, r.status) for r in store.list_runs()] == [(run_id, "succeeded")]
    store.close()
