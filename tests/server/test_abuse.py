"""The webhook server under abuse, over real sockets on 127.0.0.1: every limit answers, nothing starts.

The app is `datakit serve`'s own (`create_app` on `web_server`, the protocol with the limits); runs are
started by a `launch` that records its calls, so a test can say that nothing was started — or even
asked to start. Raw sockets send what no HTTP client would: floods of headers, heads and bodies that
never finish, clients that go away; httpx sends the rest.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from datakit.config import load_project
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from datakit.orchestrate.triggers import Tick
from datakit.server.app import create_app, webhook_secrets
from datakit.server.limits import ConnectionGate, HttpLimits
from datakit.server.protocol import web_server
from tests.server.test_hooks import SECRET, SECRET_VAR, _free_port, _project
from tests.webhook_signing import signed_headers

BODY = json.dumps({"event": "orders.exported"}).encode()
PATH = "/hooks/orders_hook"


@dataclass
class Served:
    port: int
    store: StateStore
    gate: ConnectionGate
    launched: list[str] = field(default_factory=list)
    proceed: threading.Event = field(default_factory=threading.Event)
    """A launch waits for this before it records its run (set unless a test clears it)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=60)


Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Start the real app on uvicorn with the given limits; runs are recorded, not executed."""
    monkeypatch.setenv(SECRET_VAR, SECRET.get_secret_value())
    project = load_project(_project(tmp_path))
    store = StateStore(sqlite_url(tmp_path / "state.db"))
    stops: list[Callable[[], None]] = []

    def start(**limits: float) -> Served:
        served = Served(_free_port(), store, ConnectionGate(0))
        served.proceed.set()

        def launch(tick: Tick, warehouse: str | None) -> int:
            served.launched.append(tick.key)
            assert served.proceed.wait(60), "the test never let the launch proceed"
            return store.start_run(tick.job, "{}", tick_key=tick.key, warehouse=warehouse)

        options = HttpLimits(**limits)  # type: ignore[arg-type]
        app = create_app(project, store, launch, webhook_secrets(project), limits=options)
        server = web_server(app, "127.0.0.1", served.port, options)
        served.gate = server.config.http.gate  # type: ignore[union-attr]
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        stops.append(stop)
        return served

    yield start
    for stop in stops:
        stop()
    store.close()


def _head(extra: str = "", *, length: int = len(BODY)) -> bytes:
    return (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n{extra}\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, str]:
    """The status and body of the one answer on `sock` (read up to its length, or to the close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise AssertionError("the connection closed without an answer")
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"]) if b"content-length" in fields else None
    while length is None or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body.decode()


def _deliveries(store: StateStore) -> int:
    """How many delivery records the store keeps."""
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(store.deliveries)).scalar_one())


def _wait_until(predicate: Callable[[], bool]) -> None:
    """Until `predicate()` holds (a state of the server this test waits for, not a duration)."""
    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, "the server never reached the state the test waits for"
        time.sleep(0.01)


def test_a_flood_of_header_bytes_is_refused_with_431_while_it_arrives(serve: Serve) -> None:
    served = serve(max_header_bytes=8192)
    with served.connect() as sock:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(256):  # a quarter of a megabyte of headers, if the server took them
                sock.sendall(line)
        except OSError:  # the server may stop reading once it has answered
            pass
        status, text = _answer(sock)
    assert status == 431 and "more than 8192 bytes" in text
    assert served.launched == []


def test_the_next_request_on_a_kept_alive_connection_is_held_to_the_same_head_limits(serve: Serve) -> None:
    served = serve(max_header_bytes=2048, max_headers=20)
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _answer(sock) == (200, "ok")
        sock.sendall(_head("".join(f"X-H{i}: 1\r\n" for i in range(21))) + BODY)
        status, text = _answer(sock)
    assert status == 431 and "more than 20" in text
    with served.connect() as sock:
        sock.sendall(_head() + BODY)
        assert _answer(sock)[0] == 401  # unsigned, refused by the endpoint: the connection stays open
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 3000}\r\n".encode())
        status, text = _answer(sock)
    assert status == 431 and "more than 2048 bytes" in text


def test_too_many_header_lines_are_refused_with_431(serve: Serve) -> None:
    served = serve(max_headers=20)
    with served.connect() as sock:
        sock.sendall(_head("".join(f"X-H{i}: 1\r\n" for i in range(21))) + BODY)
        status, text = _answer(sock)
    assert status == 431 and "more than 20" in text
    # at the limit, the request goes through to the endpoint (and is refused there: unsigned)
    with served.connect() as sock:
        sock.sendall(_head("".join(f"X-H{i}: 1\r\n" for i in range(18))) + BODY)
        assert _answer(sock)[0] == 401


def test_a_head_that_never_ends_is_refused_with_408(serve: Serve) -> None:
    served = serve(header_timeout=0.5)
    with served.connect() as sock:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
        status, text = _answer(sock)  # the server's clock answers, not the test's
    assert status == 408 and "request head not received within 0.5 s" in text


