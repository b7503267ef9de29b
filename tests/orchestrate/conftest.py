"""A state store on a temporary SQLite file (or on each engine: `any_store`), with a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.orchestrate.store import StateStore
from datakit.orchestrate.store.sql import sqlite_url


class FakeClock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    state = StateStore(sqlite_url(tmp_path / "state.db"), clock=clock, stale_after=60)
    yield state
    state.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StateStore]:
    """The store on each engine; on PostgreSQL in a schema of its own, dropped afterwards."""
    if request.param == "sqlite":
        state = StateStore(sqlite_url(tmp_path / "state.db"), clock=clock, stale_after=60)
        yield state
        state.close()
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    schema = f"state_{uuid.uuid4().hex[:10]}"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    state = StateStore(url, schema=schema, clock=clock, stale_after=60)
    yield state
    from sqlalchemy import text

    with state.engine.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    state.close()
