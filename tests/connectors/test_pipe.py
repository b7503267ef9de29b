"""The concurrent reader/writer: bounded, and an error on either side ends both without hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from datakit.connectors import ConnectionLost, pipe
from tests.waits import GUARD


def batches(
    count: int, *, fail_at: int | None = None, log: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    try:
        for i in range(count):
            if i == fail_at:
                raise ValueError(f"reader failed at batch {i}")
            if log is not None:
                log.append(f"produced {i}")
            yield pa.record_batch({"i": pa.array([i] * 10)})
    finally:
        if log is not None:
            log.append("closed")


def run_with_timeout(action: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Run `action` in a thread; fail the test if it has not finished after GUARD seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), "pipe hung"
    return outcome.get("value"), outcome.get("error")


def count_rows(stream: Iterator[pa.RecordBatch]) -> int:
    return sum(b.num_rows for b in stream)


def test_all_batches_arrive_in_order() -> None:
    seen: list[int] = []

    def write(stream: Iterator[pa.RecordBatch]) -> int:
        for b in stream:
            seen.append(b.column(0)[0].as_py())
        return len(seen)

    assert pipe(batches(100), write, depth=2) == 100
    assert seen == list(range(100))


def test_reader_error_reaches_the_writer() -> None:
    log: list[str] = []
    value, error = run_with_timeout(lambda: pipe(batches(50, fail_at=7, log=log), count_rows))
    assert value is None
    assert isinstance(error, ValueError) and "batch 7" in str(error)
    assert log[-1] == "closed"


def test_writer_error_stops_and_closes_the_reader() -> None:
    log: list[str] = []

    def write(stream: Iterator[pa.RecordBatch]) -> int:
        for i, _ in enumerate(stream):
            if i == 3:
                raise KeyError("writer failed")
        return 0

    _, error = run_with_timeout(lambda: pipe(batches(10_000, log=log), write, depth=2))
    assert isinstance(error, KeyError)
    assert log[-1] == "closed"
    produced = sum(1 for line in log if line.startswith("produced"))
    assert produced <= 3 + 2 + 2  # consumed + queue depth + one in hand at each end: bounded, not 10,000


def test_writer_returning_early_releases_the_reader() -> None:
    log: list[str] = []

    def write(stream: Iterator[pa.RecordBatch]) -> str:
        next(stream)
        return "done"

    value, error = run_with_timeout(lambda: pipe(batches(10_000, log=log), write, depth=1))
    assert (value, error) == ("done", None)
    assert log[-1] == "closed"


def test_memory_is_bounded_by_depth() -> None:
    produced = 0

    def source() -> Iterator[pa.RecordBatch]:
        nonlocal produced
        for i in range(40):
            produced += 1
            yield pa.record_batch({"i": [i]})

    ahead: list[int] = []

    def slow_write(stream: Iterator[pa.RecordBatch]) -> None:
        for consumed, _ in enumerate(stream, start=1):
            time.sleep(0.005)
            ahead.append(produced - consumed)

    pipe(source(), slow_write, depth=3)
    assert max(ahead) <= 3 + 1


def test_stalled_reader_times_out_as_transient() -> None:
    gave_up = threading.Event()

    def stuck() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"i": [1]})
        gave_up.wait(GUARD)  # the next batch comes only after the writer gave up waiting for it
        yield pa.record_batch({"i": [2]})

    def write(stream: Iterator[pa.RecordBatch]) -> int:
        try:
            return count_rows(stream)
        except ConnectionLost:
            gave_up.set()
            raise

    _, error = run_with_timeout(lambda: pipe(stuck(), write, stall_timeout=0.3))
    assert isinstance(error, ConnectionLost) and error.transient


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        pipe(batches(1), count_rows, depth=0)
