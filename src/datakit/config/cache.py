"""A loaded project kept for the life of a process, reloaded only when its configuration changes.

Loading a project (read every YAML file, validate it) takes a large part of a second. A long-lived
process that runs many steps — an Airflow worker that preloaded the project before forking each task
(`datakit.integrations.airflow.preload`), the step server — loads it once; each step then checks that
nothing it was loaded from has changed: the contents of `datakit.yaml` and of every file under the
config folder, and the values of the environment variables those files interpolate (`${NAME}`). That
check reads a few dozen small files: milliseconds, not the load's hundreds.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datakit.config.project import Project

_VARIABLE = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_lock = threading.Lock()
_loaded: dict[tuple[str, str | None, str | None], tuple[str, Project]] = {}


def load_project_cached(
    root: Path, *, environment: str | None = None, warehouse: str | None = None
) -> Project:
    """`load_project(root, environment=..., warehouse=...)`, from this process's cache when nothing it
    was loaded from has changed."""
    from datakit.config.loader import load_project

    key = (str(root.resolve()), environment, warehouse)
    with _lock:
        hit = _loaded.get(key)
    if hit is not None and _signature(hit[1]) == hit[0]:
        return hit[1]
    project = load_project(root, environment=environment, warehouse=warehouse)
    with _lock:
        _loaded[key] = (_signature(project), project)
    return project


def forget_projects() -> None:
    """Drop every cached project (tests; a process moving on to other work)."""
    with _lock:
        _loaded.clear()


def _signature(project: Project) -> str:
    """A hash of what the project was loaded from: its files' contents and the variables they read."""
    digest = hashlib.sha256()
    names: set[bytes] = set()
    files = [project.root / "datakit.yaml", *sorted(project.config_dir.rglob("*.y*ml"))]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<missing>"
        digest.update(str(path).encode() + b"\0" + data + b"\0")
        names.update(_VARIABLE.findall(data))
    for name in sorted(names):
        value = os.environ.get(name.decode())
        digest.update(name + b"=" + (value.encode() if value is not None else b"<unset>") + b"\0")
    digest.update(f"ENVIRONMENT={os.environ.get('ENVIRONMENT')}".encode())
    return digest.hexdigest()
