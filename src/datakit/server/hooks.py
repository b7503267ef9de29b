"""`POST /hooks/<trigger>`: a signed delivery starts the trigger's job, at most once.

Verification is `datakit.orchestrate.webhooks.verify` (signature, time window, replay); this module is
the HTTP side of it. The body is read in chunks and refused as soon as it passes the trigger's limit, so
a client cannot make the server buffer more than `max_body_bytes + 1` bytes. Accepted delivery ids live
in the state store, so a replay is refused by every process serving the project and after restarts; the
run is started with the tick key `<trigger>@delivery:<id>` in the same transaction as its row.

Answers: 202 with the run id (and `runs`: one per warehouse when the job is a tenants' job, each
tenant's run keyed `<trigger>.<warehouse>@delivery:<id>`); 401/409/413/400 from verification; 404 for an
unknown or disabled trigger (the same answer for both, so the endpoint does not reveal which triggers
exist but are off); 409 when the job is already running (the delivery is then forgotten, so the
sender's redelivery can start it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from datakit.config.models.triggers import WebhookTrigger
from datakit.config.project import Project
from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.orchestrate.store import AlreadyRunning, StateStore, TickFired
from datakit.orchestrate.webhooks import BodyTooLarge, WebhookError, verify
from datakit.server.scheduler import Launch, tenant_triggers

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


def hook_routes(
    project: Project, store: StateStore, launch: Launch, secrets: Mapping[str, SecretStr]
) -> list[Route]:
    """The webhook endpoint; `secrets` maps each webhook trigger to its (already resolved) secret."""
    triggers = webhook_triggers(project)
    seen = StoreSeenIds(store)
    # where each webhook fires: itself, or once per warehouse that runs its job (`nightly.acme`...)
    targets: dict[str, list[tuple[str, str | None]]] = {}
    for firing, (fired, warehouse) in tenant_triggers(project).items():
        base = firing.split(".", 1)[0]
        if base in triggers and fired.enabled:
            targets.setdefault(base, []).append((firing, warehouse))

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["trigger"]
        trigger = triggers.get(name)
        if trigger is None or name not in secrets or not targets.get(name):
            return _answer(404, f"no webhook trigger {name!r}")
        settings = trigger.webhook
        try:
            body = await _read_body(request, settings.max_body_bytes)
            delivery = await run_in_threadpool(
                verify,
                dict(request.headers),
                body,
                secrets[name],
                datetime.now(UTC),
                seen,
                tolerance=settings.tolerance,
                max_body_bytes=settings.max_body_bytes,
                scope=name,
            )
        except WebhookError as exc:
            log.warning("webhook %s refused (%d): %s", name, exc.status, exc)
            return _answer(exc.status, str(exc))
        started: list[dict[str, object]] = []
        busy: list[str] = []
        for firing, warehouse in targets.get(name, ()):
            tick = delivery.tick(firing, trigger.job)
            try:
                run_id = await run_in_threadpool(launch, tick, warehouse)
            except TickFired:
                continue
            except AlreadyRunning as exc:
                busy.append(str(exc))
                continue
            except DatakitError as exc:  # the job cannot start (its config): say so, let a redelivery retry
                log.error("webhook %s could not start job %s: %s", firing, trigger.job, exc)
                busy.append(f"job {trigger.job!r} could not start: {exc}")
                continue
            log.info("webhook %s: delivery %s started run %d", firing, delivery.id, run_id)
            started.append({"warehouse": warehouse, "run_id": run_id})
        if not started:
            if busy:  # nothing started: forget the delivery so that the sender's redelivery can start it
                await run_in_threadpool(store.forget_delivery, f"{name}/delivery:{delivery.id}")
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

    return [Route("/hooks/{trigger}", receive, methods=["POST"], name="webhook")]


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


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
