"""Warm an Airflow worker before it forks tasks: datakit's step code imported, projects loaded once.

Airflow 3 runs each task in a process forked from its worker (the LocalExecutor's worker processes,
which the scheduler forks; a Celery worker's pool processes). A task that imports datakit and loads the
project itself spends a second or more on it before its first action; forked from a worker that did
both already, it inherits them and only checks the project has not changed (`datakit.config.cache`).

Airflow imports its plugins in every process when `[core] lazy_load_plugins = False`, before the
scheduler starts its executor, so datakit's plugin (`plugin.py`, the entry point `airflow.plugins`)
preloads there when `DATAKIT_PRELOAD` names the projects:

    AIRFLOW__CORE__LAZY_LOAD_PLUGINS=False
    DATAKIT_PRELOAD=/opt/datakit/project            # several: separated by ':'

Each project is loaded for the environment in `ENVIRONMENT` (else its default), as itself and as each of
its warehouses. A project that fails to load is logged and skipped: a task loads it itself and reports
the error where the operator looks.
"""

from __future__ import annotations

import os
from pathlib import Path

PRELOAD_VAR = "DATAKIT_PRELOAD"
MODULES = (
    "datakit.integrations.airflow.task",
    "datakit.integrations.airflow.callbacks",
    "datakit.orchestrate.steps",
    "datakit.orchestrate.retry",
    "datakit.load.loader",
    "datakit.load.resolve",
    "datakit.load.state",
    "datakit.quality",
    "datakit.transform",
    "pyarrow",
)


def preload(roots: list[Path] | None = None) -> list[str]:
    """Import the step code and load `roots` (default: `$DATAKIT_PRELOAD`); what was loaded."""
    import importlib

    from datakit.config.cache import load_project_cached
    from datakit.connectors.engines import warm
    from datakit.datakits import datakit_names, datakits_dir, load_datakit
    from datakit.errors import DatakitError
    from datakit.log import get_logger

    log = get_logger(__name__)
    for name in MODULES:
        importlib.import_module(name)
    if roots is None:
        roots = [Path(p) for p in os.environ.get(PRELOAD_VAR, "").split(os.pathsep) if p.strip()]
    environment = os.environ.get("ENVIRONMENT") or None
    loaded: list[str] = []
    for root in roots:
        try:
            project = load_project_cached(root, environment=environment)
            loaded.append(f"{project.config.name}@{project.environment}")
            for kind in sorted({d.type for d in project.destinations.values()}):
                warm(kind)
            for name in datakit_names(datakits_dir(project)):
                load_datakit(project, name)  # its contracts and modules, kept by datakit's own cache
            for warehouse in sorted(project.warehouses):
                load_project_cached(root, environment=project.environment, warehouse=warehouse)
                loaded.append(f"{project.config.name}@{project.environment}/{warehouse}")
        except DatakitError as exc:
            log.warning("datakit preload of %s skipped: %s", root, exc)
    if loaded:
        log.info("datakit preloaded %s in process %d", ", ".join(loaded), os.getpid())
    return loaded
