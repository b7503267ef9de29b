"""One tenant (a `warehouse:` file) as the context a run works in, resolved once from the project.

The same datakits and jobs serve every tenant; what differs is *where* they write and *with which
secrets*. `tenant_context(project, name)` answers every such question, so loads, dbt steps, checks,
deploy and the CLI apply one set of rules instead of each re-reading the YAML. `name=None` is the
project as it is without tenants (no prefix, the project's destinations and every secret), so callers
never branch on "is there a tenant".

Rules (each one is here, and only here):

* **Destination.** A job names the project's destinations (a pipeline's `destination:`, a dbt or checks
  step's). Under a tenant each is replaced by one of the tenant's `destinations:`: the one with the
  same name when the tenant lists it, else the only one of the same type (postgres, duckdb). None, or
  several of that type, is an error naming the choices: guessing would write one tenant's data where
  the configuration did not say.
* **Schemas.** Every schema a tenant writes or reads is `schema_prefix + name` (`acme_` +
  `br__pagila__public`); that includes the loader's state schema (`acme__datakit`), so incremental
  cursors, load records and file records are per tenant even on one shared database. A tenant without
  a prefix must have a destination to itself: two tenants on one destination with the same prefix (or
  none) would share every table, so that is refused when the context is built.
* **Secrets.** A tenant's `secrets:` maps a key the configs use to the tenant's own key (`warehouse_password`
  -> `acme_warehouse_password`). The keys a tenant may resolve are its own keys plus the *shared* keys:
  every key that is no tenant's own. Another tenant's own key is never allowed, whether a config names
  it directly or an alias points at it, and one key owned by two tenants is refused (it would be shared
  by both, which is exactly what owning means it is not). The rule is an allow-list, so a key added to
  the mapping for a new tenant is invisible to the others from the start.
* **Variables.** dbt gets the job step's `vars`, overlaid by the tenant's `variables`, plus
  `tenant` (the warehouse name) and `schema_prefix` — those two come from the warehouse itself, and a
  `variables:` entry that contradicts them is an error rather than a silent winner.
* **Jobs.** A tenant runs only the jobs it lists (`require_job`).
* **Schedules.** `schedule_for(trigger)` gives the tenant's override of a trigger, for schedulers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datakit.config.models.triggers import CronTrigger, Trigger
from datakit.config.secrets import Secrets, mapping_key, project_providers
from datakit.errors import DatakitError, UsageError, not_found

if TYPE_CHECKING:
    from datakit.config.models.warehouses import ScheduleOverride, Variable, Warehouse
    from datakit.config.project import Project

ALL = "all"
"""`--warehouse all`: every tenant that lists the job."""
TENANT_VAR = "tenant"
PREFIX_VAR = "schema_prefix"


@dataclass(frozen=True)
class Tenant:
    """Where and with which secrets a run works: a warehouse of the project, or the project itself."""

    project: Project = field(repr=False)
    name: str | None
    """The warehouse's name; None for the project without tenants."""
    schema_prefix: str
    destinations: tuple[str, ...]
    """The tenant's destinations (names); empty for the project itself (every destination)."""
    jobs: tuple[str, ...]
    variables: Mapping[str, Variable]
    secrets: Secrets = field(repr=False)

    def schema(self, name: str) -> str:
        """The schema `name` as this tenant sees it (`acme_` + `silver`)."""
        return self.schema_prefix + name

    def table(self, ref: str) -> str:
        """A `schema.table` (or `catalog.schema.table`) reference with the schema prefixed.

        A bare `table` lives in the connection's default schema, which no prefix can move: it is
        returned as it is (and the caller decides whether that is acceptable).
        """
        parts = ref.split(".")
        if not self.schema_prefix or len(parts) < 2:
            return ref
        parts[-2] = self.schema(parts[-2])
        return ".".join(parts)

    def destination_for(self, destination: str) -> str:
        """The tenant's destination standing in for the project's `destination` (see the module rule)."""
        project = self.project
        name = project.resolve_name("destination", destination) or destination
        if self.name is None:
            project.destination(name)  # an unknown name fails here, with a suggestion
            return name
        if name in self.destinations:
            return name
        kind = project.destination(name).type
        same_type = [d for d in self.destinations if project.destination(d).type == kind]
        if len(same_type) == 1:
            return same_type[0]
        listed = ", ".join(f"{d} ({project.destination(d).type})" for d in self.destinations)
        reason = "none" if not same_type else "several"
        raise DatakitError(
            f"warehouse {self.name!r} has {reason} of {kind} destinations to stand in for {name!r} "
            f"(it lists {listed})",
            hint=f"list {name!r} itself in the warehouse's `destinations:`, or just one {kind} destination",
        )

    def dbt_vars(self, step_vars: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The `--vars` of a dbt step: the step's, the tenant's variables, `tenant` and `schema_prefix`.

        For the project itself the step's vars are returned unchanged, so dbt's work folder and
        partial-parse state stay what they were before tenants existed.
        """
        merged: dict[str, Any] = dict(step_vars or {})
        if self.name is None:
            return merged
        merged.update(self.variables)
        merged[TENANT_VAR] = self.name
        merged[PREFIX_VAR] = self.schema_prefix
        return merged

    def schedule_for(self, trigger: str) -> ScheduleOverride | None:
        """The tenant's override of trigger `trigger` (for a scheduler or the Airflow factory)."""
        if self.name is None:
            return None
        warehouse = self.project.warehouse(self.name)
        wanted = self.project.resolve_name("trigger", trigger) or trigger
        for ref, override in warehouse.schedules.items():
            if (self.project.resolve_name("trigger", ref) or ref) == wanted:
                return override
        return None

    def trigger(self, trigger: Trigger) -> Trigger | None:
        """`trigger` as this tenant runs it: its `schedules:` override applied (enabled, cron, timezone);
        None when the tenant turns it off. The scheduler and the Airflow factory both ask this."""
        override = self.schedule_for(trigger.name)
        enabled = trigger.enabled if override is None or override.enabled is None else override.enabled
        if not enabled:
            return None
        if override is None or not isinstance(trigger, CronTrigger):
            return trigger
        changes = {k: v for k, v in (("cron", override.cron), ("timezone", override.timezone)) if v}
        if not changes:
            return trigger
        return trigger.model_copy(update={"schedule": trigger.schedule.model_copy(update=changes)})

    def require_job(self, job: str) -> str:
        """The job's name, when this tenant may run it; a DatakitError naming the tenant's jobs otherwise."""
        name = self.project.resolve_name("job", job)
        if name is None:
            raise not_found("job", job, self.project.jobs)
        if self.name is not None and name not in self.jobs:
            listed = ", ".join(self.jobs) or "none"
            raise DatakitError(
                f"warehouse {self.name!r} does not run job {name!r} (its jobs: {listed})",
                hint=f"add {name!r} to `jobs:` in the warehouse file of {self.name!r}",
            )
        return name


def tenant_context(project: Project, warehouse: str | None) -> Tenant:
    """The context of `warehouse` (a name or `x.yaml`), or of the project itself when None."""
    if warehouse is None:
        return Tenant(
            project=project,
            name=None,
            schema_prefix="",
            destinations=(),
            jobs=tuple(project.jobs),
            variables={},
            secrets=Secrets(
                mapping=project.secrets, environment=project.environment, providers=project_providers(project)
            ),
        )
    if warehouse == ALL:
        raise DatakitError(
            "'all' stands for every warehouse, not one", hint="run each warehouse (the CLI fans out)"
        )
    found = project.warehouse(warehouse)
    destinations = tuple(project.resolve_name("destination", d) or d for d in found.destinations)
    _refuse_shared_schemas(project, found)
    return Tenant(
        project=project,
        name=found.name,
        schema_prefix=found.schema_prefix or "",
        destinations=destinations,
        jobs=tuple(project.resolve_name("job", j) or j for j in found.jobs),
        variables=_variables(found),
        secrets=tenant_secrets(project, found.name),
    )


def warehouse_variables_used(project: Project, job: str) -> list[str]:
    """The `${var.NAME}` left unresolved in what job `job` uses, for a project loaded without a warehouse
    (the loader fills them only for a tenant; a default `${var.NAME:-x}` resolves everywhere). Not
    empty: the job only makes sense for a warehouse, and running it as the project itself would use
    the literal text as a path, a schema or a URL."""
    import json
    import re

    name = project.resolve_name("job", job) or job
    found: set[str] = set()
    for model in _objects_of_job(project, name):
        text = json.dumps(model.model_dump(mode="json"), default=str)
        found.update(re.findall(r"\$\{var\.([A-Za-z_][A-Za-z0-9_]*)\}", text))
    return sorted(found)


def _objects_of_job(project: Project, job: str) -> list[Any]:
    """The job and the config objects it reads: pipelines, their sources and destinations, dbt and
    checks steps' destinations and suites."""
    found: list[Any] = [project.job(job)]
    for entry in project.job(job).pipelines:
        pipeline = project.pipelines.get(project.resolve_name("pipeline", entry.name) or entry.name)
        if pipeline is None:
            continue
        found.append(pipeline)
        for kind, ref in (("source", pipeline.source.ref), ("destination", pipeline.destination.ref)):
            resolved = project.resolve_name(kind, ref)
            if resolved is not None:
                found.append(project.objects[kind][resolved])
    for step in project.job(job).steps:
        refs = [("checks", step.checks)] if step.checks else []
        if step.dbt is not None and step.dbt.destination:
            refs.append(("destination", step.dbt.destination))
        for kind, ref in refs:
            resolved = project.resolve_name(kind, ref)
            if resolved is not None:
                found.append(project.objects[kind][resolved])
    return found


def tenant_secrets(project: Project, warehouse: str) -> Secrets:
    """`Secrets` limited to what `warehouse` may resolve: its own keys and the shared ones."""
    found = project.warehouse(warehouse)
    owners = secret_owners(project)
    for key, names in sorted(owners.items()):
        if found.name in names and len(names) > 1:
            raise DatakitError(
                f"secret {key!r} is the own key of several warehouses ({', '.join(sorted(names))})",
                hint="give each warehouse a key of its own in config/secrets_mapping.yaml",
            )
    aliases: dict[str, str] = {}
    for reference, own in found.secrets.items():
        key = mapping_key(reference, project.secrets.keys()) or reference
        aliases[key] = own
    others = {key for key, names in owners.items() if found.name not in names}
    allowed = frozenset(key for key in project.secrets if key not in others)
    return Secrets(
        mapping=project.secrets,
        environment=project.environment,
        allowed=allowed,
        aliases=aliases,
        scope=f"warehouse {found.name!r}",
        providers=project_providers(project),
    )


def secret_owners(project: Project) -> dict[str, set[str]]:
    """Each key some warehouse aliases to (its own key) -> the warehouses that do."""
    owners: dict[str, set[str]] = {}
    for warehouse in project.warehouses.values():
        for own in warehouse.secrets.values():
            owners.setdefault(own, set()).add(warehouse.name)
    return owners


def tenants_running(project: Project, job: str) -> list[str]:
    """The warehouses that list job `job` (what `--warehouse all` fans out to), by name."""
    name = project.resolve_name("job", job)
    if name is None:
        raise not_found("job", job, project.jobs)
    return sorted(
        w.name
        for w in project.warehouses.values()
        if name in {project.resolve_name("job", j) or j for j in w.jobs}
    )


def _variables(warehouse: Warehouse) -> dict[str, Variable]:
    """The warehouse's variables; `tenant`/`schema_prefix` may be written, but only with their true value."""
    truth: dict[str, Variable] = {TENANT_VAR: warehouse.name, PREFIX_VAR: warehouse.schema_prefix or ""}
    for key, value in warehouse.variables.items():
        if key in truth and value != truth[key]:
            raise DatakitError(
                f"warehouse {warehouse.name!r}: variable {key!r} is {value!r}, but datakit sets it to "
                f"{truth[key]!r}",
                hint=f"remove {key!r} from `variables:` (the warehouse's name and schema_prefix set it)",
            )
    return dict(warehouse.variables)


@dataclass(frozen=True)
class SharedTables:
    """Why a tenant's tables would not be its own: who else writes `destination` under the same prefix."""

    other: str | None
    """The other warehouse; None for the project's own runs (without `--warehouse`)."""
    destination: str
    other_prefix: str

    def describe(self, warehouse: Warehouse) -> str:
        """`warehouse 'globex' also writes to 'pg' with schema prefix 'ACME_'` and the consequence."""
        mine = warehouse.schema_prefix or ""
        if self.other is None:
            who = "the project's own runs (without --warehouse) also write to"
            how = "with no schema prefix"
        else:
            who = f"warehouse '{self.other}' also writes to"
            how = f"with schema prefix '{self.other_prefix}'"
            if self.other_prefix != mine:
                how += f", the same as '{mine}' once the database folds case"
        return f"{who} '{self.destination}' {how}: the two would share every table"


def sharing_tables(project: Project, warehouse: Warehouse) -> SharedTables | None:
    """Who else writes a destination of this tenant under the same schema prefix (compared as the
    databases compare unquoted names: DuckDB and PostgreSQL fold case), so that the two would share
    every table; None when the tenant's tables are its own. An empty prefix also clashes with the
    project's own runs on any destination those write."""
    mine = {project.resolve_name("destination", d) or d for d in warehouse.destinations}
    prefix = (warehouse.schema_prefix or "").lower()
    for other in project.warehouses.values():
        if other.name == warehouse.name or (other.schema_prefix or "").lower() != prefix:
            continue
        shared = mine & {project.resolve_name("destination", d) or d for d in other.destinations}
        if shared:
            return SharedTables(other.name, sorted(shared)[0], other.schema_prefix or "")
    if not prefix:
        shared = mine & project_destinations(project)
        if shared:
            return SharedTables(None, sorted(shared)[0], "")
    return None


def project_destinations(project: Project) -> set[str]:
    """The destinations the project's own runs write: its pipelines' and its dbt steps'."""
    written: set[str] = set()
    for pipeline in project.pipelines.values():
        written.add(project.resolve_name("destination", pipeline.destination.ref) or pipeline.destination.ref)
    for job in project.jobs.values():
        for step in job.steps:
            if step.dbt is not None and step.dbt.destination is not None:
                written.add(project.resolve_name("destination", step.dbt.destination) or step.dbt.destination)
    return written


def _refuse_shared_schemas(project: Project, warehouse: Warehouse) -> None:
    """Two tenants on one destination with one prefix would write the same tables: refuse it."""
    clash = sharing_tables(project, warehouse)
    if clash is not None:
        raise DatakitError(
            f"warehouse {warehouse.name!r}: {clash.describe(warehouse)}",
            hint="give each warehouse its own `schema_prefix`, or a destination of its own",
        )


def warehouse_jobs(
    project: Project, warehouse: str = ALL, job: str | None = None
) -> list[tuple[str | None, str]]:
    """The (warehouse, job) pairs an orchestrator compiles or deploys (Airflow DAGs, Prefect deployments).

    `all`: every job of every warehouse, plus every job as the project itself (warehouse None) — also
    one that warehouses run, unless its configs read warehouse variables (`${var.NAME}`), which only a
    warehouse defines. A warehouse name: that warehouse's jobs. `job` narrows either to one job.
    """
    wanted = None
    if job is not None:
        wanted = project.resolve_name("job", job)
        if wanted is None:
            raise not_found("job", job, project.jobs)
    pairs: list[tuple[str | None, str]] = []
    if warehouse == ALL:
        for name in sorted(project.warehouses):
            pairs.extend((name, j) for j in tenant_context(project, name).jobs)
        pairs.extend((None, j) for j in sorted(project.jobs) if not warehouse_variables_used(project, j))
    else:
        tenant = tenant_context(project, warehouse)
        pairs.extend((tenant.name, j) for j in tenant.jobs)
    if wanted is not None:
        pairs = [(w, j) for w, j in pairs if j == wanted]
        if not pairs:
            raise UsageError(f"job {wanted!r} is not run by warehouse {warehouse!r}")
    return pairs
