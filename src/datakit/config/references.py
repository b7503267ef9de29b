"""Checks that span files: references resolve, job graphs are acyclic, secrets exist (and are set).

Each check reads the validated models and reports problems at the position of the offending field,
with a "did you mean" drawn from what the project really defines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from datakit.config.environment import format_loc
from datakit.config.introspect import iter_marked
from datakit.config.models import CheckSuite, Job, Pipeline, ProjectConfig, Warehouse
from datakit.config.models.common import ReferenceMarker, SecretRefMarker
from datakit.config.models.jobs import EmailChannel
from datakit.config.models.sources import RestApiSource
from datakit.config.models.triggers import CronTrigger
from datakit.config.project import InactiveOverlay, Origin, Project
from datakit.config.secrets import Secrets, mapping_key, project_providers, project_words, unresolved_hint
from datakit.config.yaml_source import PathKey
from datakit.errors import Problem, SecretError, Severity, did_you_mean
from datakit.masking import weakness
from datakit.utils.dag import DAG

SECRETS_UNREADABLE = "<secrets mapping unreadable>"


def check_project(
    project: Project,
    broken: Mapping[str, set[str]],
    *,
    check_secrets: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every cross-file problem of `project`; names in `broken` (files that failed) are not re-reported."""
    problems: list[Problem] = []
    for (kind, name), origin in sorted(project.origins.items()):
        model = project.objects[kind][name]
        problems.extend(_references(project, model, origin, broken))
        problems.extend(_secret_references(project, model, origin, broken))
        if isinstance(model, Pipeline):
            problems.extend(_pipeline(project, model, origin))
        elif isinstance(model, RestApiSource):
            problems.extend(_rest_parents(model, origin))
        elif isinstance(model, Job):
            problems.extend(_job(project, model, origin))
        elif isinstance(model, Warehouse):
            problems.extend(_warehouse(project, model, origin, SECRETS_UNREADABLE in broken["secrets"]))
        elif isinstance(model, CheckSuite):
            problems.extend(_check_suite(model, origin))
    for overlay in project.inactive_overlays:
        problems.extend(_overlay_references(project, overlay, broken))
    if SECRETS_UNREADABLE not in broken["secrets"]:
        problems.extend(_project_secrets(project))
        problems.extend(_secret_providers(project))
    if check_secrets:
        problems.extend(_unset_secrets(project, environ or {}))
        problems.extend(_weak_secrets(project, environ or {}))
    return problems


def in_environment(problem: Problem, environment: str) -> Problem:
    """The problem as seen in another environment's overlay: the message names that environment."""
    return dataclasses.replace(problem, message=f"{problem.message} (environment '{environment}')")


def _overlay_references(
    project: Project, overlay: InactiveOverlay, broken: Mapping[str, set[str]]
) -> Iterator[Problem]:
    """Reference problems written in an inactive environment's overlay (the base's are reported once)."""
    found = [
        *_references(project, overlay.model, overlay.origin, broken),
        *_secret_references(project, overlay.model, overlay.origin, broken),
    ]
    for problem in found:
        if (problem.line, problem.column) in overlay.positions:
            yield in_environment(problem, overlay.environment)


def _at(
    origin: Origin,
    loc: PathKey,
    message: str,
    suggestion: str | None = None,
    *,
    key: bool = False,
    severity: Severity = "error",
) -> Problem:
    line, column = origin.doc.key_position(loc) if key else origin.doc.position(loc)
    return Problem(
        message,
        file=origin.file,
        line=line,
        column=column,
        kind=origin.kind,
        field=format_loc(loc) or None,
        suggestion=suggestion,
        severity=severity,
    )


def _references(
    project: Project, model: Any, origin: Origin, broken: Mapping[str, set[str]]
) -> Iterator[Problem]:
    for loc, ref, marker in iter_marked(model, ReferenceMarker):
        if project.resolve_name(marker.kind, ref) is not None or ref in broken[marker.kind]:
            continue
        candidates = list(project.objects[marker.kind])
        if ref.endswith((".yaml", ".yml")):
            candidates = [project.origins[(marker.kind, n)].file.name for n in candidates]
        noun = _NOUNS.get(marker.kind, marker.kind)
        hint = did_you_mean(ref, candidates) or (
            f"known {noun}s: {', '.join(sorted(candidates))}" if candidates else f"define a {noun} first"
        )
        yield _at(origin, loc, f"unknown {noun} '{ref}'", hint)


