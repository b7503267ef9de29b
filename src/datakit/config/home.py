"""Where datakit writes what it generates for a project: `$DATAKIT_HOME`, else the project's `.datakit/`.

A project may be read-only — an Airflow DAG bundle, a versioned checkout mounted read-only on the
workers — so nothing datakit generates at run time (dbt's profiles, generated sources, workspace,
`target/` and `logs/`) has to live inside it. With `DATAKIT_HOME` set, each project gets a folder of its
own there, named after the project and a hash of its absolute path (two checkouts never share one);
without it, the project's own `.datakit/` keeps working as before on a laptop. Airflow tasks set it to a
cache folder when the environment does not (`datakit.integrations.airflow.task`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datakit.config.project import Project

HOME_VAR = "DATAKIT_HOME"
IN_PROJECT = ".datakit"


def work_root(project: Project) -> Path:
    """The folder of the files datakit generates for `project` (see the module docstring)."""
    home = os.environ.get(HOME_VAR)
    if not home:
        return project.root / IN_PROJECT
    digest = hashlib.sha256(str(project.root.resolve()).encode()).hexdigest()[:10]
    return Path(home).expanduser() / "projects" / f"{project.config.name}-{digest}"


def default_cache_home() -> Path:
    """`$XDG_CACHE_HOME/datakit`, else `~/.cache/datakit`: DATAKIT_HOME of a process that must not write
    into the project and was given none."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "datakit"