def test_a_body_that_never_ends_is_refused_with_408_and_nothing_is_recorded(serve: Serve) -> None:
    served = serve(body_timeout=0.5)
    headers = signed_headers(BODY, SECRET, int(time.time()), "dlv-slow")
    with served.connect() as sock:
        sock.sendall(_head("".join(f"{k}: {v}\r\n" for k, v in headers.items())) + BODY[:5])
        status, text = _answer(sock)
    assert status == 408 and "body not received within 0.5 s" in text
    assert served.launched == [] and _deliveries(served.store) == 0
    # the same delivery, sent whole, was never recorded: it is accepted
    response = httpx.post(served.url, content=BODY, headers=headers, timeout=30)
    assert response.status_code == 202, response.text


def test_a_client_that_disconnects_is_one_line_in_the_log_not_a_traceback(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve()
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)  # uvicorn's own loggers do not propagate to the root
    try:
        with caplog.at_level(logging.INFO):
            headers = signed_headers(BODY, SECRET, int(time.time()), "dlv-gone")
            with served.connect() as sock:
                sock.sendall(_head("".join(f"{k}: {v}\r\n" for k, v in headers.items())) + BODY[:5])
            _wait_until(lambda: any("went away" in r.getMessage() for r in caplog.records))
            # the server still answers the next client
            assert httpx.post(served.url, content=BODY, timeout=30).status_code == 401
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()]
    assert served.launched == []


def test_unverified_connections_beyond_the_bound_wait_unread_for_their_turn(serve: Serve) -> None:
    served = serve(max_unverified=3)
    holders = [served.connect() for _ in range(3)]
    for sock in holders:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())  # a head that waits
    _wait_until(lambda: served.gate.reading == 3)
    with served.connect() as fourth:
        fourth.sendall(_head() + BODY)  # unsigned: answered 401 once read
        _wait_until(lambda: served.gate.waiting == 1)
        holders.pop().close()  # a slot frees: the fourth is read
        status, _ = _answer(fourth)
    assert status == 401
    for sock in holders:
        sock.close()


def test_a_connection_whose_turn_does_not_come_is_refused_with_503(serve: Serve) -> None:
    served = serve(max_unverified=1, queue_timeout=0.3)
    with served.connect() as holder:
        holder.sendall(f"POST {PATH} HTTP/1.1\r\n".encode())
        _wait_until(lambda: served.gate.reading == 1)
        with served.connect() as second:
            second.sendall(_head() + BODY)
            status, text = _answer(second)
    assert status == 503 and "too many connections" in text, (status, text)


def test_a_verified_sender_leaves_the_gate_while_its_connection_stays_open(serve: Serve) -> None:
    served = serve(max_unverified=1)
    with httpx.Client(timeout=30) as sender:  # keeps its connection alive after the answer
        headers = signed_headers(BODY, SECRET, int(time.time()), "dlv-ok")
        assert sender.post(served.url, content=BODY, headers=headers).status_code == 202
        assert served.gate.reading == 0
        # the one unverified slot is free for a stranger, while the sender's connection is still open
        assert httpx.post(served.url, content=BODY, timeout=30).status_code == 401


def test_deliveries_while_another_one_starts_the_job_are_answered_409_before_that_start_ends(
    serve: Serve,
) -> None:
    served = serve()
    served.proceed.clear()  # the first delivery's launch waits until this test lets it go
    now = int(time.time())

    def deliver(number: int) -> httpx.Response:
        headers = signed_headers(BODY, SECRET, now, f"dlv-{number}")
        return httpx.post(served.url, content=BODY, headers=headers, timeout=60)

    with ThreadPoolExecutor(1) as first_pool:
        first = first_pool.submit(deliver, 0)
        _wait_until(lambda: served.launched != [])  # recorded, and its start under way
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(deliver, range(1, 21)))
        assert not first.done()  # the others had their answers while the start still waited
        served.proceed.set()
        assert first.result().status_code == 202
    assert [a.status_code for a in answers] == [409] * 20
    assert all("job 'daily' is starting: delivery dlv-0" in a.json()["error"] for a in answers)
    assert served.launched == ["orders_hook@delivery:dlv-0"]
    assert _deliveries(served.store) == 2  # the first one's id and signature; nothing of the others


def test_deliveries_for_a_running_job_are_answered_409_without_starting_anything(serve: Serve) -> None:
    served = serve()
    running = served.store.start_run("daily", "{}")
    now = int(time.time())

    def deliver(number: int) -> httpx.Response:
        headers = signed_headers(BODY, SECRET, now, f"dlv-{number}")
        return httpx.post(served.url, content=BODY, headers=headers, timeout=30)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(deliver, range(50)))
    assert [a.status_code for a in answers] == [409] * 50
    assert all(f"already running: run {running}" in a.json()["error"] for a in answers)
    assert served.launched == []  # not even asked: nothing compiled, started or recorded
    assert _deliveries(served.store) == 0
    served.store.finish_run(running, RunStatus.SUCCEEDED)
    # a redelivery once the run is over starts the job
    assert deliver(7).status_code == 202 and len(served.launched) == 1