_NOUNS = {"checks": "check suite"}  # kinds whose key is not a singular noun


def _secret_references(
    project: Project, model: Any, origin: Origin, broken: Mapping[str, set[str]]
) -> Iterator[Problem]:
    if SECRETS_UNREADABLE in broken["secrets"]:
        return  # the mapping itself is broken: its problem is reported, unknown keys would be noise
    for loc, ref, _ in iter_marked(model, SecretRefMarker):
        if mapping_key(ref, project.secrets) is None:
            yield _at(origin, loc, f"unknown secret '{ref}'", unresolved_hint(ref, project.secrets))


def _project_secrets(project: Project) -> Iterator[Problem]:
    if project.config_origin is None:
        return
    for loc, ref, _ in iter_marked(project.config, SecretRefMarker):
        if mapping_key(ref, project.secrets) is None:
            yield _at(
                project.config_origin, loc, f"unknown secret '{ref}'", unresolved_hint(ref, project.secrets)
            )


def _pipeline(project: Project, pipeline: Pipeline, origin: Origin) -> Iterator[Problem]:
    source_name = project.resolve_name("source", pipeline.source.ref)
    if source_name is None:
        return
    available = [r.name for r in project.sources[source_name].resources]
    for i, resource in enumerate(pipeline.source.resources):
        if resource not in available:
            hint = did_you_mean(resource, available) or f"'{source_name}' has: {', '.join(available)}"
            yield _at(
                origin,
                ("source", "resources", i),
                f"source '{source_name}' has no resource '{resource}'",
                hint,
            )
    seen: set[str] = set()
    for i, resource in enumerate(pipeline.source.resources):
        if resource in seen:
            yield _at(origin, ("source", "resources", i), f"resource '{resource}' is listed twice")
        seen.add(resource)


def _rest_parents(source: RestApiSource, origin: Origin) -> Iterator[Problem]:
    """A dependent REST resource's `parent` names another resource of the same source."""
    names = [resource.name for resource in source.resources]
    for i, resource in enumerate(source.resources):
        parent = resource.parent
        if parent is None:
            continue
        loc = ("resources", i, "parent")
        if parent == resource.name:
            yield _at(origin, loc, f"resource '{parent}' cannot depend on itself")
        elif parent not in names:
            hint = did_you_mean(parent, names) or f"'{source.name}' has: {', '.join(names)}"
            yield _at(origin, loc, f"resource '{resource.name}' depends on unknown resource '{parent}'", hint)


def _job(project: Project, job: Job, origin: Origin) -> Iterator[Problem]:
    yield from _job_graph(job, origin)
    yield from _job_steps(project, job, origin)
    for channel_loc, channel in _bare_channels(job):
        settings = getattr(project.config.notifications, channel)
        if settings is None:
            yield _at(
                origin,
                channel_loc,
                f"notification channel '{channel}' has no settings; notifications will only be logged",
                f"add notifications.{channel} to datakit.yaml, or use an inline channel",
                severity="warning",
            )
    if project.config.notifications.email is None:
        for i, entry in enumerate(job.notifications.channels):
            if isinstance(entry, EmailChannel):  # its `to` is inline; the SMTP server and sender are not
                yield _at(
                    origin,
                    ("notifications", "channels", i, "type"),
                    "email channel has no SMTP settings; notifications will only be logged",
                    "add notifications.email (smtp_host, smtp_port, from, to) to datakit.yaml",
                    severity="warning",
                )


def _bare_channels(job: Job) -> Iterator[tuple[PathKey, str]]:
    for i, channel in enumerate(job.notifications.channels):
        if isinstance(channel, str) and channel != "log":
            yield ("notifications", "channels", i), channel


