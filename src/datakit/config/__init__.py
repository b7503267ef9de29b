"""Load and validate a datakit project (YAML -> typed models), for one environment.

Public entry points: `load_project` (raises `ConfigError` with every problem), `validate_project`
(returns them), `find_project_root`, and `Secrets` to resolve secret references.
"""

from datakit.config.loader import Validation, find_project_root, load_project, validate_project
from datakit.config.project import Project
from datakit.config.secrets import Secrets

__all__ = ["Project", "Secrets", "Validation", "find_project_root", "load_project", "validate_project"]
