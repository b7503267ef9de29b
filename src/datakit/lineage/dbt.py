"""dbt models, seeds, snapshots and tests -> tables, column edges and checks, from dbt's own artifacts.

Each (dbt project, destination) a job builds has a work folder (`transform.dbt_project.work_dir`)
whose `target/manifest.json` lists the nodes, what each depends on and the columns its YAML documents,
and whose `target/compiled/` keeps every node's compiled SQL from the last run that compiled it (a
`select: gold` run leaves silver's SQL from the silver run). Models are read in dependency order, so
the columns of a model (from its SQL) are known when a model that selects `*` from it is read; bronze
tables have their columns from the contracts. A model without compiled SQL yet, or whose SQL cannot be
followed, gets `unknown` edges from what it depends on and a note saying why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.lineage.loads import destination_table_id
from datakit.lineage.model import Check, ColumnInfo, Edge, Graph, How, Table
from datakit.lineage.sql import QueryLineage, SqlLineageError, query_lineage
from datakit.utils.dag import DAG

if TYPE_CHECKING:
    from datakit.config.project import Project

BUILT_TYPES = ("model", "seed", "snapshot")
MANIFEST = Path("target") / "manifest.json"
NO_SQL = "no compiled SQL yet: run the job (or `datakit docs build --compile`) for its column lineage"
_LAYER_WORDS = ("bronze", "silver", "gold")
_LAYER_PREFIXES = {"br__": "bronze", "sv__": "silver", "gd__": "gold"}


@dataclass(frozen=True)
class DbtTarget:
    """A dbt project as a job builds it: its folder (relative to the project) and its destination."""

    project_dir: str
    destination: str
    vars: tuple[tuple[str, str], ...] = ()


def dbt_targets(project: Project) -> list[DbtTarget]:
    """Every (dbt project, destination) some job's dbt step builds, in job order."""
    from datakit.config.references import dbt_destinations

    found: list[DbtTarget] = []
    for job in project.jobs.values():
        for step in job.steps:
            if step.dbt is None:
                continue
            candidates = dbt_destinations(project, job)
            named = step.dbt.destination or (candidates[0] if len(candidates) == 1 else None)
            destination = project.resolve_name("destination", named) if named else None
            if destination is None:
                continue
            vars = tuple(sorted((k, json.dumps(v)) for k, v in step.dbt.vars.items()))
            target = DbtTarget(step.dbt.project, destination, vars)
            if target not in found:
                found.append(target)
    return found


def manifest_path(project: Project, target: DbtTarget) -> tuple[Path, str] | None:
    """The manifest dbt last wrote for `target`, and the schema prefix of its names: the project's own
    work folder's (prefix ""), else, when only tenants build it, the newest of theirs (their prefix)."""
    from datakit.config.tenancy import tenant_context
    from datakit.errors import DatakitError
    from datakit.transform.dbt_project import read_dbt_project, work_dir

    try:
        dbt = read_dbt_project(project, target.project_dir)
    except DatakitError:
        return None
    vars = {k: json.loads(v) for k, v in target.vars}
    own = work_dir(project, dbt, target.destination, vars or None) / MANIFEST
    if own.is_file():
        return own, ""
    found: list[tuple[Path, str]] = []
    for warehouse in sorted(project.warehouses):
        try:
            tenant = tenant_context(project, warehouse)
            destination = tenant.destination_for(target.destination)
        except DatakitError:
            continue
        path = work_dir(project, dbt, destination, tenant.dbt_vars(vars), warehouse) / MANIFEST
        if path.is_file():
            found.append((path, tenant.schema_prefix))
    return max(found, key=lambda f: f[0].stat().st_mtime) if found else None


