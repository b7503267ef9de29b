"""`POST /hooks/<trigger>`: a signed delivery starts the trigger's job, at most once.

Verification is `datakit.orchestrate.webhooks` (signature, time window, replay); this module is the
HTTP side of it, in an order that makes every refusal cheap:

1. the body, read in chunks and refused as soon as it passes the trigger's limit (a client cannot make
   the server buffer more than `max_body_bytes + 1` bytes) or takes longer than `body_timeout` (408);
2. `authenticate` — signature and time window, from the request alone; the connection then counts as
   verified (`limits.py`);
3. the one-active-run rule: a delivery for a job that already runs here, or that another delivery is
   starting (`starting.py`), is answered 409 at once, with nothing recorded, compiled or started (a
   burst of deliveries while a run goes costs a hash each); then, in one worker thread hop (during a
   burst every return to the event loop waits behind the queued requests):
4. the pause and the run of another process, from the store;
5. `remember` — the delivery id and signature in the state store, so a replay is refused by every
   process serving the project and after restarts;
6. the run, started with the tick key `<trigger>@delivery:<id>` in the same transaction as its row; the
   launcher answers as soon as that is committed, before the run's slow start-up.

Answers: 202 with the run id (and `runs`: one per warehouse when the job is a tenants' job, each
tenant's run keyed `<trigger>.<warehouse>@delivery:<id>`); 401/409/413/400 from verification; 408 for a
body that is too slow; 404 for an unknown or disabled trigger (the same answer for both, so the
endpoint does not reveal which triggers exist but are off); 409 for a paused trigger (nothing is
remembered, so a redelivery after the unpause starts the job); 409 when the job is already running (a
delivery that got as far as step 5 is then forgotten, so the sender's redelivery can start it). A
client that disconnects is one line in the log, and starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from datakit.config.models.triggers import WebhookTrigger
from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.store import AlreadyRunning, StateStore, TickFired
from datakit.orchestrate.webhooks import (
    BodyTooLarge,
    Delivery,
    WebhookError,
    authenticate,
    delivery_key,
    remember,
)
from datakit.server.limits import DEFAULT_LIMITS, HttpLimits, mark_verified
from datakit.server.scheduler import Launch, is_paused, tenant_triggers
from datakit.server.starting import Starting

log = get_logger(__name__)


class StoreSeenIds:
    """`SeenIds` on the state store: insert-if-absent that holds across threads and processes."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def add_if_absent(self, key: str, expires_at: datetime, now: datetime) -> bool:
        del now  # the store compares expiry with its own clock
        return self.store.add_delivery(key, expires_at.timestamp())


def webhook_triggers(project: Project) -> dict[str, WebhookTrigger]:
    """The enabled webhook triggers, by name."""
    return {name: t for name, t in project.triggers.items() if isinstance(t, WebhookTrigger) and t.enabled}


Active = Callable[[str, str | None], int | None]
"""The active run of (job, warehouse) if one is known without waiting (it is called on the event loop,
and from worker threads): the cheap first test of the one-active-run rule; `launch` makes the thorough
one."""
Firing = tuple[str, str | None]
"""Where a webhook fires: the firing trigger's name and its warehouse (None: not a tenants' job)."""


def hook_routes(
    project: Project,
    store: StateStore,
    launch: Launch,
    secrets: Mapping[str, SecretStr],
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    active: Active | None = None,
) -> list[Route]:
    """The webhook endpoint; `secrets` maps each webhook trigger to its (already resolved) secret.

    `active` says whether a job already runs, without waiting: the daemon passes its launcher's, which
    knows the runs it started; without it, the store is asked (in a worker thread).
    """
    triggers = webhook_triggers(project)
    # where each webhook fires: itself, or once per warehouse that runs its job (`nightly.acme`...)
    targets: dict[str, list[Firing]] = {}
    for firing, (fired, warehouse) in tenant_triggers(project).items():
        base = firing.split(".", 1)[0]
        if base in triggers and fired.enabled:
            targets.setdefault(base, []).append((firing, warehouse))
    endpoint = _Endpoint(store, launch, active, limits, triggers, secrets, targets)
    return [Route("/hooks/{trigger}", endpoint.receive, methods=["POST"], name="webhook")]