def _warehouse(
    project: Project, warehouse: Warehouse, origin: Origin, secrets_unreadable: bool
) -> Iterator[Problem]:
    for generic, own in {} if secrets_unreadable else warehouse.secrets.items():
        if mapping_key(generic, project.secrets) is None:
            yield _at(
                origin,
                ("secrets", generic),
                f"unknown secret '{generic}'",
                unresolved_hint(generic, project.secrets),
                key=True,
            )
        if own not in project.secrets:
            yield _at(
                origin, ("secrets", generic), f"unknown secret '{own}'", unresolved_hint(own, project.secrets)
            )
        sharers = sorted(
            w.name
            for w in project.warehouses.values()
            if w.name != warehouse.name and own in w.secrets.values()
        )
        if sharers:  # tenant isolation (`datakit.config.tenancy`): an own key belongs to one warehouse
            yield _at(
                origin,
                ("secrets", generic),
                f"secret '{own}' is also the own key of warehouse {', '.join(repr(n) for n in sharers)}",
                "give each warehouse a key of its own in config/secrets_mapping.yaml",
            )
    yield from _shared_schemas(project, warehouse, origin)
    if warehouse.name == "all":  # `--warehouse all` means every warehouse
        yield _at(origin, ("name",), "'all' is reserved (`--warehouse all`)", "choose another name")
    for trigger_ref, override in warehouse.schedules.items():
        trigger_name = project.resolve_name("trigger", trigger_ref)
        if trigger_name is None:
            hint = did_you_mean(trigger_ref, project.triggers) or "schedules are keyed by trigger name"
            yield _at(origin, ("schedules", trigger_ref), f"unknown trigger '{trigger_ref}'", hint, key=True)
            continue
        trigger = project.triggers[trigger_name]
        if (override.cron or override.timezone) and not isinstance(trigger, CronTrigger):
            yield _at(
                origin,
                ("schedules", trigger_ref),
                f"'{trigger_name}' is {_article(trigger.type)} {trigger.type} trigger; "
                "only cron triggers take cron/timezone",
                key=True,
            )


def _shared_schemas(project: Project, warehouse: Warehouse, origin: Origin) -> Iterator[Problem]:
    """Two warehouses writing one destination under one schema prefix would share every table."""
    from datakit.config.tenancy import sharing_tables

    clash = sharing_tables(project, warehouse)
    if clash is not None:
        yield _at(
            origin,
            ("schema_prefix",) if warehouse.schema_prefix is not None else ("destinations",),
            clash.describe(warehouse),
            "give each warehouse its own schema_prefix, or a destination of its own",
        )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _secret_providers(project: Project) -> Iterator[Problem]:
    """An `airflow:` block on a secret another provider reads would be silently ignored: an error."""
    default = project.config.secrets.provider
    for key, spec in sorted(project.secrets.items()):
        provider = spec.provider or default
        if spec.airflow is not None and provider != "airflow":
            source = (
                "its `provider:`"
                if spec.provider
                else "the project's default (datakit.yaml `secrets.provider`)"
            )
            yield _at(
                project.secrets_origin[key],
                (key, "airflow"),
                f"secret '{key}' is read by the {provider} provider ({source}): "
                "its `airflow:` would be ignored",
                "add `provider: airflow` to this secret, or remove `airflow:`",
                key=True,
            )


def _unset_secrets(project: Project, environ: Mapping[str, str]) -> Iterator[Problem]:
    """`--check-secrets`: every required secret must be set for the active environment."""
    secrets = Secrets(
        project.secrets, project.environment, environ, providers=project_providers(project, environ)
    )
    for key in sorted(project.secrets):
        reason = secrets.missing(key)
        if reason is not None:
            origin = project.secrets_origin[key]
            yield _at(origin, (key,), f"required secret is not set: {reason}", key=True)


def _weak_secrets(project: Project, environ: Mapping[str, str]) -> Iterator[Problem]:
    """`--check-secrets`: a warning for each secret whose value is weak (never showing the value)."""
    secrets = Secrets(
        project.secrets, project.environment, environ, providers=project_providers(project, environ)
    )
    for key in sorted(project.secrets):
        var = secrets.env_var(key)
        try:
            value = secrets.value(key)
        except SecretError:  # reported by the unset check
            value = None
        reason = weakness(value, project_words(project)) if value else None
        if reason is not None:
            yield _at(
                project.secrets_origin[key],
                (key,),
                f"secret '{key}' ({var}) is weak: {reason}; it is masked in output only where it stands "
                "as a whole word",
                "use a long random value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'",
                key=True,
                severity="warning",
            )


