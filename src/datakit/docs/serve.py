"""`datakit docs serve`: the built site over HTTP, for a team to share (it also reads as plain files)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(SimpleHTTPRequestHandler):
    """Serves the site's folder; no request log on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def docs_server(folder: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server of `folder` bound to `host:port` (0: any free port), not yet serving."""
    handler = functools.partial(_Quiet, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)


def serve_docs(
    folder: Path, *, host: str = "127.0.0.1", port: int = 8322, ready: Callable[[str], None] | None = None
) -> None:
    """Serve `folder` until interrupted; `ready(url)` is called once the socket listens."""
    server = docs_server(folder, host, port)
    if ready is not None:
        ready(f"http://{host}:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
