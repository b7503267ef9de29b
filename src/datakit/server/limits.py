"""What one client may cost `datakit serve`: the HTTP limits, and the gate on unverified connections.

The server is reachable by anyone who can open a socket to it, and only a webhook delivery signed with
its trigger's secret proves who is talking. Until then a connection is a stranger's, so what a stranger
can hold is bounded: the request head (size, number of header lines, time to arrive), the body (size,
per trigger, and time to arrive), and how many unverified connections are read at once — the others
wait, unread, in arrival order. A verified delivery leaves the gate at once, so a flood of strangers
never delays a genuine sender's answer by more than its turn to be read.

The gate lives on the event loop's thread (the HTTP protocol and the endpoint both run there), so it
needs no lock. `protocol.py` enforces the head limits; `hooks.py` the body's, and marks verification.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request

CONNECTION_STATE = "datakit_connection"
"""The key, in each request's `scope["state"]`, of the connection the request came on."""


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on what a client may send; the defaults suit webhooks and status pages alike."""

    max_header_bytes: int = 16 * 1024
    """Request line and headers together (431 beyond)."""
    max_headers: int = 100
    """Header lines (431 beyond)."""
    header_timeout: float = 10.0
    """Seconds for a request head to arrive once the connection is read, or after its first byte on a
    kept-alive connection (408)."""
    body_timeout: float = 10.0
    """Seconds for a webhook's body to arrive once its head has (408)."""
    max_unverified: int = 64
    """Connections read at once that no verified delivery came on; more wait, unread."""
    queue_timeout: float = 10.0
    """Seconds a connection may wait for its turn to be read (503 after)."""


DEFAULT_LIMITS = HttpLimits()


class Gated(Protocol):
    """A connection the gate can let in."""

    def admitted(self) -> None:
        """Its turn came: start reading it."""


@dataclass
class ConnectionGate:
    """At most `limit` unverified connections are read; the rest wait their turn in arrival order."""

    limit: int
    _reading: set[Gated] = field(default_factory=set)
    _waiting: deque[Gated] = field(default_factory=deque)

    def admit(self, connection: Gated) -> bool:
        """A new connection: True when it may be read now, else it waits for `admitted()`."""
        if len(self._reading) < self.limit:
            self._reading.add(connection)
            return True
        self._waiting.append(connection)
        return False

    def leave(self, connection: Gated) -> None:
        """The connection was verified or closed: the next waiting one, if any, takes its place."""
        self._reading.discard(connection)
        if connection in self._waiting:
            self._waiting.remove(connection)
        while self._waiting and len(self._reading) < self.limit:
            turn = self._waiting.popleft()
            self._reading.add(turn)
            turn.admitted()

    @property
    def reading(self) -> int:
        return len(self._reading)

    @property
    def waiting(self) -> int:
        return len(self._waiting)


class Verifiable(Protocol):
    def verified(self) -> None: ...


def mark_verified(request: Request) -> None:
    """The request proved its sender (a valid signature): its connection leaves the gate.

    A no-op for requests that did not come through `datakit serve`'s protocol (a test client).
    """
    state = request.scope.get("state") or {}
    connection: Verifiable | None = state.get(CONNECTION_STATE)
    if connection is not None:
        connection.verified()
