"""Shared fixtures: the real PostgreSQL server and the example project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import services

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the PostgreSQL test database (skips, or fails in CI, when unreachable)."""
    return services.postgres_dsn()
