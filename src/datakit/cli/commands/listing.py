"""`datakit list`: every source, destination, pipeline, job, trigger, warehouse, check suite, secret."""

from __future__ import annotations

from typing import Any

from datakit.cli.state import EnvironmentOption, JsonOption, ProjectOption, state


def list_project(
    project: ProjectOption = None,
    environment: EnvironmentOption = None,
    as_json: JsonOption = False,
) -> None:
    """List what the project defines (the project must be valid)."""
    from datakit.cli.output import print_json, print_problems
    from datakit.config import load_project
    from datakit.config.listing import describe_project

    loaded = load_project(state.project_dir(project), environment=environment)
    description = describe_project(loaded)
    if as_json:
        print_json(description)
        return
    print_problems(loaded.warnings)
    _print(description)


def _print(d: dict[str, Any]) -> None:
    from rich.markup import escape

    from datakit.cli.output import console

    def section(title: str, items: list[Any]) -> None:
        console.print(f"\n[bold]{title} ({len(items)})[/bold]")

    console.print(f"[bold]{escape(d['project'])}[/bold] — environment: [cyan]{d['environment']}[/cyan]")
    section("SOURCES", d["sources"])
    for s in d["sources"]:
        console.print(f"  • {escape(s['name'])} ({s['type']})")
        console.print(f"    Resources: {len(s['resources'])} — {escape(', '.join(s['resources']))}")
    section("DESTINATIONS", d["destinations"])
    for dest in d["destinations"]:
        console.print(f"  • {escape(dest['name'])} ({dest['type']}) → {escape(str(dest['target']))}")
    section("PIPELINES", d["pipelines"])
    for p in d["pipelines"]:
        resources = p["resources"] if p["resources"] == "all" else len(p["resources"])
        console.print(f"  • {escape(p['name'])}")
        console.print(
            f"    {escape(p['source'])} → {escape(p['destination'])} [{p['layer']}], resources: {resources}",
            markup=False,
        )
    section("JOBS", d["jobs"])
    for j in d["jobs"]:
        console.print(f"  • {escape(j['name'])}")
        steps = f"  Steps: {escape(', '.join(j['steps']))}" if j["steps"] else ""
        console.print(f"    Pipelines: {len(j['pipelines'])}{steps}  Mode: {j['mode']}")
    section("TRIGGERS", d["triggers"])
    for t in d["triggers"]:
        mark = "[green]✓ ENABLED[/green]" if t["enabled"] else "[dim]✗ DISABLED[/dim]"
        console.print(f"  • {escape(t['name'])} \\[{mark}]")
        console.print(f"    Type: {t['type']}  Job: {escape(t['job'])}")
        if t["schedule"]:
            console.print(f"    Schedule: {escape(t['schedule'])}")
    section("WAREHOUSES", d["warehouses"])
    for w in d["warehouses"]:
        console.print(f"  • {escape(w['name'])}")
        console.print(
            f"    Destinations: {escape(', '.join(w['destinations']))}  Jobs: {escape(', '.join(w['jobs']))}"
        )
        prefix = w["schema_prefix"] or "(none: a destination of its own)"
        console.print(f"    Schema prefix: {escape(prefix)}  State: {escape(w['state_schema'])}")
        if w["variables"]:
            pairs = ", ".join(f"{k}={v}" for k, v in w["variables"].items())
            console.print(f"    Variables: {escape(pairs)}")
        if w["secrets"]:
            pairs = ", ".join(f"{k} → {v}" for k, v in w["secrets"].items())
            console.print(f"    Secrets: {escape(pairs)}")
        if w["schedules"]:
            console.print(f"    Schedule overrides: {escape(', '.join(w['schedules']))}")
    section("CHECK SUITES", d["check_suites"])
    for c in d["check_suites"]:
        console.print(f"  • {escape(c['name'])} → {escape(c['destination'])} [{c['severity']}]")
        console.print(f"    Tables: {len(c['tables'])}  Checks: {c['checks']}")
    _targets(d["targets"], section)
    section("SECRETS", d["secrets"])
    for sec in d["secrets"]:
        need = "required" if sec["required"] else "optional"
        var = f"${sec['env_var']}" if sec["env_var"] else f"no variable for {d['environment']}"
        console.print(f"  • {escape(sec['key'])} ({need}) ← {escape(var)}")


def _targets(targets: list[dict[str, Any]], section: Any) -> None:
    from rich.markup import escape

    from datakit.cli.output import console

    if not targets:
        return
    section("TARGETS", targets)
    for t in targets:
        console.print(
            f"  • {escape(t['name'])} → {escape(t['table'])} (key collisions: {t['key_collisions']})"
        )
        console.print(f"    Pipelines: {escape(', '.join(t['pipelines']))}  Provenance: {t['provenance']}")
