"""The web application of `datakit serve`: the status pages, their actions, the configuration pages and
the webhook endpoint, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.resources import files
from urllib.parse import quote

import anyio.to_thread
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from datakit.config.project import Project
from datakit.connectors.from_config import project_secrets
from datakit.errors import DatakitError, SecretError
from datakit.orchestrate.actions import EngineCancel
from datakit.orchestrate.store import StateStore
from datakit.server.actions import Operator, action_routes
from datakit.server.auth import Auth, AuthPolicy
from datakit.server.config_pages import config_routes
from datakit.server.hooks import Active, hook_routes, webhook_triggers
from datakit.server.limits import DEFAULT_LIMITS, HttpLimits
from datakit.server.pages import not_found_page, page_routes
from datakit.server.render import Renderer
from datakit.server.scheduler import Launch

OPEN_PATHS = ("/login", "/healthz", "/hooks/", "/assets/")
"""What a visitor may reach without a login when the pages need one (beyond loopback)."""


def create_app(
    project: Project,
    store: StateStore,
    launch: Launch,
    secrets: Mapping[str, SecretStr],
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    active: Active | None = None,
    operator: Operator | None = None,
    policy: AuthPolicy | None = None,
    engine_cancel: EngineCancel | None = None,
) -> Starlette:
    """Status pages plus `POST /hooks/<trigger>` for the webhook triggers in `secrets`;
    `limits.body_timeout` bounds a webhook body's arrival, `active` is the one-active-run test.

    With an `operator` (the daemon's launcher) and a `policy`, the pages offer actions to whoever the
    policy lets act; without, they are read-only.
    """
    auth = Auth(policy) if policy is not None else None
    renderer = Renderer(project, auth)  # for the pages of the modules that take one
    routes: list[BaseRoute] = [
        *hook_routes(project, store, launch, secrets, limits=limits, active=active),
        *page_routes(project, store, auth=auth),
        *config_routes(project, renderer),
        Route("/assets/live.js", _live_js, methods=["GET"], name="asset_live"),
    ]
    if auth is not None and operator is not None:
        routes += action_routes(
            project, store, operator, auth, renderer, limits=limits, engine_cancel=engine_cancel
        )
    app = Starlette(
        routes=routes, exception_handlers={404: not_found_page(project, auth=auth)}, lifespan=_warm_up
    )
    if auth is not None and auth.policy.pages_need_login:
        return LoginRequired(app, auth)  # type: ignore[return-value]
    return app


@asynccontextmanager
async def _warm_up(_app: Starlette) -> AsyncIterator[None]:
    """Before the first request: hand one call to a worker thread, so that anyio imports its event-loop
    backend and starts the thread now — not while the first webhook delivery of a burst waits, with
    every other request queued behind it."""
    await anyio.to_thread.run_sync(lambda: None)
    yield


_LIVE_JS = files("datakit.server").joinpath("assets", "live.js").read_bytes()


async def _live_js(_request: Request) -> Response:
    return Response(_LIVE_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


class LoginRequired:
    """Every page but the login page, the health check and the webhooks needs a session (a server that
    listens beyond loopback): a visitor without one is sent to log in."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(OPEN_PATHS):
            request = Request(scope)
            if self.auth.session(request) is None:
                if request.method != "GET":
                    response: Response = Response("log in first", status_code=401)
                else:
                    response = RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=303)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def webhook_secrets(project: Project) -> dict[str, SecretStr]:
    """Each enabled webhook trigger's secret; refuses (naming every gap) when one is missing or empty.

    A webhook trigger without its secret would have to accept unsigned requests or none at all: the
    daemon does not start rather than guess.
    """
    secrets = project_secrets(project)
    found: dict[str, SecretStr] = {}
    problems: list[str] = []
    for name, trigger in webhook_triggers(project).items():
        key = trigger.webhook.secret_key
        try:
            value = secrets.resolve(key)
        except SecretError as exc:
            problems.append(f"trigger {name!r}: {exc}")
            continue
        if value is None or not value.get_secret_value():
            var = secrets.env_var(key)
            problems.append(f"trigger {name!r}: secret {key!r} is empty (set {var or 'its variable'})")
            continue
        found[name] = value
    if problems:
        raise DatakitError(
            "cannot serve webhook triggers without their secrets:\n  " + "\n  ".join(problems),
            hint="set the secrets' environment variables, or disable those triggers (enabled: false)",
        )
    return found
