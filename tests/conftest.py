"""Shared fixtures: the real PostgreSQL server and the example project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the PostgreSQL test database (skips, or fails in CI, when unreachable)."""
    return services.postgres_dsn()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """An environment without ENVIRONMENT or DATAKIT_* variables leaking in from the caller."""
    import os

    for name in list(os.environ):
        if name == "ENVIRONMENT" or (name.startswith("DATAKIT_") and name != "DATAKIT_REQUIRE_SERVICES"):
            monkeypatch.delenv(name, raising=False)
    yield monkeypatch
