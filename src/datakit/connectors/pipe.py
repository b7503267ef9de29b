"""Run a reader and a writer at the same time, joined by a bounded queue of Arrow batches.

A `psql | psql` pipe beats read-then-write because both ends work at once; this gives the same to Arrow
loads: the source iterator runs in a background thread (drivers release the GIL while they wait on the
network or decode), the writer runs in the caller's thread (so the destination transaction stays on the
thread that opened it), and memory is bounded by `depth` batches in the queue plus one at each end.
An exception on either side stops the other and is re-raised in the caller; nothing waits forever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from datakit.connectors.errors import ConnectionLost

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")
_POLL_SECONDS = 0.1


class _End:
    """Queue sentinel: the reader finished, with `error` if it failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def pipe(
    batches: Iterable[pa.RecordBatch],
    write: Callable[[Iterator[pa.RecordBatch]], T],
    *,
    depth: int = 4,
    stall_timeout: float | None = None,
) -> T:
    """Feed `batches` (read in a background thread) to `write` (called here), at most `depth` in flight.

    Returns what `write` returns. If the reader raises, `write`'s iterator raises the same exception;
    if `write` raises (or returns early), the reader is stopped and its iterator closed, so the source
    connection is released. `stall_timeout` (seconds) fails the load when no batch arrives for that long.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    channel: queue.Queue[pa.RecordBatch | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(batches, channel, stop), name="datakit-pipe-reader", daemon=True
    )
    producer.start()
    try:
        return write(_consume(channel, stop, stall_timeout))
    finally:
        stop.set()
        _drain(channel)  # unblock a reader waiting on a full queue
        producer.join()


def _produce(
    batches: Iterable[pa.RecordBatch], channel: queue.Queue[pa.RecordBatch | _End], stop: threading.Event
) -> None:
    iterator = iter(batches)
    end = _End()
    try:
        for batch in iterator:
            if not _put(channel, batch, stop):
                return
    except BaseException as exc:  # re-raised in the writer's thread
        end = _End(exc)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # generators release their connection in their `finally`
    _put(channel, end, stop)


def _put(
    channel: queue.Queue[pa.RecordBatch | _End], item: pa.RecordBatch | _End, stop: threading.Event
) -> bool:
    while not stop.is_set():
        try:
            channel.put(item, timeout=_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False


def _consume(
    channel: queue.Queue[pa.RecordBatch | _End], stop: threading.Event, stall_timeout: float | None
) -> Iterator[pa.RecordBatch]:
    waited = 0.0
    while True:
        try:
            item = channel.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            waited += _POLL_SECONDS
            if stall_timeout is not None and waited >= stall_timeout:
                raise ConnectionLost(f"the source produced no batch for {stall_timeout:g}s") from None
            continue
        waited = 0.0
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            return
        yield item
        if stop.is_set():
            return


def _drain(channel: queue.Queue[pa.RecordBatch | _End]) -> None:
    while True:
        try:
            channel.get_nowait()
        except queue.Empty:
            return
