"""One way every page of `datakit serve` is rendered: Jinja2 (autoescaped, strict), masked, never cached,
with who is looking (and whether they may act) and the CSRF token their forms carry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from datakit.config.project import Project
from datakit.log import redact
from datakit.server.auth import Auth
from datakit.server.dag_svg import STATUS_COLOURS, UNKNOWN_COLOUR

Clock = Callable[[], float]

REFRESH_SECONDS = 10

templates = Environment(
    loader=PackageLoader("datakit.server", "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt variable fails the page tests instead of rendering blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(epoch: float | None) -> str:
    """An instant for people: UTC to the second, one format on every page."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """A duration at the precision that matters: `850ms`, `42.1s`, `3m 05s`, `15m`, `2h 07m`, `3d 4h`."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"


templates.filters["when"] = when
templates.filters["duration"] = duration


class Renderer:
    """Renders templates for one project; `auth` None: a read-only site (no forms, no logins)."""

    def __init__(self, project: Project, auth: Auth | None = None, clock: Clock = time.time) -> None:
        self.project = project
        self.auth = auth
        self.clock = clock

    def render(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        *,
        refresh: bool = False,
        **context: Any,
    ) -> HTMLResponse:
        auth = self.auth
        page = templates.get_template(template).render(
            root=request.scope.get("root_path", "").rstrip("/"),
            project=self.project,
            colours=STATUS_COLOURS,
            unknown_colour=UNKNOWN_COLOUR,
            refresh=REFRESH_SECONDS if refresh else None,
            now=self.clock(),
            user=auth.actor(request) if auth is not None else None,
            logged_in=auth is not None and auth.session(request) is not None,
            can_login=auth is not None and bool(auth.policy.users),
            csrf=auth.csrf_token(request) if auth is not None else "",
            **context,
        )
        # Run history is masked when written; this masks what it did not know then (a secret declared
        # later, a run recorded by another process), in the HTML-escaped forms too.
        response = HTMLResponse(redact(page), status_code=status_code, headers=_HEADERS)
        if auth is not None:
            auth.set_cookies(request, response)
        return response

    def error(self, request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status_code, title=title, message=message, code=status_code)


_HEADERS = {
    "Cache-Control": "no-store",
    # the pages' own script file and inline style only; no frames (clickjacking of the action buttons)
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
