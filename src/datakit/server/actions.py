"""The status pages' actions: log in and out, start a job, resume a run, retry a step, cancel a run,
pause and unpause a trigger — each a POST of a form.

Every action is refused unless whoever sends it may act (`auth.py`: a logged-in user, or `--auth none`
on loopback; 401) and its form carries the right CSRF token (403). Then it calls what the CLI calls —
`Launcher.launch` (through `Executor.run`, with the one-active-run rule), `actions.cancel_run`,
`actions.pause_trigger` — and writes the audit log, done or refused with the reason. A refusal by the
rules (the job already runs, the run already succeeded) is a page saying why, with the status code a
script can test (409, 404, 400). Bodies are small forms: at most `MAX_FORM_BYTES`, arriving within the
server's body timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import parse_qs

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from datakit.config.project import Project
from datakit.errors import DatakitError, NotFoundError, UsageError
from datakit.log import get_logger
from datakit.orchestrate.actions import EngineCancel, audited, cancel_run, pause_trigger, unpause_trigger
from datakit.orchestrate.run import refuse_full_refresh
from datakit.orchestrate.store import AlreadyRunning, StateStore
from datakit.server.auth import Auth
from datakit.server.limits import DEFAULT_LIMITS, HttpLimits
from datakit.server.render import Renderer

log = get_logger(__name__)
T = TypeVar("T")
MAX_FORM_BYTES = 16 * 1024
CONFIRM_IN_FORM = 'tick "confirm: prod" next to "full refresh" if that is what you want (and fill in select)'


class Operator(Protocol):
    """What starts and stops runs in this process: the daemon's `Launcher`."""

    def launch(
        self,
        job: str,
        *,
        tick_key: str | None = None,
        warehouse: str | None = None,
        full_refresh: bool = False,
        resume: int | None = None,
        only: str | None = None,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        confirmed: bool = False,
    ) -> int: ...

    def cancel(self, run_id: int) -> bool: ...


def action_routes(
    project: Project,
    store: StateStore,
    operator: Operator,
    auth: Auth,
    renderer: Renderer,
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    engine_cancel: EngineCancel | None = None,
) -> list[Route]:
    """The login page and every action, as routes (`engine_cancel`: how a run of another engine is
    cancelled, `cancel_run`)."""
    act = _Actions(project, store, operator, auth, renderer, limits, engine_cancel)
    return [
        Route("/login", act.login_page, methods=["GET"], name="login"),
        Route("/login", act.login, methods=["POST"], name="login_post"),
        Route("/logout", act.logout, methods=["POST"], name="logout"),
        Route("/actions/start", act.start, methods=["POST"], name="action_start"),
        Route("/runs/{run_id:int}/resume", act.resume, methods=["POST"], name="action_resume"),
        Route("/runs/{run_id:int}/retry", act.retry, methods=["POST"], name="action_retry"),
        Route("/runs/{run_id:int}/cancel", act.cancel, methods=["POST"], name="action_cancel"),
        Route("/triggers/{name}/pause", act.pause, methods=["POST"], name="action_pause"),
        Route("/triggers/{name}/unpause", act.unpause, methods=["POST"], name="action_unpause"),
    ]


@dataclass(frozen=True)
class _Request:
    """An action's request once it passed the checks: who, from where, with which fields."""

    actor: str
    client: str
    form: dict[str, str]


