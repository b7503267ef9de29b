"""The lineage graph of a project: loads, then dbt's nodes, then checks.

Nothing is run and no database is opened: the graph is what the project declares (pipelines,
datakits, check suites) and what dbt compiled (its manifest and compiled SQL in datakit's work
folders). `compile=True` first has dbt compile every project a job builds, so models never run yet
have their SQL too (dbt compile may open the destination, as dbt does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.lineage.checks import add_checks
from datakit.lineage.dbt import add_dbt, dbt_targets, manifest_path
from datakit.lineage.loads import add_loads
from datakit.lineage.model import Graph

if TYPE_CHECKING:
    from datakit.config.project import Project


def build_lineage(project: Project, *, compile: bool = False) -> Graph:
    """Every table, column edge and check of `project` (see the module's docstring)."""
    graph = Graph()
    add_loads(project, graph)
    for target in dbt_targets(project):
        if compile:
            compile_dbt(project, target.project_dir, target.destination)
        found = manifest_path(project, target)
        if found is not None:
            add_dbt(project, graph, target, *found)
        else:
            graph.notes.append(
                f"dbt project {target.project_dir} has not run on {target.destination} yet: its models "
                "are not in the lineage (run the job, or pass --compile)"
            )
    add_checks(project, graph)
    return graph


def compile_dbt(project: Project, project_dir: str, destination: str) -> None:
    """`dbt compile` of one dbt project for `destination`, in datakit's work folder for it."""
    from datakit.transform import DbtInvocation, run_dbt

    run_dbt(project, DbtInvocation(project_dir, "compile"), destination=destination)