def add_dbt(project: Project, graph: Graph, target: DbtTarget, manifest: Path, prefix: str = "") -> None:
    """The nodes of one manifest as tables, their column edges and their tests as checks; `prefix` is
    the schema prefix of the tenant whose manifest it is (taken off: the graph has the project's names)."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    _Reader(project, graph, target, data, manifest.parent, prefix).read()


class _Reader:
    def __init__(
        self,
        project: Project,
        graph: Graph,
        target: DbtTarget,
        manifest: dict[str, Any],
        target_dir: Path,
        prefix: str,
    ) -> None:
        self.prefix = prefix
        self.project = project
        self.graph = graph
        self.target = target
        self.manifest = manifest
        self.target_dir = target_dir
        self.dialect = str(manifest.get("metadata", {}).get("adapter_type") or "duckdb")
        self.ids: dict[str, str] = {}
        """dbt unique_id -> table id."""
        self.by_relation: dict[tuple[str, str], str] = {}
        """(schema, name), lower-cased -> table id, for the relations compiled SQL names."""
        self.tests: dict[str, list[dict[str, Any]]] = {}
        """dbt unique_id -> the tests attached to it."""
        for node in manifest.get("nodes", {}).values():
            if node.get("resource_type") == "test" and node.get("attached_node"):
                self.tests.setdefault(str(node["attached_node"]), []).append(node)

    def read(self) -> None:
        for uid, source in self.manifest.get("sources", {}).items():
            self._add_source(uid, source)
        nodes = {
            uid: node
            for uid, node in self.manifest.get("nodes", {}).items()
            if node.get("resource_type") in BUILT_TYPES
        }
        for uid, node in nodes.items():
            self.ids[uid] = self._relation(uid, str(node["schema"]), str(node.get("alias") or node["name"]))
        deps = {uid: [d for d in _depends_on(node) if d in nodes] for uid, node in nodes.items()}
        order = DAG(deps).order()
        for uid in order:
            self._add_node(uid, nodes[uid])
        for uid, node in self.manifest.get("nodes", {}).items():
            if node.get("resource_type") == "test":
                self._add_test(uid, node)

    def _unprefixed(self, schema: str) -> str:
        return schema.removeprefix(self.prefix) if self.prefix else schema

    def _relation(self, uid: str, physical: str, name: str) -> str:
        """The table id of a relation of the manifest, known by its physical name and the project's."""
        schema = self._unprefixed(physical)
        table_id = destination_table_id(self.target.destination, schema, name)
        self.ids[uid] = table_id
        for named in (schema, physical):
            self.by_relation[(named.lower(), name.lower())] = table_id
        return table_id

    def _add_source(self, uid: str, source: dict[str, Any]) -> None:
        name = str(source.get("identifier") or source["name"])
        table_id = self._relation(uid, str(source["schema"]), name)
        if table_id in self.graph.tables:
            return
        schema = self._unprefixed(str(source["schema"]))
        columns = tuple(_yaml_column(c) for c in source.get("columns", {}).values())
        self.graph.add_table(
            Table(
                table_id, layer_of(schema, []) or "source", "dbt source", self.target.destination, schema,
                name,
                columns, source.get("description") or None, f"dbt {uid}",
                notes=("declared as a dbt source; no pipeline of the project loads it",),
            )
        )  # fmt: skip

    def _add_node(self, uid: str, node: dict[str, Any]) -> None:
        table_id = self.ids[uid]
        schema, name = self._unprefixed(str(node["schema"])), str(node.get("alias") or node["name"])
        documented = {str(c["name"]): c for c in node.get("columns", {}).values()}
        tests = self._column_tests(uid)
        kind = str(node["resource_type"])
        sql = self._compiled_sql(node)
        notes: list[str] = []
        edges: list[Edge] = []
        via = f"dbt {uid}"
        names: list[str] = list(documented)
        if kind != "seed":
            upstream = [self.ids[d] for d in _depends_on(node) if d in self.ids]
            lineage = self._lineage(sql, notes) if sql is not None else None
            if sql is None:
                notes.append(NO_SQL)
            if lineage is None:
                edges = [Edge(u, None, table_id, None, How.UNKNOWN, via) for u in upstream]
            else:
                names = lineage.columns + [n for n in documented if n not in lineage.columns]
                edges = list(_edges(lineage, table_id, via))
                for relation in sorted(lineage.unresolved):
                    notes.append(f"reads {relation}, which is neither a dbt node nor a source")
            if sql is not None and self._stale(node):
                notes.append("its compiled SQL is older than its file: run the job again to refresh it")
        columns = tuple(_model_column(name, documented.get(name), tests.get(name, ())) for name in names)
        self.graph.add_table(
            Table(
                table_id, layer_of(schema, list(node.get("fqn", []))) or "model", kind,
                self.target.destination, schema, name, columns, node.get("description") or None, via, sql,
                tuple(notes),
            )
        )  # fmt: skip
        self.graph.add_edges(edges)

    def _lineage(self, sql: str, notes: list[str]) -> QueryLineage | None:
        try:
            return query_lineage(
                sql,
                self.dialect,
                _Schemas(self.graph, self.by_relation),
                lambda _catalog, schema, name: self.by_relation.get((schema.lower(), name.lower())),
            )
        except SqlLineageError as exc:
            notes.append(f"column lineage unknown: {exc.message}")
            return None

    def _compiled_sql(self, node: dict[str, Any]) -> str | None:
        code = node.get("compiled_code")
        if isinstance(code, str) and code.strip():
            return code
        path = self._compiled_file(node)
        if path is not None and path.is_file():
            return path.read_text(encoding="utf-8")
        return None

    def _compiled_file(self, node: dict[str, Any]) -> Path | None:
        package, original = node.get("package_name"), node.get("original_file_path")
        if not package or not original:
            return None
        return self.target_dir / "compiled" / str(package) / str(original)

    def _stale(self, node: dict[str, Any]) -> bool:
        compiled = self._compiled_file(node)
        original = node.get("original_file_path")
        if compiled is None or not compiled.is_file() or not original:
            return False
        source = self.project.path(self.target.project_dir) / str(original)
        return source.is_file() and source.stat().st_mtime > compiled.stat().st_mtime

    def _column_tests(self, uid: str) -> dict[str, tuple[str, ...]]:
        """Column -> `not null (tested)`, `unique (tested)`: what dbt's generic tests on `uid` assert."""
        found: dict[str, list[str]] = {}
        for node in self.tests.get(uid, []):
            column, meta = node.get("column_name"), node.get("test_metadata") or {}
            if column and meta.get("name") in ("not_null", "unique"):
                found.setdefault(str(column), []).append(f"{str(meta['name']).replace('_', ' ')} (tested)")
        return {k: tuple(v) for k, v in found.items()}

    def _add_test(self, uid: str, node: dict[str, Any]) -> None:
        meta = node.get("test_metadata") or {}
        attached = node.get("attached_node")
        depends = [self.ids[d] for d in _depends_on(node) if d in self.ids]
        table = self.ids.get(str(attached)) if attached else (depends[0] if depends else None)
        if table is None:
            return
        column = node.get("column_name")
        reads: list[tuple[str, str | None]] = [(table, str(column) if column else None)]
        kwargs = meta.get("kwargs") or {}
        for other in depends:
            if other != table:
                field = kwargs.get("field")
                reads.append((other, str(field) if field else None))
        severity = str((node.get("config") or {}).get("severity") or "error").lower()
        self.graph.checks.append(
            Check(
                f"dbt:{uid}",
                str(node.get("name")),
                str(meta.get("name") or "singular"),
                table,
                tuple(reads),
                severity,
                f"dbt {uid}",
            )
        )


