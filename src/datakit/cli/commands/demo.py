"""`datakit demo [DIR]`: the whole warehouse on generated data, with progress, a summary and a report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.status import Status

    from datakit.demo.run import DemoEvent, DemoResult

_MARKS = {
    "succeeded": ("✓", "green"),
    "failed": ("✗", "red"),
    "skipped": ("-", "yellow"),
    "reused": ("=", ""),
}


def demo(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the demo project (new, empty, or an earlier demo).")
    ] = Path("datakit-demo"),
    scale: Annotated[
        float, typer.Option("--scale", min=0.001, max=100, help="Data size; 1 is Pagila's (~16k rentals).")
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 42,
    destination: Annotated[
        str,
        typer.Option(
            "--destination",
            help="The warehouse: duckdb (one file; default) or spark (local Spark; datakit[spark]).",
        ),
    ] = "duckdb",
) -> None:
    """Generate a DVD-rental source, run bronze -> silver -> checks -> gold into DuckDB (or Spark), write
    report.html."""
    from datakit.cli.output import console, say
    from datakit.demo.run import run_demo
    from datakit.errors import ExitCode, display_path

    with console.status("starting the demo", spinner="dots") as status:
        result = run_demo(
            directory,
            scale=scale,
            seed=seed,
            destination=destination,
            progress=lambda event: _show(event, status),
        )
    _summary(result)
    report = display_path(result.report)
    if result.ok:
        say(f"✓ demo run {result.run_id} succeeded in {display_path(result.root)}; open {report}", "green")
        return
    say(
        f"✗ demo run {result.run_id} {result.status}; see {report} and `datakit runs show {result.run_id}`",
        "red",
    )
    raise typer.Exit(int(ExitCode.INVALID))


def _show(event: DemoEvent, status: Status) -> None:
    """A finished step or phase as a line above the spinner; what is under way in the spinner."""
    from datakit.cli.output import say

    if event.phase == "step" and event.step is not None:
        if not event.done:
            status.update(f"running {event.step.step_id}")
            return
        mark, style = _MARKS.get(event.step.status, ("?", ""))
        seconds = f" ({event.step.duration:.1f} s)" if event.step.duration is not None else ""
        rows = f", {event.step.rows_loaded:,} rows" if event.step.rows_loaded else ""
        say(f"  {mark} {event.step.step_id}{seconds}{rows}", style or None)
        if event.step.error:
            say(f"    {event.step.error.strip().splitlines()[0]}", "red")
        return
    if event.done:
        say(f"{'✓' if event.ok else '✗'} {event.phase}: {event.message}", "green" if event.ok else "red")
    else:
        status.update(event.message)


def _summary(result: DemoResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from datakit.cli.output import console

    layers = Table(title="Warehouse", title_justify="left")
    for name in ("layer", "tables", "rows"):
        layers.add_column(name, justify="left" if name == "layer" else "right")
    for layer, (tables, rows) in result.rows_by_layer().items():
        layers.add_row(layer, str(tables), f"{rows:,}")
    console.print(layers)

    if result.checks:
        failed = sum(not c.passed for c in result.checks)
        title = f"Checks: {len(result.checks) - failed} passed, {failed} failed"
        checks = Table(title=title, title_justify="left")
        for name in ("table", "check", "result", "failing rows"):
            checks.add_column(name, justify="right" if name == "failing rows" else "left")
        for check in result.checks:
            style = "green" if check.passed else "red"
            failing = "" if check.failing_rows is None else str(check.failing_rows)
            # names come from the checks file: Text, so brackets in them are not read as rich markup
            checks.add_row(Text(check.table), Text(check.name), Text(check.status, style=style), failing)
        console.print(checks)

    timings = Table(title="Timings", title_justify="left")
    timings.add_column("phase")
    timings.add_column("seconds", justify="right")
    for phase, seconds in result.timings.items():
        timings.add_row(phase, f"{seconds:.1f}")
    loads = [s.seconds for s in result.steps if s.kind == "load" and s.seconds is not None]
    if loads:
        timings.add_row(f"  bronze: {len(loads)} loads", f"{sum(loads):.1f}")
    for step in result.steps:
        if step.kind != "load":
            took = "-" if step.seconds is None else f"{step.seconds:.1f}"
            timings.add_row(f"  {step.step_id} ({step.kind}, {step.status})", took)
    console.print(timings)
