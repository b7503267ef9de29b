"""The network side of the PostgreSQL fast read: binary COPY streams through asyncpg, in one thread.

asyncpg hands over a COPY stream in ~20 KB chunks from Cython, at ~0.3 s of CPU per 2M rental rows,
where psycopg returns one Python object per row (~1.75 s). Several COPYs (TID-range partitions of one
table) run on one event loop in one thread, in one exported snapshot, and their bytes go to the
decoding thread ~1 MB at a time (smaller hand-offs cost more in thread switches than they save).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

from datakit.connectors.params import PostgresParams

POLL_SECONDS = 0.1
HANDOFF_BYTES = 1 << 20


class _Stopped(Exception):
    """The consumer went away."""


def copy_out(params: PostgresParams, selects: list[str], chunks: Any, stop: threading.Event) -> None:
    """Thread body: COPY each SELECT (binary) on its own connection; put `(partition, bytes)` items.

    Ends with None on `chunks`, or with the exception on failure; returns quietly once `stop` is set
    (the copies are cancelled and their connections closed, even if the server sends nothing).
    """

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    async def run() -> None:
        work = asyncio.ensure_future(_copies(params, selects, put))
        while not work.done():
            if stop.is_set():
                work.cancel()
                break
            await asyncio.wait({work}, timeout=POLL_SECONDS)
        await work

    try:
        asyncio.run(run())
    except (_Stopped, asyncio.CancelledError):
        return
    except BaseException as exc:  # handed to the consumer, which raises it
        put(exc)
        return
    put(None)


async def _copies(params: PostgresParams, selects: list[str], put: Any) -> None:
    connections: list[Any] = []
    try:
        for _ in selects:
            connections.append(await _connect(params))
        if len(connections) > 1:  # one snapshot for all partitions: the same rows as a single read
            for connection in connections:
                await connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = await connections[0].fetchval("SELECT pg_export_snapshot()")
            for connection in connections[1:]:
                await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        await asyncio.gather(
            *(_copy(i, c, s, put) for i, (c, s) in enumerate(zip(connections, selects, strict=True)))
        )
    finally:
        for connection in connections:
            connection.terminate()


async def _connect(params: PostgresParams) -> Any:
    import asyncpg

    return await asyncpg.connect(
        host=params.host,
        port=params.port,
        user=params.user,
        password=params.password.get_secret_value() if params.password else None,
        database=params.database,
        timeout=params.connect_timeout,
        ssl=params.sslmode,
        statement_cache_size=0,
    )


async def _copy(index: int, connection: Any, select: str, put: Any) -> None:
    held: list[bytes] = []
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal size
        held.append(data)
        size += len(data)
        if size >= HANDOFF_BYTES:
            if not put((index, b"".join(held))):
                raise _Stopped
            held.clear()
            size = 0

    await connection.copy_from_query(select, output=sink, format="binary")
    if held and not put((index, b"".join(held))):
        raise _Stopped
