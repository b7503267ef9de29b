"""The HTTP/1.1 protocol of `datakit serve`: uvicorn's httptools protocol with the limits of `limits.py`.

uvicorn (the server) brings one of the limits itself, and it is used: the keep-alive timeout between
requests. It has no cap on a request head's size or number of header lines, never times out a head or
a body that arrives slowly (a connection that sends a byte a minute is kept forever), and reads every
connection at once. This subclass adds those. It sees each read before the parser does, and the
parser's callbacks say where a head ends: while a head is arriving, the bytes buffered plus the new
ones are that head, and are checked before llhttp (which would buffer a header value whole) sees them.
A request pipelined behind another in the same read has its head counted from the next read on.

httptools (llhttp, in C) and uvloop (libuv) are chosen over h11 (pure Python, uvicorn's other parser)
and asyncio's own loop for speed: a burst of 400 webhook requests cost the server about twice the CPU
on h11, and asyncio's loop another third (`bench/webhooks.py`); with every request of a burst answered
after about the whole burst's CPU, that is its latency. Both are dependencies (uvloop where it exists:
not on Windows, where the loop is asyncio's), and both are passed by name, never `"auto"`. The limits
hold on either loop: uvloop reads a new connection once after `connection_made` even when the protocol
paused it there, so a connection waiting for its turn has that one read held, unparsed, until its turn.

A refusal answers with a short text, half-closes the connection and reads (and drops) what the client
still sends for a moment before closing: closing at once with unread data would make the kernel send a
reset, and the client would see "connection reset" instead of the answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from http import HTTPStatus
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from datakit.log import get_logger
from datakit.server.limits import CONNECTION_STATE, ConnectionGate, HttpLimits

log = get_logger(__name__)

LINGER = 2.0
"""Seconds a refused connection is still read (and dropped) before it is closed."""
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a head


class GuardedProtocol(HttpToolsProtocol):
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
        self._head = b""  # what arrived of the request head being read
        self._in_head = True  # between requests, and while a head arrives (the parser says when not)
        self._admitted = False
        self._held = b""  # what a connection sent before its turn (one read at most: see `data_received`)
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
            self._start_head_clock()
            if self._held:  # read before its turn: parsed on the loop's next turn, before any new read
                self.loop.call_soon(self._read_held)
            else:
                self.transport.resume_reading()

    def _read_held(self) -> None:
        if self._refused or self.transport.is_closing():
            return
        held, self._held = self._held, b""
        self.transport.resume_reading()  # the next read comes after this callback: `held` goes first
        self.data_received(held)

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
        if not self._admitted:  # uvloop reads once after `connection_made` paused it: held, unparsed
            self._held += data
            self.transport.pause_reading()
            return
        if not self._in_head:  # a body, or a read of a request the app has
            super().data_received(data)
            return
        head = self._head + data
        problem = self._head_problem(head)
        if problem is not None:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, problem)
            return
        self._start_head_clock()
        self._head = head
        super().data_received(data)  # the parser's callbacks below may end the head

    def on_headers_complete(self) -> None:
        self._in_head, self._head = False, b""  # the app has the request
        self._stop_head_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next on this connection is the next request's head
        super().on_message_complete()

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
        if self.transport.is_closing() or not self._in_head:
            return
        if not self._admitted:
            waited = f"{self.limits.queue_timeout:g} s"
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, f"too many connections; not read within {waited}")
        elif self._head:
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
    protocol = type("GuardedProtocol", (GuardedProtocol,), {"limits": limits, "gate": gate})
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        log_level="warning",
        lifespan="on",  # the app's warm-up (`app.py`)
        ws="none",  # no websockets are served: nor imported
    )
    return uvicorn.Server(config)