@dataclass(frozen=True)
class _Actions:
    project: Project
    store: StateStore
    operator: Operator
    auth: Auth
    renderer: Renderer
    limits: HttpLimits
    engine_cancel: EngineCancel | None

    # --- logging in -------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if not self.auth.policy.users:
            return self.renderer.error(
                request, 404, "No logins", "This server has no users (serve.users in datakit.yaml)."
            )
        return self.renderer.render(request, "login.html", next=_local(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        client = _client(request)
        problem = self.auth.csrf_problem(request, form.get("csrf", ""))
        if problem is not None:
            return self._refused(request, 403, problem)
        wait = self.auth.throttle.blocked_for(client)
        if wait > 0:
            log.warning("login from %s refused: too many failed attempts", client)
            return self.renderer.render(
                request,
                "login.html",
                429,
                next=_local(form.get("next")),
                problem=f"Too many failed logins from {client}; try again in {wait:.0f} s.",
            )
        user = form.get("user", "")[:200]
        if not self.auth.check_password(user, form.get("password", "")):
            self.auth.throttle.failed(client)
            await run_in_threadpool(
                self.store.record_audit, user or "(none)", "login", "datakit serve", outcome="refused",
                detail="wrong user or password", client=client,
            )  # fmt: skip
            return self.renderer.render(
                request, "login.html", 401, next=_local(form.get("next")), problem="Wrong user or password."
            )
        session = self.auth.start_session(user)
        await run_in_threadpool(self.store.record_audit, user, "login", "datakit serve", client=client)
        response = RedirectResponse(_local(form.get("next")), status_code=303)
        self.auth.set_cookies(request, response, session)
        return response

    async def logout(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        self.auth.end_session(request)
        await run_in_threadpool(
            self.store.record_audit, checked.actor, "logout", "datakit serve", client=checked.client
        )
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie("datakit_session")
        return response

    # --- runs -------------------------------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        form = checked.form
        warehouse = form.get("warehouse") or None
        full_refresh = form.get("full_refresh") == "on"
        confirmed = form.get("confirm_full_refresh") == "on"  # prod's second tick: the CLI's --yes
        # one text field each, in the CLI's grammar (space-separated selectors): `plan_for_run` parses
        # them as it parses `--select`/`--exclude`, so a bad one is refused with the CLI's message
        select = [text] if (text := form.get("select", "").strip()) else []
        exclude = [text] if (text := form.get("exclude", "").strip()) else []
        target = f"job {form.get('job', '')}" + (f" for {warehouse}" if warehouse else "")
        said = [
            *(["full refresh"] if full_refresh else []),
            *(f"--select {value}" for value in select),
            *(f"--exclude {value}" for value in exclude),
        ]
        detail = ", ".join(said) or None

        def do() -> int:
            job = self.project.job(form.get("job", "")).name  # NotFoundError, with "did you mean"
            if warehouse is not None:
                self._check_warehouse(job, warehouse)
            if full_refresh:
                refuse_full_refresh(self.project, confirmed, hint=CONFIRM_IN_FORM)
            return self.operator.launch(
                job,
                warehouse=warehouse,
                full_refresh=full_refresh,
                select=select,
                exclude=exclude,
                confirmed=confirmed,
            )

        return await self._run_action(request, checked, "start", target, do, detail)

    async def resume(self, request: Request) -> Response:
        return await self._again(request, only=False)

    async def retry(self, request: Request) -> Response:
        return await self._again(request, only=True)

    async def _again(self, request: Request, *, only: bool) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        run_id: int = request.path_params["run_id"]
        step = checked.form.get("step", "") if only else None
        action, target = ("retry", f"step {step} of run {run_id}") if only else ("resume", f"run {run_id}")

        def do() -> int:
            run = self.store.get_run(run_id)
            return self.operator.launch(run.job, warehouse=run.warehouse, resume=run_id, only=step)

        return await self._run_action(request, checked, action, target, do, None)

    async def cancel(self, request: Request) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        run_id: int = request.path_params["run_id"]
        try:
            await run_in_threadpool(
                cancel_run, self.store, run_id, checked.actor, stop_here=self.operator.cancel,
                client=checked.client, engine_cancel=self.engine_cancel,
            )  # fmt: skip
        except DatakitError as exc:
            return self._rule_refused(request, exc)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    # --- triggers ---------------------------------------------------------------------------------

    async def pause(self, request: Request) -> Response:
        return await self._pause(request, pause_trigger)

    async def unpause(self, request: Request) -> Response:
        return await self._pause(request, unpause_trigger)

    async def _pause(self, request: Request, change: Callable[..., bool]) -> Response:
        checked = await self._checked(request)
        if isinstance(checked, Response):
            return checked
        name: str = request.path_params["name"]
        try:
            await run_in_threadpool(
                change, self.project, self.store, name, checked.actor, client=checked.client
            )
        except DatakitError as exc:
            return self._rule_refused(request, exc)
        return RedirectResponse("/triggers", status_code=303)

    # --- the checks -------------------------------------------------------------------------------

    async def _checked(self, request: Request) -> _Request | Response:
        """The action's form once its sender may act and its CSRF token is right; else the refusal."""
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        actor = self.auth.actor(request)
        if actor is None:
            return self._refused(request, 401, "log in to act")
        problem = self.auth.csrf_problem(request, form.get("csrf", ""))
        if problem is not None:
            return self._refused(request, 403, problem)
        client = _client(request)
        if actor == "local":
            actor = f"local ({client})"
        return _Request(actor, client, form)

    async def _form(self, request: Request) -> dict[str, str] | Response:
        """The urlencoded form (first value of each field), read within the limits."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return self.renderer.error(request, 415, "Not a form", "actions take an urlencoded form")
        try:
            with anyio.fail_after(self.limits.body_timeout):
                body = bytearray()
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_FORM_BYTES:
                        return self.renderer.error(request, 413, "Too large", "the form is too large")
        except TimeoutError:
            return self.renderer.error(request, 408, "Too slow", "the form did not arrive in time")
        except ClientDisconnect:
            return Response(status_code=400)
        fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}

    def _refused(self, request: Request, status: int, reason: str) -> Response:
        """Not audited: these come from strangers (no login, a forged form), and would flood it."""
        path, client = request.url.path, _client(request)
        log.warning("POST %s from %s refused (%d): %s", path, client, status, reason)
        return self.renderer.error(request, status, "Log in to act" if status == 401 else "Refused", reason)

    def _rule_refused(self, request: Request, exc: DatakitError) -> Response:
        """An action the rules refuse: 409 when it conflicts with the state, 404 for unknown names, 400
        for a bad field (a selector the CLI would refuse too)."""
        if isinstance(exc, AlreadyRunning):
            status = 409
        elif isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, UsageError):
            status = 400
        else:
            status = 409
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return self.renderer.error(request, status, "Not done", message)

    async def _run_action(
        self,
        request: Request,
        checked: _Request,
        action: str,
        target: str,
        do: Callable[[], int],
        detail: str | None,
    ) -> Response:
        """A run-starting action: audited, then the run's page (303), or why it started nothing."""
        try:
            run_id = await run_in_threadpool(
                audited, self.store, checked.actor, action, target, do, client=checked.client,
                detail=lambda run: f"run {run}" + (f", {detail}" if detail else ""),
            )  # fmt: skip
        except DatakitError as exc:
            return self._rule_refused(request, exc)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    def _check_warehouse(self, job: str, warehouse: str) -> None:
        from datakit.config.tenancy import tenants_running
        from datakit.errors import did_you_mean

        tenants = tenants_running(self.project, job)
        if warehouse not in tenants:
            hint = did_you_mean(warehouse, tenants) or (
                f"warehouses running {job}: {', '.join(tenants)}" if tenants else f"no warehouse runs {job}"
            )
            raise NotFoundError(f"warehouse {warehouse!r} does not run job {job!r}", hint=hint)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _local(path: str | None) -> str:
    """`path` when it is a page of this site (a redirect target), else the runs page."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
