"""A dbt project's nodes and edges, and which nodes each dbt step runs: what selection across a plan needs.

`datakit plan --select +silver.customer` must know that the silver model `customer` reads the dbt source
`br__pagila__public.customer`, and which dbt step of the job builds it. Both are dbt's answers, not
ours: the project is parsed by dbt (in the step's work folder, so partial parsing makes a repeat cheap;
nothing connects to the warehouse), and the nodes a step runs are what `dbt ls` lists for the step's
own `select`/`exclude`/`indirect_selection` — dbt's selector grammar is dbt's to interpret.

A run of the same work folder may be going on (it holds the folder's lock for as long as dbt builds):
the parse then happens in a sibling folder of its own (`<folder>__plan`) instead of waiting.

Importing this module does not import dbt; `dbt_graph` does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError
from datakit.log import get_logger
from datakit.transform.files import exclusive
from datakit.transform.invocation import DbtInvocation

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.tenancy import Tenant

log = get_logger(__name__)

RUN_TYPES: dict[str, tuple[str, ...]] = {
    "build": ("model", "seed", "snapshot", "test", "unit_test"),
    "run": ("model",),
    "test": ("test", "unit_test"),
    "seed": ("seed",),
    "snapshot": ("snapshot",),
    "compile": ("model", "test", "unit_test", "snapshot", "seed"),
}
"""The resource types each dbt command runs (what of a step's selection it actually touches)."""
TEST_TYPES = frozenset({"test", "unit_test"})


@dataclass(frozen=True)
class DbtNode:
    """One node of a parsed dbt project (a model, seed, snapshot, test, unit test or source)."""

    unique_id: str
    resource_type: str
    name: str
    fqn: tuple[str, ...]
    """dbt's fully qualified name: the package, the folders, the name (`pagila.silver.customer`)."""
    path: str
    """The defining file, relative to the dbt project (`models/silver/customer.sql`)."""
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    """Unique ids of the nodes it reads (models, seeds, snapshots, sources), not macros."""
    schema: str | None = None
    relation: str | None = None
    """The table or view it builds (alias), or a source's identifier."""
    source: tuple[str, str] | None = None
    """(source name, table name) of a source node."""
    layer: str | None = None
    """`meta: {layer: ...}` in its config, if the project says so."""

    @property
    def is_test(self) -> bool:
        return self.resource_type in TEST_TYPES


@dataclass(frozen=True)
class DbtGraph:
    """A dbt project as parsed for one work folder, and the nodes each asked invocation runs."""

    project_dir: str
    nodes: dict[str, DbtNode]
    runs: tuple[frozenset[str], ...]
    """Per invocation asked for (same order): the unique ids of the nodes it runs."""
    seconds: float = 0.0


def dbt_graph(
    project: Project,
    invocations: Sequence[DbtInvocation],
    *,
    destination: str,
    vars: dict[str, object] | None = None,
    tenant: Tenant | None = None,
) -> DbtGraph:
    """Parse the dbt project of `invocations` (all of one project, destination and vars) and list the
    nodes each of them runs; a DatakitError (naming the file when dbt does) when dbt cannot parse it."""
    from datakit.transform.runner import LOCK_FILE, _environment, _lock, _prepare, _resolve

    if not invocations:
        raise ValueError("dbt_graph needs at least one invocation")
    started = time.perf_counter()
    first = invocations[0]
    setup = _resolve(project, first, destination, vars, tenant)
    with _lock:
        with exclusive(setup.folder / LOCK_FILE, wait=False) as free:
            if free:
                ready = _prepare(project, setup, first, full_refresh=False)
                with _environment(ready.profile.env):
                    manifest, runs = _parse_and_list(ready.shared, invocations)
        if not free:  # a run is using the folder: parse beside it rather than wait for the run
            aside = replace(setup, folder=setup.folder.with_name(setup.folder.name + "__plan"))
            with exclusive(aside.folder / LOCK_FILE):
                ready = _prepare(project, aside, first, full_refresh=False)
                with _environment(ready.profile.env):
                    manifest, runs = _parse_and_list(ready.shared, invocations)
    nodes = _nodes(manifest)
    seconds = time.perf_counter() - started
    log.debug("parsed dbt project %s for selection in %.2fs", first.project_dir, seconds)
    return DbtGraph(first.project_dir, nodes, tuple(runs), seconds)


def _parse_and_list(
    shared: list[str], invocations: Sequence[DbtInvocation]
) -> tuple[Any, list[frozenset[str]]]:
    """(In the work folder's environment.) dbt's manifest, and `dbt ls` of each invocation on it."""
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", *shared])
    if not parsed.success or parsed.result is None:
        raise _parse_error(parsed.exception, invocations[0].project_dir)
    manifest: Any = parsed.result  # a `parse` returns the Manifest
    runs = [_listed(dbtRunner(manifest=manifest), shared, invocation) for invocation in invocations]
    return manifest, runs


def _listed(runner: Any, shared: list[str], invocation: DbtInvocation) -> frozenset[str]:
    """The unique ids `invocation` runs: `dbt ls` with its selection, limited to its command's types."""
    args = ["ls", *shared, "--output", "json", "--output-keys", "unique_id"]
    args += ["--resource-type", *RUN_TYPES[invocation.command]]
    if invocation.select:
        args += ["--select", *invocation.select.split()]
    if invocation.exclude:
        args += ["--exclude", *invocation.exclude.split()]
    args += ["--indirect-selection", invocation.indirect_selection]
    listed = runner.invoke(args)
    if not listed.success:
        raise _parse_error(listed.exception, invocation.project_dir, what=f"selecting {invocation.select!r}")
    return frozenset(json.loads(line)["unique_id"] for line in listed.result or ())


def _parse_error(exception: object, project_dir: str, *, what: str = "parsing") -> DatakitError:
    from datakit.transform.results import file_in

    text = str(exception or "dbt reported a failure").strip()
    file = file_in(text)
    where = f" ({file})" if file else ""
    return DatakitError(
        f"dbt could not answer for {project_dir}{where} while {what}: {text}",
        hint="fix the dbt project (`dbt parse` in it shows the same error); selection needs dbt's graph",
    )


def _nodes(manifest: Any) -> dict[str, DbtNode]:
    nodes: dict[str, DbtNode] = {}
    for unique_id, node in manifest.nodes.items():
        resource_type = str(node.resource_type)
        if resource_type not in ("model", "seed", "snapshot", "test"):
            continue  # analyses, operations: never run by a step
        meta = getattr(node.config, "meta", None) or {}
        nodes[unique_id] = DbtNode(
            unique_id=unique_id,
            resource_type=resource_type,
            name=node.name,
            fqn=tuple(node.fqn),
            path=node.original_file_path,
            tags=tuple(node.tags),
            depends_on=tuple(node.depends_on.nodes),
            schema=node.schema,
            relation=getattr(node, "alias", None) or node.name,
            layer=str(meta["layer"]) if isinstance(meta.get("layer"), str) else None,
        )
    for unique_id, test in getattr(manifest, "unit_tests", {}).items():
        nodes[unique_id] = DbtNode(
            unique_id=unique_id,
            resource_type="unit_test",
            name=test.name,
            fqn=tuple(test.fqn),
            path=test.original_file_path,
            tags=tuple(test.tags),
            depends_on=tuple(test.depends_on.nodes),
        )
    for unique_id, source in manifest.sources.items():
        nodes[unique_id] = DbtNode(
            unique_id=unique_id,
            resource_type="source",
            name=source.name,
            fqn=tuple(source.fqn),
            path=source.original_file_path,
            tags=tuple(source.tags),
            schema=source.schema,
            relation=source.identifier or source.name,
            source=(source.source_name, source.name),
        )
    return nodes
