"""The status pages served by uvicorn and opened in a real headless Chromium (Debian's `chromium`).

`--dump-dom` prints the DOM after the browser parsed the page, so these tests see what a person's
browser sees: the runs, and the DAG as SVG elements the HTML parser accepted. Skipped when Chromium is
not installed, failed instead when DATAKIT_REQUIRE_SERVICES=1 (CI installs it, see `.ci/run`).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from datakit.config.project import Project
from datakit.orchestrate.store import RunStatus, StateStore
from tests.browser import chromium as run_chromium
from tests.browser import chromium_binary
from tests.orchestrate.conftest import FakeClock
from tests.server.conftest import Attempt, make_app, record_run
from tests.waits import GUARD, wait_until

CUSTOMERS, ORDERS = "customers_only.customers", "orders_only.orders"


@pytest.fixture
def chromium() -> Path:
    return chromium_binary()


@pytest.fixture
def served(project: Project, store: StateStore, clock: FakeClock) -> Iterator[str]:
    """The pages on 127.0.0.1, on a socket bound before the server starts (no free-port race)."""
    app: Starlette = make_app(project, store, clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    assert server.started, "uvicorn stopped before it started serving"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _chromium(binary: Path, profile: Path, *args: str) -> str:
    del binary  # the fixture made sure it exists
    return run_chromium(profile, *args, timeout=GUARD)


def _png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    """Width, height and a count of distinct byte values in the pixel data (1 for a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    data, offset = b"", 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(data)))


@pytest.fixture
def runs(store: StateStore, clock: FakeClock, project: Project) -> tuple[int, int]:
    ok = record_run(
        store,
        clock,
        project,
        "daily",
        {"shop_bronze.customers": [Attempt(3)], "shop_bronze.orders": [Attempt(5)]},
    )
    failed = record_run(
        store,
        clock,
        project,
        "nightly",
        {CUSTOMERS: [Attempt(8)], ORDERS: [Attempt(4, error="orders <b>locked</b>")]},
        finish=RunStatus.FAILED,
        error="1 step failed",
    )
    return ok, failed


def test_runs_list_in_a_real_browser(
    chromium: Path, served: str, runs: tuple[int, int], tmp_path: Path
) -> None:
    ok, failed = runs
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", f"{served}/")
    shown = re.findall(r'<tr class="run" data-run="(\d+)" data-status="(\w+)"', dom)
    assert shown == [(str(failed), "failed"), (str(ok), "succeeded")]
    assert '<a href="/jobs/nightly">nightly</a>' in dom and '<a href="/jobs/daily">daily</a>' in dom
    assert '<span class="badge st-failed">failed</span>' in dom
    assert '<span class="badge st-succeeded">succeeded</span>' in dom


def test_run_detail_in_a_real_browser_shows_the_dag(
    chromium: Path, served: str, runs: tuple[int, int], tmp_path: Path
) -> None:
    _, failed = runs
    url = f"{served}/runs/{failed}"
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", url)
    assert "<svg" in dom and "nightly" in dom
    nodes = re.findall(r'<g class="node" data-step="([^"]+)" data-status="(\w*)"', dom)
    assert nodes == [(CUSTOMERS, "succeeded"), (ORDERS, "failed")]
    assert len(re.findall(r'class="edge"', dom)) == 1
    assert "orders &lt;b&gt;locked&lt;/b&gt;" in dom and "<b>locked</b>" not in dom
    assert len(re.findall(r'class="seg st-', dom)) == 2  # one bar per attempt

    shot = tmp_path / "page.png"
    _chromium(chromium, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,900", url)
    width, height, colours = _png_size_and_colours(shot.read_bytes())
    assert (width, height) == (1280, 900)
    assert colours > 50, "the screenshot is (nearly) blank"
