"""The one masking function: every form of a secret, the token rule, and each place that writes text.

Each test plants canaries of its own (the registry is process-wide, so no test depends on another's).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from datakit.log import configure, get_logger, redact, register_secret
from datakit.masking import Masker, forms, is_weak
from datakit.orchestrate.notify.events import EventKind, RunEvent, StepSummary
from tests.http_api import Resp, running_api
from tests.masking.canaries import canary, leak_forms, leaks


def test_every_form_of_a_secret_is_masked() -> None:
    secret = canary("forms")
    register_secret(secret, user="ann")
    planted = leak_forms(secret, user="ann")
    text = " | ".join(f"{name}={form}" for name, form in planted.items())
    masked = redact(text)
    assert leaks(masked, planted) == []
    assert masked == " | ".join(f"{name}=***" for name in planted)
    # what other writers do with the same value: lower-case percent escapes, Jinja's HTML escapes,
    # Go's HTML-safe JSON, PHP's escaped slash, requests' Latin-1 Basic header, a Python repr
    others = [
        planted["quote_plus"].replace("%C3%A9", "%c3%a9").replace("%2B", "%2b"),
        secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;"),
        json.dumps(secret, ensure_ascii=False)[1:-1]
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026"),
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        base64.b64encode(f"ann:{secret}".encode("latin-1")).decode(),
        repr(secret)[1:-1],
    ]
    assert [redact(f"<{form}>") for form in others] == ["<***>"] * len(others)


def test_weak_values_are_masked_as_whole_tokens_strong_ones_inside_tokens_too() -> None:
    weak, common, strong = "Kp4-x", "Warehouse", canary("strong", ascii_only=True).replace(" ", "")
    masker = Masker({weak: is_weak(weak), common: is_weak(common), strong: is_weak(strong)})
    assert is_weak(weak) and is_weak(common) and not is_weak(strong)
    assert masker.mask(f"pw={weak}; x{weak}y; {weak}_2") == f"pw=***; x{weak}y; {weak}_2"
    assert masker.mask("the Warehouse; _Warehouse_stage; warehouse") == "the ***; _Warehouse_stage; warehouse"
    assert masker.mask(f"key_{strong}_2") == "key_***_2"
    encoded = base64.b64encode(weak.encode()).decode().rstrip("=")
    assert masker.mask(f"b64 {encoded} and x{encoded}") == f"b64 *** and x{encoded}"


def test_a_project_name_is_weak_when_the_caller_says_so() -> None:
    name = "orders_pipeline_42"
    register_secret(name, whole_token=True)
    assert redact(f"{name}: run {name}_stage") == f"***: run {name}_stage"


def test_values_passed_by_the_caller_are_masked_in_every_form_without_being_registered() -> None:
    secret = canary("passed")
    planted = leak_forms(secret)
    text = " ".join(planted.values())
    assert leaks(redact(text, [secret, None, ""]), planted) == []
    assert redact(secret) == secret  # not registered: only that call masked it


def test_forms_are_computed_once_per_value() -> None:
    secret = canary("once")
    assert {secret, json.dumps(secret)[1:-1]} <= forms(secret)
    assert all(len(form) >= len(secret) for form in forms(secret))


def test_the_log_filter_masks_encoded_forms_in_messages_and_tracebacks() -> None:
    secret = canary("logged")
    register_secret(secret)
    planted = leak_forms(secret)
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = configure(logging.INFO, Collect())
    try:
        log = get_logger("test.masking")
        log.info("request %s", planted["quote_plus"])
        try:
            raise RuntimeError(f"driver said {planted['json_ascii']}")
        except RuntimeError:
            log.exception("failed")
    finally:
        logging.getLogger("datakit").removeHandler(handler)
    assert len(records) == 2 and "request ***" in records[0]
    assert [leaks(r, planted) for r in records] == [[], []]


def _event(error: str) -> RunEvent:
    step = StepSummary("shop.orders", "failed", 1, None, None, None, error)
    return RunEvent(EventKind.RUN_FAILED, "daily", 7, None, "failed", 1.0, 2.0, (step,), error=error)


def test_the_webhook_body_is_masked() -> None:
    from pydantic import SecretStr

    from datakit.orchestrate.notify.webhook import WebhookChannel

    secret = canary("hooked")
    register_secret(secret)
    planted = leak_forms(secret)
    with running_api() as api:
        api.route("/hook")(lambda _: Resp(200, {}))
        WebhookChannel(SecretStr(f"{api.url}/hook")).send(_event(" ".join(planted.values())))
        (request,) = api.requests
    body = request.body.decode()
    assert json.loads(body)["steps"][0]["error"].startswith("*** ***")
    assert leaks(body, planted) == []


@dataclass
class Inbox:
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope.original_content or b"")
        return "250 accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_the_email_body_is_masked(inbox: tuple[Inbox, int]) -> None:
    from email import message_from_bytes, policy

    from datakit.orchestrate.notify.smtp import EmailChannel

    secret = canary("mailed")
    register_secret(secret)
    planted = leak_forms(secret)
    handler, port = inbox
    EmailChannel("127.0.0.1", port, "dk@example.com", ("ops@example.com",)).send(
        _event(" ".join(planted.values()))
    )
    (raw,) = handler.messages
    message: Any = message_from_bytes(raw, policy=policy.default)
    body = message.get_content()
    assert "*** ***" in body and leaks(body, planted) == []


def test_status_pages_mask_what_history_did_not_know(tmp_path: Path) -> None:
    """A run recorded before the secret was known (another process, an older config) is masked on display."""
    from datakit.orchestrate.store import RunStatus, StateStore
    from datakit.orchestrate.store.sql import sqlite_url
    from tests.orchestrate.conftest import FakeClock
    from tests.server.conftest import TestClient, make_app, make_project

    secret = canary("paged")
    planted = leak_forms(secret)
    project = make_project(tmp_path / "p")
    clock = FakeClock()
    store = StateStore(sqlite_url(tmp_path / "state.db"), clock=clock, stale_after=10**9)
    try:
        run_id = store.start_run("daily", "{}")
        store.add_steps(run_id, ["shop_bronze.orders"])
        store.attempt_started(run_id, "shop_bronze.orders", 1)
        text = " ".join(planted.values())
        store.attempt_finished(run_id, "shop_bronze.orders", 1, error=text, log=text, details={"echo": text})
        store.finish_run(run_id, RunStatus.FAILED, text)
        assert secret in store.get_run(run_id).steps[0].error  # recorded before it was a secret
        register_secret(secret)
        with TestClient(make_app(project, store, clock)) as client:
            pages = [client.get(path).text for path in ("/", f"/runs/{run_id}", "/jobs/daily")]
    finally:
        store.close()
    assert "***" in pages[1]
    assert [leaks(page, planted) for page in pages] == [[], [], []]


def test_dbt_log_lines_are_masked_in_every_form() -> None:
    """dbt's own file logger gets the filter (its handlers are replaced by dbt, its filters are not)."""
    from datakit.transform.runner import _mask_dbt_logs

    secret = canary("dbtlog")
    register_secret(secret)
    planted = leak_forms(secret)
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    _mask_dbt_logs()
    dbt_file_log = logging.getLogger("file_log")
    handler, level = Collect(), dbt_file_log.level
    dbt_file_log.addHandler(handler)
    dbt_file_log.setLevel(logging.INFO)
    try:
        dbt_file_log.info("10:00:00  connecting with %s", " ".join(planted.values()))
    finally:
        dbt_file_log.removeHandler(handler)
        dbt_file_log.setLevel(level)
    assert len(records) == 1 and leaks(records[0], planted) == []


