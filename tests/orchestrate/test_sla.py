"""SLAs: a run outliving `sla.duration` is recorded and announced while it is still running, once.

Steps run in process (`Recorder`), the store is SQLite on the real clock (the SLA is about real time),
and `sla_missed` goes to a real local HTTP receiver that notes when each notification arrived. A step
that outlives its SLA lasts until the miss is recorded (or announced): events, not a long enough sleep.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from datakit.cli.app import app
from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.notify import Notifier
from datakit.orchestrate.notify.webhook import WebhookChannel
from datakit.orchestrate.plan import compile_job
from datakit.orchestrate.store import StateStore, open_store
from datakit.orchestrate.store.sql import sqlite_url
from tests.http_api import FakeApi, Req, Resp, running_api
from tests.orchestrate.helpers import Recorder, make_plan
from tests.waits import finishes


@dataclasses.dataclass
class Arrivals:
    """What the receiver got: (epoch seconds at arrival, JSON body)."""

    api: FakeApi
    received: list[tuple[float, dict[str, Any]]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    missed: threading.Event = dataclasses.field(default_factory=threading.Event)
    """Set when `sla_missed` arrived."""

    def __call__(self, req: Req) -> Resp:
        body = json.loads(req.body)
        with self.lock:
            self.received.append((time.time(), body))
        if body["event"] == "sla_missed":
            self.missed.set()
        return Resp(200, {"ok": True})

    def of(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, body) for at, body in self.received if body["event"] == event]


@pytest.fixture
def arrivals() -> Iterator[Arrivals]:
    with running_api() as api:
        seen = Arrivals(api)
        api.route("/hook")(seen)
        yield seen


@pytest.fixture
def live_store(tmp_path: Path) -> Iterator[StateStore]:
    """A store on the real clock: SLA times are compared with the time the receiver saw."""
    state = StateStore(sqlite_url(tmp_path / "state.db"))
    yield state
    state.close()


def run_with_sla(
    store: StateStore, sla: float, arrivals: Arrivals | None, until: threading.Event | None = None
) -> RunResult:
    """A run of one step that lasts until `until` is set (at once without it)."""
    plan = dataclasses.replace(make_plan({"slow": []}, job="daily"), sla=sla)
    notify = None
    if arrivals is not None:
        channel = WebhookChannel(SecretStr(f"{arrivals.api.url}/hook"))
        notify = Notifier((channel,), on_failure=True, on_success=True)
    return Executor(store, Recorder(until=until), heartbeat_every=0.05, notify=notify).run(plan)


def miss_recorded(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set once `store` has recorded an SLA miss."""
    recorded = threading.Event()
    real = store.record_sla_miss

    def record_sla_miss(run_id: int) -> bool:
        first = real(run_id)
        recorded.set()
        return first

    monkeypatch.setattr(store, "record_sla_miss", record_sla_miss)
    return recorded


def test_a_run_past_its_sla_is_recorded_and_announced_while_still_running(
    live_store: StateStore, arrivals: Arrivals
) -> None:
    result = run_with_sla(live_store, sla=0.3, arrivals=arrivals, until=arrivals.missed)
    assert result.ok and result.sla_missed
    run = live_store.get_run(result.run_id)
    assert run.sla_missed_at is not None and run.finished_at is not None
    assert run.sla_missed_at - run.started_at >= 0.3
    assert run.sla_missed_at < run.finished_at  # recorded while the step was still running

    (missed,) = arrivals.of("sla_missed")  # exactly once
    arrived, body = missed
    assert arrived < run.finished_at  # the notification came before the run finished
    assert body["status"] == "running" and body["finished_at"] is None
    assert body["sla_seconds"] == 0.3 and body["sla_missed_at"] is not None
    assert body["steps"] == [
        {
            "id": "slow",
            "status": "running",
            "attempts": 1,
            "rows": {"read": None, "loaded": None, "rejected": None},
            "error": None,
        }
    ]
    assert body["resume_command"] is None
    (finished,) = arrivals.of("run_succeeded")
    assert finished[1]["sla_missed_at"] == body["sla_missed_at"]
    assert [b["event"] for _, b in arrivals.received] == ["sla_missed", "run_succeeded"]
    assert live_store.record_sla_miss(result.run_id) is False  # already recorded: never fires twice


def test_a_run_within_its_sla_records_nothing(live_store: StateStore, arrivals: Arrivals) -> None:
    # the watchdog neither holds the end of the run (an hour's SLA would hold it far past the guard)
    result = finishes(lambda: run_with_sla(live_store, sla=3600.0, arrivals=arrivals), "the run")
    assert "datakit-sla" not in {t.name for t in threading.enumerate()}  # nor outlives it
    assert result.ok and not result.sla_missed
    assert live_store.get_run(result.run_id).sla_missed_at is None
    assert [b["event"] for _, b in arrivals.received] == ["run_succeeded"]


def test_a_miss_is_recorded_without_any_notifier(
    live_store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_with_sla(live_store, sla=0.1, arrivals=None, until=miss_recorded(live_store, monkeypatch))
    assert result.sla_missed
    assert live_store.get_run(result.run_id).sla_missed_at is not None


def test_plan_carries_the_job_sla_in_seconds(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    job_file = root / "config" / "jobs" / "daily.yaml"
    job_file.write_text(job_file.read_text() + "  sla:\n    duration: 10m\n", encoding="utf-8")
    plan = compile_job(load_project(root, environ={}), "daily")
    assert plan.sla == 600.0 and plan.as_dict()["sla"] == 600.0
    assert compile_job(load_project(tmp_path / "shop", environ={}), "daily").sla == 600.0


def test_runs_commands_show_the_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shop"
    init_project(root)
    store = open_store(load_project(root, environ={}))
    try:
        missed = run_with_sla(store, sla=0.2, arrivals=None, until=miss_recorded(store, monkeypatch))
        met = run_with_sla(store, sla=600, arrivals=None)
    finally:
        store.close()
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def cli(*args: str) -> str:
        """The CLI in process (a subprocess per call would cost more than the rest of the test)."""
        result = CliRunner().invoke(app, [*args, "--project", str(root)])
        assert result.exit_code == 0, result.output
        return result.stdout

    shown = cli("runs", "show", str(missed.run_id))
    assert "SLA missed at " in shown and " UTC (sla 0.2s)" in shown
    assert "SLA missed" not in cli("runs", "show", str(met.run_id))

    listed = cli("runs")
    cells = ([c.strip() for c in line.split("│")] for line in listed.splitlines() if line.startswith("│"))
    rows = {row[1]: row for row in cells}
    assert {str(missed.run_id), str(met.run_id)} <= set(rows), listed
    assert rows[str(missed.run_id)][8] == "missed" and rows[str(met.run_id)][8] == "met", listed

    detail = json.loads(cli("runs", "show", str(missed.run_id), "--json"))
    assert detail["sla_seconds"] == 0.2 and detail["sla_missed_at"] is not None
