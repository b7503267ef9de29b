"""A dbt project inside a datakit project: where it is, what it is called, and datakit's folder for it.

Everything datakit and dbt write for a (dbt project, warehouse, destination) lives in one stable folder,
`<work root>/dbt/<dbt project>/<warehouse>/<destination>/` (`_default` for the project without a tenant;
the work root is the project's `.datakit/`, or its folder under `$DATAKIT_HOME`: `datakit.config.home`):
`profiles.yml`, the workspace dbt runs in (`project/`, see `transform.workspace`), `target/` (with
`partial_parse.msgpack`) and `logs/`. Stable, because partial parsing only works when the next run finds
the previous run's manifest at the same place; per destination, because the manifest records the profile
and target it was parsed for; per warehouse, because each tenant's generated sources differ and two
tenants must never write the same file nor wait for each other's lock. dbt also re-parses everything
when `--vars` change, so an invocation with step vars gets a folder of its own, suffixed with a short
hash of the vars. A backfill's window (`datakit_start`, `datakit_end`) changes with every backfill: it
is left out of the hash, and its invocations share one `__backfill` folder instead (re-parsed when the
window changes, never making the regular folder parse again).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datakit.errors import DatakitError

if TYPE_CHECKING:
    from datakit.config.project import Project

DBT_PROJECT_FILE = "dbt_project.yml"
WORK_FOLDER = "dbt"
WINDOW_VARS = ("datakit_start", "datakit_end")
"""The vars a backfill gives dbt: its window, as ISO text (`datakit.orchestrate.backfill`)."""
DEFAULT_WAREHOUSE = "_default"
"""The work folder of runs without a tenant (warehouse names start with a letter: no clash)."""


@dataclass(frozen=True)
class DbtProject:
    """The parts of a `dbt_project.yml` datakit needs."""

    path: Path
    """Absolute folder of the dbt project."""
    name: str
    profile: str
    model_paths: tuple[str, ...] = ("models",)
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The whole `dbt_project.yml`, as read (the workspace's copy extends it)."""

    @property
    def models_dir(self) -> Path:
        """The first model folder."""
        return self.path / self.model_paths[0]


def read_dbt_project(project: Project, project_dir: str) -> DbtProject:
    """The dbt project at `project_dir` (relative to the datakit project root); an error names the file."""
    from datakit.config.yaml_source import YamlProblem, read_yaml

    folder = project.path(project_dir).resolve()
    file = folder / DBT_PROJECT_FILE
    if not file.is_file():
        raise DatakitError(
            f"no dbt project at {project_dir!r}: {file} does not exist",
            hint="`project:` of a dbt step is the dbt project's folder, relative to the datakit project",
        )
    try:
        data = read_yaml(file).data
    except YamlProblem as exc:
        raise DatakitError(exc.problem.render()) from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise DatakitError(f"{file}: a dbt_project.yml needs a `name:`")
    name = data["name"]
    profile = data.get("profile")
    paths = data.get("model-paths") or data.get("source-paths") or ["models"]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise DatakitError(f"{file}: `model-paths:` must be a list of folders")
    return DbtProject(folder, name, profile if isinstance(profile, str) else name, tuple(paths), data)


def work_dir(
    project: Project,
    dbt: DbtProject,
    destination: str,
    vars: dict[str, object] | None,
    warehouse: str | None = None,
) -> Path:
    """datakit's stable folder for `dbt` run against `destination` for `warehouse` (with these `vars`)."""
    leaf = destination
    stable = {k: v for k, v in (vars or {}).items() if k not in WINDOW_VARS}
    if stable:
        digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()
        leaf = f"{destination}__vars_{digest[:10]}"
    if len(stable) < len(vars or {}):
        leaf += "__backfill"
    from datakit.config.home import work_root

    return work_root(project) / WORK_FOLDER / dbt.name / (warehouse or DEFAULT_WAREHOUSE) / leaf
