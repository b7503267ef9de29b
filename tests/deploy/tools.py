"""The validators the deploy/ tests run, and one rule for when one is missing.

There is no Docker engine or systemd on the machines the tests run on, so each file of deploy/ is checked by
the real tool that reads it: `docker-compose config` (Debian's docker-compose), `systemd-analyze verify`,
`shellcheck`. A laptop without a tool skips with how to get it; CI (`DATAKIT_REQUIRE_SERVICES=1`, .ci/run
installs the tools) fails instead, so a missing validator can never pass green.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.services import services_required

DEPLOY = REPO / "deploy"

PACKAGES = {
    "docker-compose": "docker-compose",
    "shellcheck": "shellcheck",
    "systemd-analyze": "systemd",
    "make": "make",
    "redis-server": "redis-server",
    "psql": "postgresql-client",
}
"""Each tool -> the Debian package that provides it."""


def tool(name: str) -> str:
    """The path of `name`; skips (fails in CI) when it is not installed."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (apt-get install -y {PACKAGES[name]}; .ci/run installs it)"
        if services_required():
            pytest.fail(f"{message} — DATAKIT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return found


def run(
    args: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a validator or a make target; never raises on its exit code (tests assert on it)."""
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def datakit_command() -> str:
    """The `datakit` of the interpreter running the tests (its bin folder need not be on PATH)."""
    found = shutil.which("datakit", path=str(Path(sys.executable).parent)) or shutil.which("datakit")
    if found is None:
        pytest.fail("the datakit command is not installed next to this interpreter (pip install -e .)")
    return found
