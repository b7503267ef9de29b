"""Headless Chromium (Debian's `chromium`) for the tests that open pages in a real browser.

The flags are what this machine needs: no sandbox (CI runs as root), no GPU, no QUIC, and no background
networking (the closed network refuses Chromium's own connections, many at a time). Skipped when
Chromium is not installed, failed instead under DATAKIT_REQUIRE_SERVICES=1 (CI installs it, `.ci/run`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.services import services_required

CHROMIUM = Path(os.environ.get("DATAKIT_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_binary() -> Path:
    """Chromium's path; skips (or fails, when services are required) if it is not installed."""
    if not CHROMIUM.is_file():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if services_required():
            pytest.fail(f"{message} — DATAKIT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


def chromium(profile: Path, *args: str, timeout: float = 120) -> str:
    """Run headless Chromium with a fresh profile folder; its stdout (e.g. the DOM with `--dump-dom`)."""
    command = [str(chromium_binary()), *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout
