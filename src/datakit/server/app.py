"""The web application of `datakit serve`: the status pages and the webhook endpoint, nothing else."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr
from starlette.applications import Starlette

from datakit.config.project import Project
from datakit.connectors.from_config import project_secrets
from datakit.errors import DatakitError, SecretError
from datakit.orchestrate.store import StateStore
from datakit.server.hooks import Active, hook_routes, webhook_triggers
from datakit.server.limits import DEFAULT_LIMITS, HttpLimits
from datakit.server.pages import not_found_page, page_routes
from datakit.server.scheduler import Launch


def create_app(
    project: Project,
    store: StateStore,
    launch: Launch,
    secrets: Mapping[str, SecretStr],
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    active: Active | None = None,
) -> Starlette:
    """Status pages (read-only) plus `POST /hooks/<trigger>` for the webhook triggers in `secrets`;
    `limits.body_timeout` bounds a webhook body's arrival, `active` is the one-active-run test."""
    hooks = hook_routes(project, store, launch, secrets, limits=limits, active=active)
    return Starlette(
        routes=[*hooks, *page_routes(project, store)],
        exception_handlers={404: not_found_page(project, store)},
    )


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
