"""The HTTP/1.1 protocol of `datakit serve`: uvicorn's h11 protocol with the limits of `limits.py`.

uvicorn (the server) brings two of the limits itself, and they are used: h11's cap on an incomplete
request head (`h11_max_incomplete_event_size`: the buffer never grows past it) and the keep-alive
timeout between requests. It has no cap on the number of header lines, answers an oversized head with
400 rather than 431, never times out a head or a body that arrives slowly (a connection that sends a
byte a minute is kept forever), and reads every connection at once. This subclass adds those, on h11's
public state only (`their_state`, `trailing_data`): while the client's side is IDLE a request head is
arriving, and the bytes buffered plus the new ones are that head.

h11 (pure Python, a hard dependency of uvicorn) is chosen over httptools on purpose: httptools is
optional, so `http="auto"` would change the server's limits with what happens to be installed, and
llhttp buffers a header value whole before uvicorn sees it, so a head could not be capped while it
arrives. The event loop is asyncio's for the same reason, and one more: uvloop starts reading a new
connection after `connection_made` even when the protocol paused it there, so a connection waiting for
its turn would be read anyway.

A refusal answers with a short text, half-closes the connection and reads (and drops) what the client
still sends for a moment before closing: closing at once with unread data would make the kernel send a
reset, and the client would see "connection reset" instead of the answer.
"""

from __future__ import annotations

import asyncio
import re
from http import HTTPStatus
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from datakit.log import get_logger
from datakit.server.limits import CONNECTION_STATE, ConnectionGate, HttpLimits

log = get_logger(__name__)

LINGER = 2.0
"""Seconds a refused connection is still read (and dropped) before it is closed."""
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a head, as h11 finds it


class GuardedH11Protocol(H11Protocol):
    """One connection; `limits` and `gate` are set on the subclass `web_server` makes per server."""

    limits: ClassVar[HttpLimits]
    gate: ClassVar[ConnectionGate]

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # each request's scope["state"] is a copy of app_state: this connection rides along
        super().__init__(config, server_state, {**app_state, CONNECTION_STATE: self}, _loop)
        self._head_clock: asyncio.TimerHandle | None = None
        self._admitted = False
        self._verified = False
        self._refused = False

    # --- the gate ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._admitted = self.gate.admit(self)
        if self._admitted:
            self._start_head_clock()
        else:  # unread until its turn; a turn that does not come in time is refused
            transport.pause_reading()
            self._head_clock = self.loop.call_later(self.limits.queue_timeout, self._head_too_slow)

    def admitted(self) -> None:
        self._admitted = True
        self._stop_head_clock()
        if not self._refused and not self.transport.is_closing():
            self.transport.resume_reading()
            self._start_head_clock()

    def verified(self) -> None:
        if not self._verified:
            self._verified = True
            self.gate.leave(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        self.gate.leave(self)
        super().connection_lost(exc)

    # --- the head ---------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: dropped
        if self.conn.their_state is h11.IDLE:  # a request head is arriving
            problem = self._head_problem(self.conn.trailing_data[0] + data)
            if problem is not None:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, problem)
                return
            self._start_head_clock()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete: the app has the request
            self._stop_head_clock()

    def _head_problem(self, head: bytes) -> str | None:
        end = _BLANK_LINE.search(head)
        size = end.end() if end is not None else len(head)
        if size > self.limits.max_header_bytes:
            return f"request header fields too large: more than {self.limits.max_header_bytes} bytes"
        # one line ending per header, plus the request line's (and the blank line's, once it came)
        headers = head.count(b"\n", 0, size) - 1 - (end is not None)
        if headers > self.limits.max_headers:
            return f"too many request header fields: more than {self.limits.max_headers}"
        return None

    def _start_head_clock(self) -> None:
        if self._head_clock is None:
            self._head_clock = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_too_slow(self) -> None:
        self._head_clock = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if not self._admitted:
            waited = f"{self.limits.queue_timeout:g} s"
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, f"too many connections; not read within {waited}")
        elif self.conn.trailing_data[0]:
            seconds = f"{self.limits.header_timeout:g} s"
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"request head not received within {seconds}")
        else:  # nothing was sent: an idle connection, closed without a word
            self.transport.close()

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer `status` with `message`, then linger: the client reads the answer, not a reset."""
        self._refused = True
        self._stop_head_clock()
        self.gate.leave(self)  # what it still sends is dropped: its turn goes to the next
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("refused %s: %d %s", client, status.value, message)
        body = message.encode()
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.resume_reading()
        self.loop.call_later(LINGER, self.transport.close)


def web_server(app: Any, host: str, port: int, limits: HttpLimits) -> uvicorn.Server:
    """A uvicorn server for `app` that enforces `limits` (its gate: `server.config.http.gate`)."""
    gate = ConnectionGate(limits.max_unverified)
    protocol = type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits, "gate": gate})
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        loop="asyncio",
        h11_max_incomplete_event_size=limits.max_header_bytes,
        log_level="warning",
        lifespan="off",
    )
    return uvicorn.Server(config)
