"""`datakit docs build`: the lineage graph, the warehouses' state and the run history as a static site.

The site is four files: `index.html`, `docs.js` and `docs.css` (the same for every project, copied
from the package) and `data.js`, the project's data as one JSON value assigned to a global. A
`<script src>` works from `file://`, where a browser refuses to `fetch` a JSON file, so the site needs
no server to read. Everything is rendered in the browser from that data: search, table pages, the
graph and a column's lineage; nothing of the data is ever parsed as HTML.

Per warehouse (the project itself, then each tenant of `warehouses/`): the last load of each table and
the catalog's column types (`docs.live`, when the destinations can be opened), the newest result of
each check and the last build of each model (`docs.history`).
"""

from __future__ import annotations

import datetime
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.docs.history import History, read_history
from datakit.docs.live import LiveState, read_live
from datakit.lineage import build_lineage
from datakit.log import redact

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.lineage import Graph

SITE = Path(__file__).with_name("site")
ASSETS = ("index.html", "docs.js", "docs.css")
DATA_FILE = "data.js"
DEFAULT_OUT = Path(".datakit") / "docs"
PROJECT_WAREHOUSE = ""
"""The key of the project itself (no tenant) among the warehouses of the site's data."""


@dataclass(frozen=True)
class DocsResult:
    """The site written: its index page, what it documents, how long it took, what could not be read."""

    index: Path
    tables: int
    columns: int
    checks: int
    seconds: float
    warnings: tuple[str, ...] = field(default=())


def build_docs(
    project: Project, out: Path | None = None, *, compile: bool = False, live: bool = True
) -> DocsResult:
    """Write the docs of `project` into `out` (default `.datakit/docs`); `live=False` opens no database."""
    started = time.perf_counter()
    graph = build_lineage(project, compile=compile)
    warehouses: list[str | None] = [None, *sorted(project.warehouses)]
    warnings: list[str] = list(graph.notes)
    states: dict[str | None, LiveState] = {}
    if live:
        from datakit.config.tenancy import tenant_context

        for warehouse in warehouses:
            states[warehouse] = read_live(project, graph, tenant_context(project, warehouse))
            warnings.extend(states[warehouse].warnings)
    histories = _histories(project, warehouses, warnings)
    data = site_data(project, graph, states, histories)
    folder = project.path(out) if out is not None else project.path(DEFAULT_OUT)
    index = write_site(folder, data)
    return DocsResult(
        index,
        tables=len(graph.tables),
        columns=sum(len(t.columns) for t in graph.tables.values()),
        checks=len(graph.checks),
        seconds=time.perf_counter() - started,
        warnings=tuple(warnings),
    )


def _histories(
    project: Project, warehouses: list[str | None], warnings: list[str]
) -> dict[str | None, History]:
    from datakit.errors import DatakitError

    try:
        return read_history(project, warehouses)
    except DatakitError as exc:
        warnings.append(f"run history not read ({exc.message})")
        return {}


def site_data(
    project: Project,
    graph: Graph,
    states: dict[str | None, LiveState],
    histories: dict[str | None, History],
) -> dict[str, Any]:
    """The JSON the site renders: the graph (types from the catalog where contracts and dbt say none),
    and per warehouse the loads, check results and builds."""
    typed = _types_from_catalog(graph, states.get(None))
    uids = {
        t.origin.removeprefix("dbt "): t.id
        for t in graph.tables.values()
        if t.origin is not None and t.origin.startswith("dbt ")
    }
    status: dict[str, Any] = {}
    for warehouse in [None, *sorted(project.warehouses)]:
        state, history = states.get(warehouse), histories.get(warehouse)
        built = {uids[u]: b for u, b in (history.built if history else {}).items() if u in uids}
        status[warehouse or PROJECT_WAREHOUSE] = {
            "loads": {k: v.as_dict() for k, v in (state.loads if state else {}).items()},
            "checks": history.checks if history else {},
            "built": built,
            "runs": history.runs[:10] if history else [],
            "read": state is not None,
        }
    return {
        "project": project.config.name,
        "description": project.config.description,
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "warehouses": [
            {"key": PROJECT_WAREHOUSE, "name": f"{project.config.name} (no tenant)", "prefix": ""},
            *(
                {"key": name, "name": name, "prefix": project.warehouse(name).schema_prefix or ""}
                for name in sorted(project.warehouses)
            ),
        ],
        "tables": [_table(t.as_dict(), typed.get(t.id, {})) for t in graph.tables.values()],
        "edges": [
            [e.source, e.source_column, e.target, e.target_column, str(e.how), e.via, e.expression]
            for e in graph.edges
        ],
        "checks": [c.as_dict() for c in graph.checks],
        "status": status,
    }


def _types_from_catalog(graph: Graph, state: LiveState | None) -> dict[str, dict[str, str]]:
    if state is None:
        return {}
    return {table: types for table, types in state.types.items() if table in graph.tables}


def _table(table: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    for column in table["columns"]:
        if not column["type"] and column["name"] in types:
            column["type"] = types[column["name"]]
    known = {c["name"] for c in table["columns"]}
    table["columns"].extend(
        {"name": n, "type": t, "nullable": None, "description": None, "constraints": [], "role": "data"}
        for n, t in types.items()
        if n not in known and table["kind"] == "loaded"
    )
    return table


def write_site(folder: Path, data: dict[str, Any]) -> Path:
    """The assets and `data.js` in `folder`; the path of `index.html`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(SITE / name, folder / name)
    text = redact(json.dumps(data, separators=(",", ":"), default=str))  # a load's error may quote one
    # `<` escaped: the data can never close a script element, whatever a description holds
    text = text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    (folder / DATA_FILE).write_text(f"window.DATAKIT_DOCS = {text};\n", encoding="utf-8")
    return folder / "index.html"
