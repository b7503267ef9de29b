"""POST /hooks/<trigger> over real HTTP: bad deliveries get a 4xx and start nothing; a good one, once."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from datakit.orchestrate.triggers import Tick
from datakit.orchestrate.webhooks import sign
from datakit.server.app import create_app, webhook_secrets
from tests.waits import GUARD
from tests.webhook_signing import signed_headers

SECRET = SecretStr("whsec-test-4f9a1c")
SECRET_VAR = "DATAKIT_TEST_ORDERS_HOOK_SECRET"
HOOK = """\
trigger:
  name: orders_hook
  type: webhook
  job: daily
  webhook: {secret_key: orders_hook_secret, max_body_bytes: 2048}
"""
MAPPING = f"""\
  orders_hook_secret:
    env_var: {SECRET_VAR}
    description: Signs deliveries to /hooks/orders_hook.
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    init_project(root)
    (root / "config" / "triggers" / "orders_hook.yaml").write_text(HOOK, encoding="utf-8")
    with (root / "config" / "secrets_mapping.yaml").open("a", encoding="utf-8") as mapping:
        mapping.write(MAPPING)
    return root


@dataclass
class Server:
    url: str
    store: StateStore

    def runs(self) -> int:
        return len(self.store.list_runs(limit=1000))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The real app on uvicorn; runs are started (and finished) with their tick key, as the daemon does."""
    import uvicorn

    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    project = load_project(_project(tmp_path))
    store = StateStore(sqlite_url(tmp_path / "state.db"))

    def launch(tick: Tick, warehouse: str | None) -> int:
        run_id = store.start_run(
            tick.job, "{}", allow_concurrent=True, tick_key=tick.key, warehouse=warehouse
        )
        store.finish_run(run_id, RunStatus.SUCCEEDED)
        return run_id

    app = create_app(project, store, launch, webhook_secrets(project))
    port = _free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.01)
    yield Server(f"http://127.0.0.1:{port}/hooks/orders_hook", store)
    web.should_exit = True
    thread.join(5)
    store.close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=GUARD)


BODY = json.dumps({"event": "orders.exported", "count": 3}).encode()


def test_a_signed_delivery_starts_one_run(server: Server) -> None:
    now = int(time.time())
    response = _post(server.url, BODY, signed_headers(BODY, SECRET, now, "dlv-1"))
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert server.store.get_run(run_id).job == "daily"
    replay = _post(server.url, BODY, signed_headers(BODY, SECRET, now, "dlv-1"))
    assert replay.status_code == 409 and "already accepted" in replay.json()["error"]
    assert server.runs() == 1


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "unsigned delivery"),
        (
            {"X-Datakit-Timestamp": "{now}", "X-Datakit-Signature": "sha256=" + "0" * 64},
            401,
            "does not match",
        ),
        ("stale", 401, "from the server's clock"),
        ({"X-Datakit-Timestamp": "{now}", "X-Datakit-Signature": "{sig}"}, 400, "X-Datakit-Delivery"),
    ],
    ids=["unsigned", "wrong-signature", "stale-timestamp", "no-delivery-id"],
)
def test_bad_deliveries_are_refused_and_start_nothing(
    server: Server, headers: dict[str, str] | str, status: int, message: str
) -> None:
    now = int(time.time())
    if headers == "stale":
        sent = signed_headers(BODY, SECRET, now - 301, "dlv-stale")
    else:
        assert isinstance(headers, dict)
        sig = sign(BODY, SECRET, now)
        sent = {k: v.format(now=now, sig=sig) for k, v in headers.items()}
    response = _post(server.url, BODY, sent)
    assert response.status_code == status and message in response.json()["error"], response.text
    assert SECRET.get_secret_value() not in response.text
    assert server.runs() == 0


def test_an_oversized_body_is_refused_before_it_is_read(server: Server) -> None:
    body = b"x" * 2049
    response = _post(server.url, body, signed_headers(body, SECRET, int(time.time()), "dlv-big"))
    assert response.status_code == 413
    # without a Content-Length (chunked), the limit holds while streaming
    chunks = (b"y" * 1024 for _ in range(3))
    streamed = httpx.post(server.url, content=chunks, headers={"X-Datakit-Delivery": "dlv-s"}, timeout=GUARD)
    assert streamed.status_code == 413
    assert server.runs() == 0


def test_an_unknown_trigger_is_404(server: Server) -> None:
    url = server.url.replace("orders_hook", "daily_at_two")  # a cron trigger: not a webhook
    response = _post(url, BODY, signed_headers(BODY, SECRET, int(time.time()), "dlv-2"))
    assert response.status_code == 404
    assert server.runs() == 0


def test_one_delivery_posted_twenty_times_concurrently_starts_exactly_one_run(server: Server) -> None:
    headers = signed_headers(BODY, SECRET, int(time.time()), "dlv-burst")
    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(lambda _: _post(server.url, BODY, headers).status_code, range(20)))
    assert statuses == [202] + [409] * 19
    assert server.runs() == 1


def test_serve_refuses_a_webhook_trigger_without_its_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datakit.errors import DatakitError

    monkeypatch.delenv(SECRET_VAR, raising=False)
    project = load_project(_project(tmp_path))
    with pytest.raises(DatakitError) as caught:
        webhook_secrets(project)
    assert "orders_hook" in str(caught.value) and "orders_hook_secret" in str(caught.value)


def test_unknown_paths_get_the_sites_404_page(server: Server) -> None:
    response = httpx.get(server.url.replace("/hooks/orders_hook", "/no/such/page"), timeout=GUARD)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "/no/such/page" in response.text


def test_a_tenants_job_gets_one_run_per_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    root = _project(tmp_path)
    for name in ("acme", "globex"):
        (root / "config" / "warehouses" / f"{name}.yaml").write_text(
            f"warehouse:\n  name: {name}\n  destinations: [warehouse]\n  jobs: [daily]\n"
            f"  schema_prefix: {name}_\n",
            encoding="utf-8",
        )
    project = load_project(root)
    store = StateStore(sqlite_url(tmp_path / "state.db"))
    launched: list[tuple[str, str | None]] = []

    def launch(tick: Tick, warehouse: str | None) -> int:
        launched.append((tick.key, warehouse))
        return store.start_run(tick.job, "{}", allow_concurrent=True, tick_key=tick.key, warehouse=warehouse)

    client = TestClient(create_app(project, store, launch, webhook_secrets(project)))
    response = client.post(
        "/hooks/orders_hook", content=BODY, headers=signed_headers(BODY, SECRET, int(time.time()), "dlv-t")
    )
    assert response.status_code == 202, response.text
    assert sorted(launched) == [
        ("orders_hook.acme@delivery:dlv-t", "acme"),
        ("orders_hook.globex@delivery:dlv-t", "globex"),
    ]
    assert sorted(r["warehouse"] for r in response.json()["runs"]) == ["acme", "globex"]
    page = client.get("/triggers").text  # the status page lists each tenant's firing of a trigger
    assert "orders_hook.acme" in page and "daily_at_two.globex" in page
    store.close()


def test_a_job_that_cannot_start_is_answered_and_its_delivery_can_be_redelivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from datakit.errors import DatakitError

    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    project = load_project(_project(tmp_path))
    store = StateStore(sqlite_url(tmp_path / "state.db"))
    broken = [True]

    def launch(tick: Tick, warehouse: str | None) -> int:
        if broken[0]:
            raise DatakitError("pipeline 'shop_bronze': source 'shop' is unreachable")
        return store.start_run(tick.job, "{}", allow_concurrent=True, tick_key=tick.key, warehouse=warehouse)

    client = TestClient(create_app(project, store, launch, webhook_secrets(project)))
    first = client.post(
        "/hooks/orders_hook", content=BODY, headers=signed_headers(BODY, SECRET, int(time.time()), "d-9")
    )
    assert first.status_code == 409 and "could not start" in first.json()["error"]
    broken[0] = False  # fixed; the sender redelivers the same id, freshly signed
    again = client.post(
        "/hooks/orders_hook", content=BODY, headers=signed_headers(BODY, SECRET, int(time.time()) + 1, "d-9")
    )
    assert again.status_code == 202 and store.get_run(again.json()["run_id"]).job == "daily"
    store.close()