def referenced_secrets(project: Project) -> dict[str, list[tuple[str, str]]]:
    """Mapping key -> the (kind, name) objects that use it; for listings and tenant checks."""
    used: dict[str, list[tuple[str, str]]] = {}
    for (kind, name), _ in sorted(project.origins.items()):
        for _, ref, _ in iter_marked(project.objects[kind][name], SecretRefMarker):
            key = mapping_key(ref, project.secrets)
            if key is not None:
                used.setdefault(key, []).append((kind, name))
    config: ProjectConfig = project.config
    for _, ref, _ in iter_marked(config, SecretRefMarker):
        key = mapping_key(ref, project.secrets)
        if key is not None:
            used.setdefault(key, []).append(("project", config.name))
    return used


def _job_graph(job: Job, origin: Origin) -> Iterator[Problem]:
    """Pipelines and steps of a job: unique names, known dependencies, no cycle."""
    entries: list[tuple[PathKey, str, str, list[str]]] = [
        (("pipelines", i), "pipeline", p.name, p.depends_on) for i, p in enumerate(job.pipelines)
    ]
    entries += [(("steps", i), "step", s.step_name, s.depends_on) for i, s in enumerate(job.steps)]
    names: dict[str, PathKey] = {}
    for loc, what, name, _ in entries:
        if name in names:
            yield _at(origin, (*loc, "name"), f"{what} '{name}' appears twice in this job")
        names.setdefault(name, loc)
    for loc, what, name, depends_on in entries:
        for j, dep in enumerate(depends_on):
            dep_loc: PathKey = (*loc, "depends_on", j)
            if dep not in names:
                hint = did_you_mean(dep, names) or f"pipelines and steps of this job: {', '.join(names)}"
                yield _at(origin, dep_loc, f"'{dep}' is not a pipeline or step of this job", hint)
            elif dep == name:
                yield _at(origin, dep_loc, f"{what} '{dep}' depends on itself")
            elif job.execution.mode != "dag":
                yield _at(
                    origin,
                    dep_loc,
                    f"depends_on is only honoured in dag mode (this job runs in {job.execution.mode} mode)",
                    "set execution.mode: dag, or use `order` for sequential jobs",
                )
    graph = DAG({name: [d for d in deps if d in names and d != name] for _, _, name, deps in entries})
    cycle = graph.find_cycle()
    if cycle is not None:
        yield _at(
            origin,
            (*names[cycle[0]], "depends_on"),
            f"dependency cycle: {' -> '.join(cycle)}",
            "remove one of these depends_on entries",
        )


def _job_steps(project: Project, job: Job, origin: Origin) -> Iterator[Problem]:
    """A dbt step names an existing dbt project and a destination it can build in."""
    for i, step in enumerate(job.steps):
        if step.dbt is None:
            continue
        folder = project.path(step.dbt.project)
        if not (folder / "dbt_project.yml").is_file():
            yield _at(
                origin,
                ("steps", i, "dbt", "project"),
                f"no dbt project in '{step.dbt.project}' (no dbt_project.yml there)",
                "the path is relative to the project root, e.g. transform/my_project",
            )
        resolved = all(project.resolve_name("pipeline", p.name) for p in job.pipelines)
        # (with a broken pipeline file its destination is unknown: that file's problem is reported)
        if step.dbt.destination is None and resolved and len(dbt_destinations(project, job)) != 1:
            yield _at(
                origin,
                ("steps", i, "dbt"),
                "cannot tell which destination dbt builds in",
                "add `destination: <name>` to this dbt step",
            )


def dbt_destinations(project: Project, job: Job) -> list[str]:
    """Destinations a dbt step without `destination:` could mean: the job's pipelines', else all."""
    found: list[str] = []
    for entry in job.pipelines:
        name = project.resolve_name("pipeline", entry.name)
        if name is None:
            continue
        destination = project.resolve_name("destination", project.pipelines[name].destination.ref)
        if destination is not None and destination not in found:
            found.append(destination)
    return found or list(project.destinations)


def _check_suite(suite: CheckSuite, origin: Origin) -> Iterator[Problem]:
    """Results are kept by table and check name: two checks of one table must not share a name."""
    for table, checks in suite.tables.items():
        seen: set[str] = set()
        for i, check in enumerate(checks):
            for label in check.labels():
                if label in seen:
                    yield _at(
                        origin,
                        ("tables", table, i),
                        f"check '{label}' appears twice on {table}",
                        "give one of them its own `name:`",
                    )
                seen.add(label)
