"""Shared fixtures: the real PostgreSQL server and the example project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import services

pytest_plugins = ["tests.matrix"]  # the destination matrix: `dest`, `source_db`, `pg_source`, `load_dsn`

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def _no_secret_from_another_test() -> None:
    """Masking is process-wide: a secret one test registers (the test server's password `datakit`, a
    common word masked as a whole token) must not mask another test's output."""
    from datakit.log import forget_secrets

    forget_secrets()


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the PostgreSQL test database (skips, or fails in CI, when unreachable)."""
    return services.postgres_dsn()


@pytest.fixture(scope="session")
def pagila_dsn(pg_dsn: str) -> str:
    """DSN of the unscaled Pagila database on the test server, loaded on first use (a few seconds).

    Shared by every test that reads Pagila: tests must not change it (copy what they change).
    """
    from tests.pagila import PAGILA_DIR, ensure_pagila

    if not PAGILA_DIR.is_dir():
        pytest.fail(f"Pagila dump not found in {PAGILA_DIR} (set DATAKIT_PAGILA_DIR)", pytrace=False)
    return ensure_pagila(pg_dsn)
