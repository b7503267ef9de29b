"""Notifications of job runs, delivered for real: a local HTTP receiver, a local SMTP server (aiosmtpd).

Runs use in-process steps (`Recorder`) and a real SQLite store; one test goes through `run_job` with
child processes. A secret webhook URL carries a token that must never show in logs or run history.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from datakit.config import load_project
from datakit.config.loader import validate_project
from datakit.config.project import Project
from datakit.config.scaffold import init_project
from datakit.config.secrets import Secrets
from datakit.orchestrate.executor import Executor, RunResult
from datakit.orchestrate.notify import EventKind, Notifier, RunEvent
from datakit.orchestrate.notify.webhook import WebhookChannel
from datakit.orchestrate.run import run_job
from datakit.orchestrate.store import RunStatus, StateStore, open_store
from tests.http_api import FakeApi, Req, Resp, running_api
from tests.orchestrate.helpers import Recorder, make_plan
from tests.waits import GUARD

TOKEN = "tok-9f8e7d6c5b4a"
PASSWORD = "smtp-pass-4711"
URL_VAR = "ALERTS_WEBHOOK_URL_DEV"
PASSWORD_VAR = "SMTP_PASSWORD_DEV"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    def emails(self) -> list[tuple[str, list[str], Any]]:
        from email import message_from_bytes, policy

        return [
            (sender, to, message_from_bytes(raw, policy=policy.default)) for sender, to, raw in self.messages
        ]


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    logins: list[tuple[bytes, bytes]]


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """A real SMTP server on 127.0.0.1 accepting only the login `datakit` / PASSWORD."""
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"datakit" and data.password == PASSWORD.encode())

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield Smtp(port, inbox, logins)
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[FakeApi]:
    """A local HTTP server whose `/hooks/<TOKEN>` accepts notifications."""
    with running_api() as api:
        api.route(f"/hooks/{TOKEN}")(lambda _: Resp(200, {"ok": True}))
        yield api


def make_project(tmp_path: Path, job_notifications: str, project_notifications: str = "") -> Path:
    """The `datakit init` project, its job `daily` given `job_notifications` (YAML under `notifications:`)."""
    root = tmp_path / "shop"
    init_project(root)
    job_file = root / "config" / "jobs" / "daily.yaml"
    job_file.write_text(job_file.read_text() + "  notifications:\n" + job_notifications, encoding="utf-8")
    if project_notifications:
        config = root / "datakit.yaml"
        config.write_text(config.read_text() + "notifications:\n" + project_notifications, encoding="utf-8")
    mapping = root / "config" / "secrets_mapping.yaml"
    mapping.write_text(
        mapping.read_text() + f"  smtp_password:\n    env_var_dev: {PASSWORD_VAR}\n    required: false\n",
        encoding="utf-8",
    )
    return root


def notifier(root: Path, environ: dict[str, str]) -> Notifier:
    project: Project = load_project(root, environ=environ)
    return Notifier.for_job(project, "daily", secrets=Secrets(project.secrets, project.environment, environ))


def run_daily(
    store: StateStore, runner: Recorder, notify: Notifier, steps: tuple[str, ...] = ("a", "b")
) -> RunResult:
    plan = make_plan({s: [] for s in steps}, mode="sequential", job="daily")
    return Executor(store, runner, sleep=lambda _: None, heartbeat_every=0.05, notify=notify).run(plan)


WEBHOOK_SETTINGS = "  webhook:\n    url_secret_key: alerts_webhook_url\n"


def posted(api: FakeApi) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in api.requests if r.method == "POST"]


def test_failed_run_posts_its_json_summary_to_the_webhook(
    tmp_path: Path, store: StateStore, receiver: FakeApi
) -> None:
    root = make_project(tmp_path, "    channels: [log, webhook]\n", WEBHOOK_SETTINGS)
    notify = notifier(root, {URL_VAR: f"{receiver.url}/hooks/{TOKEN}"})
    result = run_daily(store, Recorder(terminal={"b"}), notify)
    assert result.status is RunStatus.FAILED
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == f"/hooks/{TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["event"] == "run_failed"
    assert (body["job"], body["run_id"], body["status"]) == ("daily", result.run_id, "failed")
    assert body["resume_command"] == f"datakit run job daily --resume {result.run_id}"
    assert body["started_at"] is not None and body["finished_at"] is not None
    assert body["duration_seconds"] == 0  # the store's clock is the test's, which stands still
    steps = {s["id"]: s for s in body["steps"]}
    assert steps["a"]["status"] == "succeeded" and steps["a"]["rows"] == {
        "read": 3,
        "loaded": 2,
        "rejected": 1,
    }
    assert steps["b"]["status"] == "failed" and steps["b"]["attempts"] == 1
    assert steps["b"]["error"] == "b: contract violated"
    assert body["sla_seconds"] is None and body["sla_missed_at"] is None


def test_failure_email_reaches_the_smtp_server_with_subject_and_recipients(
    tmp_path: Path, store: StateStore, smtp: Smtp
) -> None:
    settings = (
        f"  email:\n    smtp_host: 127.0.0.1\n    smtp_port: {smtp.port}\n    from: datakit@shop.test\n"
        "    to: [data-team@shop.test]\n    username: datakit\n    password_secret_key: smtp_password\n"
    )
    channels = "    channels:\n      - email\n      - {type: email, to: [oncall@shop.test, boss@shop.test]}\n"
    root = make_project(tmp_path, channels, settings)
    result = run_daily(store, Recorder(terminal={"a"}), notifier(root, {PASSWORD_VAR: PASSWORD}), ("a",))
    assert result.status is RunStatus.FAILED
    assert smtp.logins == [(b"datakit", PASSWORD.encode())] * 2
    emails = smtp.inbox.emails()
    assert [(sender, to) for sender, to, _ in emails] == [
        ("datakit@shop.test", ["data-team@shop.test"]),
        ("datakit@shop.test", ["oncall@shop.test", "boss@shop.test"]),
    ]
    message = emails[0][2]
    assert message["Subject"] == f"[datakit] job daily run {result.run_id} failed"
    assert message["To"] == "data-team@shop.test" and message["From"] == "datakit@shop.test"
    assert emails[1][2]["To"] == "oncall@shop.test, boss@shop.test"
    body = message.get_content()
    assert "a: failed (1 attempt(s))" in body and "a: contract violated" in body
    assert f"resume with: datakit run job daily --resume {result.run_id}" in body


@pytest.mark.parametrize(
    ("settings", "fail", "expected"),
    [
        ("on_success: false", False, []),
        ("on_success: true", False, ["run_succeeded"]),
        ("on_failure: false", True, []),
        ("on_failure: true", True, ["run_failed"]),
    ],
)
def test_on_success_and_on_failure_choose_what_is_sent(
    tmp_path: Path, store: StateStore, receiver: FakeApi, settings: str, fail: bool, expected: list[str]
) -> None:
    root = make_project(tmp_path, f"    {settings}\n    channels: [webhook]\n", WEBHOOK_SETTINGS)
    runner = Recorder(terminal={"a"} if fail else set())
    result = run_daily(store, runner, notifier(root, {URL_VAR: f"{receiver.url}/hooks/{TOKEN}"}))
    assert result.ok is not fail
    assert [body["event"] for body in posted(receiver)] == expected


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"


def test_dead_receivers_leave_the_run_unchanged_and_log_a_warning_without_secrets(
    tmp_path: Path, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    settings = WEBHOOK_SETTINGS + (
        f"  email:\n    smtp_host: 127.0.0.1\n    smtp_port: {free_port()}\n    from: datakit@shop.test\n"
        "    to: [data-team@shop.test]\n    username: datakit\n    password_secret_key: smtp_password\n"
    )
    root = make_project(tmp_path, "    channels: [webhook, email, log]\n", settings)
    notify = notifier(root, {URL_VAR: _closed_port_url(), PASSWORD_VAR: PASSWORD})
    with caplog.at_level(logging.INFO, logger="datakit"):
        result = run_daily(store, Recorder(terminal={"b"}), notify)
    assert result.status is RunStatus.FAILED
    assert result.steps == run_daily(store, Recorder(terminal={"b"}), Notifier(())).steps
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    webhook = [w for w in warnings if "not sent: webhook:" in w]
    email = [w for w in warnings if "not sent: email:" in w]
    assert webhook == [
        f"run_failed of job daily run {result.run_id} not sent: "
        "webhook: could not reach the receiver (ConnectError), after 2 attempts"
    ]
    assert len(email) == 1 and "127.0.0.1" in email[0]
    # the log channel after the broken ones still got its line
    assert any(w.startswith(f"job daily run {result.run_id} failed (run_failed)") for w in warnings)
    assert TOKEN not in caplog.text and PASSWORD not in caplog.text
    run = store.get_run(result.run_id)
    assert TOKEN not in json.dumps(run.as_dict()) + run.plan


def test_a_receiver_answering_5xx_is_tried_twice_then_given_up(
    tmp_path: Path, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with running_api() as api:
        api.route(f"/hooks/{TOKEN}")(lambda _: Resp(503, {"error": "busy"}))
        root = make_project(tmp_path, "    on_success: true\n    channels: [webhook]\n", WEBHOOK_SETTINGS)
        with caplog.at_level(logging.WARNING, logger="datakit"):
            result = run_daily(store, Recorder(), notifier(root, {URL_VAR: f"{api.url}/hooks/{TOKEN}"}))
        assert result.ok
        assert [body["event"] for body in posted(api)] == ["run_succeeded", "run_succeeded"]
    assert "webhook: the receiver answered HTTP 503, after 2 attempts" in caplog.text
    assert TOKEN not in caplog.text


def test_a_refusing_receiver_is_not_retried(tmp_path: Path, store: StateStore) -> None:
    with running_api() as api:
        api.route(f"/hooks/{TOKEN}")(lambda _: Resp(403, {"error": "bad token"}))
        root = make_project(tmp_path, "    channels: [webhook]\n", WEBHOOK_SETTINGS)
        run_daily(store, Recorder(terminal={"a"}), notifier(root, {URL_VAR: f"{api.url}/hooks/{TOKEN}"}))
        assert len(posted(api)) == 1


def test_channels_without_settings_or_secret_warn_at_each_event(
    tmp_path: Path, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    channels = "    channels:\n      - webhook\n      - {type: webhook, url_secret_key: alerts_webhook_url}\n"
    root = make_project(tmp_path, channels)
    with caplog.at_level(logging.WARNING, logger="datakit"):
        result = run_daily(store, Recorder(terminal={"a"}), notifier(root, {}))
    assert result.status is RunStatus.FAILED
    assert "webhook: no notifications.webhook settings in datakit.yaml" in caplog.text
    assert "webhook: secret 'alerts_webhook_url' is not set for environment 'dev'" in caplog.text


def test_run_job_notifies_the_webhook_of_a_failed_load(
    tmp_path: Path, receiver: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path, "    channels: [webhook]\n", WEBHOOK_SETTINGS)
    with sqlite3.connect(root / "data" / "shop.sqlite") as db:
        db.execute("alter table orders rename to orders_away")
    job_file = root / "config" / "jobs" / "daily.yaml"
    job_file.write_text(job_file.read_text().replace("max_attempts: 3", "max_attempts: 1"), encoding="utf-8")
    pipeline_file = root / "config" / "pipelines" / "shop_bronze.yaml"  # one step: one child process
    pipeline_file.write_text(
        pipeline_file.read_text().replace("    name: shop\n", "    name: shop\n    resources: [orders]\n"),
        encoding="utf-8",
    )
    monkeypatch.setenv(URL_VAR, f"{receiver.url}/hooks/{TOKEN}")
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    project = load_project(root)
    result = run_job(project, "daily")
    assert result.status is RunStatus.FAILED
    (body,) = posted(receiver)
    assert body["event"] == "run_failed" and body["run_id"] == result.run_id
    (step,) = body["steps"]
    assert step["id"] == "shop_bronze.orders" and step["status"] == "failed"
    assert "orders" in step["error"]
    store = open_store(project)
    try:
        assert store.get_run(result.run_id).sla_missed_at is None
    finally:
        store.close()


def test_event_summary_of_a_run_in_history(store: StateStore) -> None:
    result = Executor(store, Recorder(terminal={"b"}), heartbeat_every=0.05).run(
        make_plan({"a": [], "b": ["a"]})
    )
    event = RunEvent.from_run(EventKind.SLA_MISSED, store.get_run(result.run_id), sla=600)
    assert event.subject == f"[datakit] job test_job run {result.run_id} missed its SLA (10m)"
    assert event.as_dict()["sla_seconds"] == 600
    assert "a: succeeded (1 attempt(s), 2 rows loaded)" in event.text()


def test_validate_locates_notification_problems(tmp_path: Path) -> None:
    channels = (
        "    channels:\n"
        "      - email\n"
        "      - {type: email, to: [oncall@shop.test]}\n"
        "      - {type: webhook, url_secret_key: alerts_webhok_url}\n"
    )
    root = make_project(tmp_path, channels, "  webhook:\n    url_secret_key: alert_hook\n")
    problems = validate_project(root, environ={}).problems
    found = {(p.file.name if p.file else None, p.line, p.severity, p.message, p.suggestion) for p in problems}
    assert found == {
        (
            "daily.yaml",
            14,
            "warning",
            "notification channel 'email' has no settings; notifications will only be logged",
            "add notifications.email to datakit.yaml, or use an inline channel",
        ),
        (
            "daily.yaml",
            15,
            "warning",
            "email channel has no SMTP settings; notifications will only be logged",
            "add notifications.email (smtp_host, smtp_port, from, to) to datakit.yaml",
        ),
        (
            "daily.yaml",
            16,
            "error",
            "unknown secret 'alerts_webhok_url'",
            "did you mean 'alerts_webhook_url'?",
        ),
        ("datakit.yaml", 9, "error", "unknown secret 'alert_hook'", "did you mean 'alerts_webhook_url'?"),
    }


def test_a_slow_receiver_costs_the_run_two_short_timeouts_at_most(
    store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    run_over = threading.Event()
    answered: list[Req] = []

    def slow(req: Req) -> Resp:
        """Answers once the run is over (or after the guard: then the run waited for the receiver)."""
        run_over.wait(GUARD)
        answered.append(req)
        return Resp(200, {"ok": True})

    with running_api() as api:
        api.route(f"/hooks/{TOKEN}")(slow)
        channel = WebhookChannel(SecretStr(f"{api.url}/hooks/{TOKEN}"), timeout=0.2, retry_pause=0.05)
        try:
            with caplog.at_level(logging.WARNING, logger="datakit"):
                result = run_daily(store, Recorder(terminal={"a"}), Notifier((channel,)))
            assert len(api.requests) == 2 and answered == []  # the run ended with both posts unanswered
        finally:
            run_over.set()
    assert result.status is RunStatus.FAILED
    assert "webhook: no answer within 0.2s (ReadTimeout), after 2 attempts" in caplog.text
    assert TOKEN not in caplog.text


def test_a_secret_that_is_not_a_url_is_reported_without_its_value(
    store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    channel = WebhookChannel(SecretStr(f"hooks.example.test/{TOKEN}"))
    with caplog.at_level(logging.WARNING, logger="datakit"):
        result = run_daily(store, Recorder(terminal={"a"}), Notifier((channel,)))
    assert result.status is RunStatus.FAILED
    assert "webhook: the secret does not hold a valid http(s) URL" in caplog.text
    assert TOKEN not in caplog.text


def test_starttls_is_required_when_configured_never_silently_skipped(
    tmp_path: Path, store: StateStore, smtp: Smtp, caplog: pytest.LogCaptureFixture
) -> None:
    settings = (
        f"  email:\n    smtp_host: 127.0.0.1\n    smtp_port: {smtp.port}\n    from: datakit@shop.test\n"
        "    to: [data-team@shop.test]\n    username: datakit\n    password_secret_key: smtp_password\n"
        "    starttls: true\n"
    )
    root = make_project(tmp_path, "    channels: [email]\n", settings)
    with caplog.at_level(logging.WARNING, logger="datakit"):
        result = run_daily(store, Recorder(terminal={"a"}), notifier(root, {PASSWORD_VAR: PASSWORD}), ("a",))
    assert result.status is RunStatus.FAILED
    assert smtp.inbox.messages == [] and smtp.logins == []  # no password sent over a plain connection
    assert "email: sending through 127.0.0.1" in caplog.text and "STARTTLS" in caplog.text
    assert PASSWORD not in caplog.text