@dataclass(frozen=True)
class _Endpoint:
    store: StateStore
    launch: Launch
    active: Active | None
    limits: HttpLimits
    triggers: Mapping[str, WebhookTrigger]
    secrets: Mapping[str, SecretStr]
    targets: Mapping[str, list[Firing]]
    starting: Starting = field(default_factory=Starting)

    async def receive(self, request: Request) -> JSONResponse:
        name = request.path_params["trigger"]
        trigger = self.triggers.get(name)
        if trigger is None or name not in self.secrets or not self.targets.get(name):
            return _answer(404, f"no webhook trigger {name!r}")
        now = datetime.now(UTC)
        delivery = await self._authentic(request, name, trigger, now)
        if isinstance(delivery, JSONResponse):
            return delivery
        mark_verified(request)
        keys = [(trigger.job, warehouse) for _, warehouse in self.targets[name]]
        # a job that already runs here, or that another delivery is starting, is answered at once,
        # before any query: nothing recorded, compiled or started (a burst costs a hash each)
        claim = await self.starting.settled(keys)
        if claim is not None:
            busy = [f"job {trigger.job!r} is starting: delivery {claim.delivery}"]
        else:
            busy = self._running_here(trigger.job, self.targets[name])
        if claim is not None or len(busy) == len(keys):
            log.info("webhook %s: delivery %s refused (409): %s", name, delivery.id, "; ".join(busy))
            return _answer(409, "; ".join(busy))
        with self.starting.claimed(keys, delivery.id) as claim:  # no await since `settled`
            if await request.is_disconnected():  # no run for a sender not there to hear of it
                gone = "webhook %s: the client of delivery %s went away; nothing started"
                log.warning(gone, name, delivery.id)
                return _answer(400, "client disconnected")
            return await run_in_threadpool(self._record_and_start, name, trigger, delivery, now, claim.accept)

    def _record_and_start(
        self,
        name: str,
        trigger: WebhookTrigger,
        delivery: Delivery,
        now: datetime,
        accepted: Callable[[], None],
    ) -> JSONResponse:
        """(A worker thread.) The pause and one-active-run rules, the delivery id, the runs;
        `accepted()` once the delivery is recorded, before its runs start."""
        paused = set(self.store.paused_triggers())
        firings = [firing for firing in self.targets[name] if not is_paused(firing[0], paused)]
        if not firings:  # nothing remembered: the sender's redelivery after the unpause starts the job
            log.info("webhook %s: delivery %s refused (409): the trigger is paused", name, delivery.id)
            return _answer(409, f"trigger {name!r} is paused")
        running = [self._running(trigger.job, wh) for _, wh in firings]
        busy = [_busy(trigger.job, run) for run in running if run is not None]
        if len(busy) == len(firings):
            log.info("webhook %s: delivery %s refused (409): %s", name, delivery.id, "; ".join(busy))
            return _answer(409, "; ".join(busy))
        try:
            remember(delivery, StoreSeenIds(self.store), now, tolerance=trigger.webhook.tolerance, scope=name)
        except WebhookError as exc:
            log.warning("webhook %s refused (%d): %s", name, exc.status, exc)
            return _answer(exc.status, str(exc))
        accepted()
        free = [firing for firing, run in zip(firings, running, strict=True) if run is None]
        started = self._start(delivery, trigger.job, free, busy)
        if not started:
            if busy:  # nothing started: forget the delivery so that the sender's redelivery can start it
                self.store.forget_delivery(delivery_key(name, delivery.id))
                return _answer(409, "; ".join(busy))
            return _answer(409, f"delivery {delivery.id} already started its runs")
        answer = {
            "run_id": started[0]["run_id"],
            "runs": started,
            "job": trigger.job,
            "delivery": delivery.id,
        }
        if busy:
            answer["skipped"] = busy
        return JSONResponse(answer, status_code=202)

    def _running_here(self, job: str, firings: list[Firing]) -> list[str]:
        """Why each firing is busy, by what this process knows without waiting (no store query)."""
        if self.active is None:
            return []
        running = (self.active(job, warehouse) for _, warehouse in firings)
        return [_busy(job, run) for run in running if run is not None]

    def _running(self, job: str, warehouse: str | None) -> int | None:
        if self.active is not None:
            return self.active(job, warehouse)
        return self.store.active_run(job, warehouse)

    async def _authentic(
        self, request: Request, name: str, trigger: WebhookTrigger, now: datetime
    ) -> Delivery | JSONResponse:
        """The delivery once its body arrived in time and it is signed and fresh; else the answer."""
        settings = trigger.webhook
        timeout = self.limits.body_timeout
        try:
            with anyio.fail_after(timeout):
                body = await _read_body(request, settings.max_body_bytes)
            return authenticate(
                dict(request.headers),
                body,
                self.secrets[name],
                now,
                tolerance=settings.tolerance,
                max_body_bytes=settings.max_body_bytes,
            )
        except TimeoutError:
            log.warning("webhook %s refused (408): body not received within %g s", name, timeout)
            return _answer(408, f"body not received within {timeout:g} s", close=True)
        except ClientDisconnect:
            log.warning("webhook %s: the client went away before sending its whole body", name)
            return _answer(400, "client disconnected")
        except WebhookError as exc:
            log.warning("webhook %s refused (%d): %s", name, exc.status, exc)
            return _answer(exc.status, str(exc))

    def _start(
        self, delivery: Delivery, job: str, firings: list[Firing], busy: list[str]
    ) -> list[dict[str, object]]:
        """Start the delivery's runs (one per firing); what could not start is added to `busy`."""
        started: list[dict[str, object]] = []
        for firing, warehouse in firings:
            tick = delivery.tick(firing, job)
            try:
                run_id = self.launch(tick, warehouse)
            except TickFired:
                continue
            except AlreadyRunning as exc:
                busy.append(str(exc))
                continue
            except DatakitError as exc:  # the job cannot start (its config): say so, let a redelivery retry
                log.error("webhook %s could not start job %s: %s", firing, job, exc)
                busy.append(f"job {job!r} could not start: {exc}")
                continue
            log.info("webhook %s: delivery %s started run %d", firing, delivery.id, run_id)
            started.append({"warehouse": warehouse, "run_id": run_id})
        return started


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or BodyTooLarge as soon as it is longer than `limit` (never buffering more)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
    return bytes(body)


def _busy(job: str, run: int) -> str:
    return f"job {job!r} is already running: run {run}"


def _answer(status: int, message: str, *, close: bool = False) -> JSONResponse:
    headers = {"Connection": "close"} if close else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)
