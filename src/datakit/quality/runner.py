"""Run a check suite: plan each check's SQL for the destination's engine, then count and sample.

Planning is pure (config -> SQL), so the SQL of a suite can be shown or tested without a database.
Running counts the failing rows with one query and fetches a sample with another: a count streams,
and a `limit` stops early, where a single windowed query would hold every failing row in memory.

For a tenant (`datakit.config.tenancy`), every table a check names — the checked table, a
relationship's `to`, a row count's `equal_to`, the tables inside `sql` and `expression` checks — gets
the tenant's schema prefix (`silver.customer` -> `acme_silver.customer`; see `quality.tenant`), and
the suite runs in the tenant's stand-in destination with its secrets. Queries run in the destination's
read-only session (`Destination.session`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.config.models.checks import CheckSeverity, CheckSuite
from datakit.config.project import Project
from datakit.config.secrets import Secrets
from datakit.connectors.errors import ConnectionLost, ConnectorError
from datakit.connectors.from_config import open_destination_named
from datakit.log import get_logger
from datakit.quality.builtin import failing_rows_sql
from datakit.quality.results import CheckResult, SuiteResult, jsonable
from datakit.quality.tenant import for_tenant

if TYPE_CHECKING:
    from datakit.config.tenancy import Tenant
    from datakit.connectors import Engine, Session

log = get_logger(__name__)


@dataclass(frozen=True)
class PlannedCheck:
    """One check's failing-rows query, ready to run."""

    table: str
    kind: str
    name: str
    severity: CheckSeverity
    sql: str


def plan_suite(suite: CheckSuite, engine: Engine, tenant: Tenant | None = None) -> list[PlannedCheck]:
    """Every check of `suite` as SQL for `engine`, in file order (on `tenant`'s tables, if given)."""
    planned: list[PlannedCheck] = []
    for written, as_written in suite.checks():
        table, check = written, as_written
        if tenant is not None and tenant.schema_prefix:
            table, check = for_tenant(suite, written, as_written, tenant, engine)
        for name, sql in failing_rows_sql(check, table, engine):
            planned.append(PlannedCheck(table, check.kind, name, suite.severity_of(check), sql))
    return planned


def run_check_suite(
    project: Project,
    suite: str,
    *,
    sample_size: int = 5,
    destination: str | None = None,
    secrets: Secrets | None = None,
    tenant: Tenant | None = None,
) -> SuiteResult:
    """Run the suite `suite` against its destination (or `destination`, with `secrets`; default: the
    project's secrets from the process environment). With `tenant`, on the tenant's tables, in its
    stand-in for the destination, with its secrets (see the module's docstring).

    Every check runs, whatever the others give; a check whose SQL fails is an `error` result with the
    database's message. Raises `ConnectorError` only when the destination cannot be reached (a
    `ConnectionLost` when a retry may help). Call `raise_for_errors()` on the result to fail a step.
    """
    if sample_size < 0:
        raise ValueError("sample_size cannot be negative")
    spec = project.check_suite(suite)
    where = destination or spec.destination
    if tenant is not None:
        where = tenant.destination_for(where)
        secrets = secrets or tenant.secrets
    target = project.resolve_name("destination", where)
    warehouse = open_destination_named(project, where, secrets)
    planned = plan_suite(spec, warehouse.engine, tenant)
    started = time.perf_counter()
    with warehouse.session() as session:
        results = [run_check(session, check, sample_size) for check in planned]
    result = SuiteResult(spec.name, target or where, results, duration=time.perf_counter() - started)
    for failed in result.errors + result.warnings:
        log.warning("check %s (%s): %s", failed.status, failed.severity, failed.summary())
    return result


def run_check(session: Session, check: PlannedCheck, sample_size: int) -> CheckResult:
    """Count the failing rows of one check and sample up to `sample_size` of them."""
    started = time.perf_counter()
    try:
        _, counted = session.query(f"select count(*) from (\n{check.sql}\n) as failing")
        failing = int(counted[0][0])
        sample = []
        if failing and sample_size:
            columns, rows = session.query(f"select * from (\n{check.sql}\n) as failing limit {sample_size}")
            sample = [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    except ConnectionLost:
        raise
    except ConnectorError as exc:
        return CheckResult(
            check.table,
            check.kind,
            check.name,
            check.severity,
            "error",
            check.sql,
            duration=time.perf_counter() - started,
            error=exc.message,
        )
    return CheckResult(
        check.table,
        check.kind,
        check.name,
        check.severity,
        "failed" if failing else "passed",
        check.sql,
        failing_rows=failing,
        sample=sample,
        duration=time.perf_counter() - started,
    )
