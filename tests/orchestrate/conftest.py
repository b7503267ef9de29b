"""A state store on a temporary SQLite file, with a clock the test moves."""

from __future__ import annotations

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