class _Schemas(Mapping[tuple[str, str], Mapping[str, str]]):
    """The columns of each relation a query may read, looked up when asked (a project has thousands)."""

    def __init__(self, graph: Graph, by_relation: dict[tuple[str, str], str]) -> None:
        self.graph = graph
        self.by_relation = by_relation

    def __getitem__(self, relation: tuple[str, str]) -> Mapping[str, str]:
        table = self.graph.tables.get(self.by_relation[relation])
        if table is None or not table.columns:
            raise KeyError(relation)
        return {c.name: "UNKNOWN" for c in table.columns}

    def __contains__(self, relation: object) -> bool:
        try:
            self[relation]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return (relation for relation in self.by_relation if relation in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _edges(lineage: QueryLineage, table_id: str, via: str) -> Iterator[Edge]:
    for column in lineage.columns:
        for (source, source_column), step in sorted(lineage.direct.get(column, {}).items()):
            how = How.RENAMED if step is How.COPIED and source_column != column else step
            yield Edge(source, source_column, table_id, column, how, via, lineage.expressions.get(column))
    for (source, source_column), how in sorted(lineage.rows.items()):
        yield Edge(source, source_column, table_id, None, how, via)


def _depends_on(node: dict[str, Any]) -> list[str]:
    return [str(d) for d in (node.get("depends_on") or {}).get("nodes", [])]


def layer_of(schema: str, fqn: list[str]) -> str | None:
    """The layer a dbt relation belongs to, by its schema (`silver`, `acme_gold`, `sv__x__y`) or folder."""
    lowered = schema.lower()
    for prefix, layer in _LAYER_PREFIXES.items():
        if lowered.startswith(prefix) or f"_{prefix}" in lowered:
            return layer
    for word in _LAYER_WORDS:
        if lowered == word or lowered.endswith(f"_{word}") or word in fqn[1:-1]:
            return word
    return None


def _yaml_column(column: dict[str, Any]) -> ColumnInfo:
    return ColumnInfo(
        str(column["name"]), column.get("data_type") or None, None, column.get("description") or None
    )


def _model_column(name: str, documented: dict[str, Any] | None, tests: tuple[str, ...]) -> ColumnInfo:
    constraints = [str(c.get("type")) for c in (documented or {}).get("constraints", []) if c.get("type")]
    return ColumnInfo(
        name,
        (documented or {}).get("data_type") or None,
        None,
        (documented or {}).get("description") or None,
        tuple(constraints) + tests,
        "data",
    )
