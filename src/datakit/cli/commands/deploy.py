"""`datakit deploy`: create a datakit's tables in a destination layer, or check them for drift."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state
from datakit.errors import ExitCode

if TYPE_CHECKING:
    from datakit.load.deploy import DeployReport, TableDrift


class LayerChoice(StrEnum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"


def deploy(
    datakit: Annotated[
        str, typer.Argument(help="Datakit (package under datakits/) whose contracts to deploy.")
    ],
    destination: Annotated[
        str | None,
        typer.Option(
            "--destination", "-d", help="Destination to deploy to (with --warehouse: default its only one)."
        ),
    ] = None,
    layer: Annotated[
        LayerChoice, typer.Option("--layer", help="Layer the tables belong to.")
    ] = LayerChoice.bronze,
    validate: Annotated[
        bool, typer.Option("--validate", help="Only compare live tables with the contracts; exit 1 on drift.")
    ] = False,
    warehouse: Annotated[
        str | None,
        typer.Option("--warehouse", "-w", help="Deploy into this warehouse's destination and schemas."),
    ] = None,
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create schemas <layer>__<system>__<schema> and the tables (idempotent), or --validate them.

    With --warehouse, in the warehouse's destination, schemas prefixed (acme_br__pagila__public)."""
    from datakit.config import load_project
    from datakit.config.tenancy import tenant_context
    from datakit.load.deploy import deploy_datakit, validate_deployment

    loaded = load_project(state.project_dir(project), environment=environment)
    tenant = tenant_context(loaded, warehouse) if warehouse is not None else None
    if destination is None:
        if tenant is None or len(tenant.destinations) != 1:
            from datakit.errors import UsageError

            listed = f" (warehouse {warehouse} has {', '.join(tenant.destinations)})" if tenant else ""
            raise UsageError(f"which destination?{listed}", hint="give --destination/-d")
        destination = tenant.destinations[0]
    if validate:
        drifts = validate_deployment(loaded, datakit, destination, layer.value, tenant=tenant)
        _print_drift(drifts, as_json)
        if not all(table.ok for table in drifts):
            raise typer.Exit(int(ExitCode.INVALID))
        return
    _print_report(deploy_datakit(loaded, datakit, destination, layer.value, tenant=tenant), as_json)


def _print_report(report: DeployReport, as_json: bool) -> None:
    from datakit.cli.output import print_json, say

    if as_json:
        print_json(
            {
                "destination": report.destination,
                "layer": report.layer,
                "schemas": report.schemas,
                "tables": [
                    {"schema": t.schema, "table": t.table, "created": t.created} for t in report.tables
                ],
            }
        )
        return
    created = [t for t in report.tables if t.created]
    for table in created:
        say(f"  + {table.schema}.{table.table}")
    say(
        f"✓ {len(created)} table{'s' if len(created) != 1 else ''} created, "
        f"{len(report.tables) - len(created)} already there, in {', '.join(report.schemas)} "
        f"({report.layer}, destination {report.destination})",
        "green",
    )


def _print_drift(drifts: list[TableDrift], as_json: bool) -> None:
    from rich.table import Table

    from datakit.cli.output import console, print_json, say

    if as_json:
        print_json(
            {
                "ok": all(t.ok for t in drifts),
                "tables": [
                    {
                        "schema": t.schema,
                        "table": t.table,
                        "exists": t.exists,
                        "deployed_from": None
                        if t.deployed_from is None
                        else {
                            "name": t.deployed_from.datakit,
                            "version": t.deployed_from.version,
                            "by": t.deployed_from.recorded_by,
                            "at": t.deployed_from.recorded_at.isoformat(),
                        },
                        "drift": [
                            {
                                "kind": str(d.kind),
                                "column": d.column,
                                "expected": d.expected,
                                "actual": d.actual,
                                "widening": d.widening,
                            }
                            for d in t.drifts
                        ],
                    }
                    for t in drifts
                ],
            }
        )
        return
    bad = [t for t in drifts if not t.ok]
    origins = sorted({t.deployed_from.label for t in drifts if t.deployed_from is not None})
    if not bad:
        where = f" (deployed from {', '.join(origins)})" if origins else ""
        say(f"✓ {len(drifts)} tables match their contracts{where}", "green")
        return
    table = Table(title="Drift between live tables and contracts")
    for column in ("table", "column", "drift", "contract", "live", "deployed from"):
        table.add_column(column)
    for found in bad:
        name = f"{found.schema}.{found.table}"
        origin = found.deployed_from.label if found.deployed_from is not None else "(not recorded)"
        if not found.exists:
            table.add_row(name, "", "table missing", "", "", "")
        for drift in found.drifts:
            kind = f"{drift.kind} (wider)" if drift.widening else str(drift.kind)
            table.add_row(name, drift.column, kind, drift.expected or "", drift.actual or "", origin)
    console.print(table)
    say(f"✗ {len(bad)} of {len(drifts)} tables drift from their contracts", "red")
