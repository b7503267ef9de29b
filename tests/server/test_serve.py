"""`datakit serve` as a user runs it: a process that schedules, serves pages, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from datakit.config.scaffold import init_project
from datakit.orchestrate.store import StateStore
from datakit.orchestrate.store.sql import sqlite_url
from tests.waits import GUARD, wait_until

EVERY_SECOND = """\
trigger:
  name: every_second
  type: interval
  job: daily
  schedule: {every: 1s}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(root: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datakit",
            "--project",
            str(root),
            "serve",
            "--port",
            str(port),
            "--poll",
            "0.2",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_serve_schedules_runs_shows_them_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    (root / "config" / "triggers" / "every_second.yaml").write_text(EVERY_SECOND, encoding="utf-8")
    port = _free_port()
    child = _serve(root, port, "--grace", "0")
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert f"serving shop on http://127.0.0.1:{port}" in first, first
        store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
        wait_until(lambda: any(r.status == "succeeded" for r in store.list_runs()), "a run to succeed")
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=GUARD)
        assert page.status_code == 200 and "daily" in page.text and "succeeded" in page.text
        # stop while a run is going: with --grace 0 it is cancelled, and recorded as such
        wait_until(lambda: any(r.status == "running" for r in store.list_runs()), "a run to start")
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=GUARD)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, output
    runs = store.list_runs(limit=1000)
    assert runs and all(r.status in ("succeeded", "failed") for r in runs), [(r.id, r.status) for r in runs]
    cancelled = [r for r in runs if r.status == "failed"]
    assert cancelled and all("cancelled" in (r.error or "") for r in cancelled)
    store.close()


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    (root / "config" / "triggers" / "hook.yaml").write_text(
        "trigger:\n  name: hook\n  type: webhook\n  job: daily\n  webhook: {secret_key: hook_secret}\n",
        encoding="utf-8",
    )
    with (root / "config" / "secrets_mapping.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write("  hook_secret:\n    env_var: DATAKIT_TEST_UNSET_HOOK_SECRET\n")
    env = {k: v for k, v in os.environ.items() if k != "DATAKIT_TEST_UNSET_HOOK_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "--project", str(root), "serve", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=GUARD,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot serve webhook triggers without their secrets" in done.stderr + done.stdout
    assert "hook_secret" in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_serve_forgets_expired_webhook_deliveries_by_itself(tmp_path: Path) -> None:
    import threading

    from sqlalchemy import select

    from datakit.config import load_project
    from datakit.server.serve import ServeOptions, serve

    root = tmp_path / "shop"
    init_project(root)
    (root / ".datakit").mkdir()
    store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
    store.add_delivery("hook/delivery:old", time.time() - 1)
    store.add_delivery("hook/delivery:fresh", time.time() + 3600)

    def kept() -> list[str]:
        with store.engine.connect() as conn:
            return sorted(conn.execute(select(store.deliveries.c.key)).scalars())

    stop = threading.Event()
    options = ServeOptions(port=_free_port(), forget_every=0.1)
    daemon = threading.Thread(target=serve, args=(load_project(root), options), kwargs={"stop": stop})
    daemon.start()
    try:
        wait_until(lambda: kept() == ["hook/delivery:fresh"], "serve to forget the expired delivery")
    finally:
        stop.set()
        daemon.join(60)
    store.close()


def test_serve_applies_the_projects_retention_by_itself(tmp_path: Path) -> None:
    import threading

    from datakit.config import load_project
    from datakit.orchestrate.store import RunStatus
    from datakit.server.serve import ServeOptions, serve

    root = tmp_path / "shop"
    init_project(root)
    with (root / "datakit.yaml").open("a", encoding="utf-8") as project:
        project.write("retention: {max_runs: 2, prune_every: 1s}\n")
    (root / ".datakit").mkdir()
    store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
    runs = []
    for _ in range(6):
        runs.append(store.start_run("daily", "{}"))
        store.add_steps(runs[-1], ["shop_bronze.orders"])
        store.finish_run(runs[-1], RunStatus.SUCCEEDED)

    def recorded() -> list[int]:
        return sorted(run.id for run in store.list_runs(limit=100))

    stop = threading.Event()
    options = ServeOptions(port=_free_port())
    daemon = threading.Thread(target=serve, args=(load_project(root), options), kwargs={"stop": stop})
    daemon.start()
    try:
        wait_until(lambda: recorded() == runs[4:], "serve to prune the runs beyond the newest 2")
        for _ in range(3):  # runs recorded while it serves go too, at the next prune
            runs.append(store.start_run("daily", "{}"))
            store.finish_run(runs[-1], RunStatus.SUCCEEDED)
        wait_until(lambda: recorded() == runs[-2:], "serve to prune again after prune_every")
    finally:
        stop.set()
        daemon.join(60)
    store.close()