def test_run_history_masks_every_form_in_errors_logs_and_details(tmp_path: Path) -> None:
    """Details are stored as JSON: an API's JSON error body inside them is JSON escaped twice."""
    import sqlite3

    from datakit.orchestrate.store import StateStore
    from datakit.orchestrate.store.sql import sqlite_url
    from tests.orchestrate.conftest import FakeClock

    secret = canary("stored")
    register_secret(secret, user="ann")
    planted = leak_forms(secret, user="ann")
    text = " ".join(planted.values())
    body = json.dumps({"authorization": secret, "echo": text})  # what an API echoes, as JSON text
    store = StateStore(sqlite_url(tmp_path / "state.db"), clock=FakeClock(), stale_after=10**9)
    try:
        run_id = store.start_run("daily", "{}")
        store.add_steps(run_id, ["api.users"])
        store.attempt_started(run_id, "api.users", 1)
        store.attempt_finished(
            run_id, "api.users", 1, error=text, log=f"{text}\n{body}", details={"body": body, "text": text}
        )
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        tables = [name for (name,) in db.execute("select name from sqlite_master where type = 'table'")]
        stored = " ".join(str(v) for t in tables for row in db.execute(f'select * from "{t}"') for v in row)
    nested = json.dumps(json.dumps(secret)[1:-1])[1:-1]
    assert "***" in stored
    assert leaks(stored, {**planted, "json_in_json": nested}) == []
