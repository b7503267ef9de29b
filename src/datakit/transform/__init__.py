"""dbt steps: profiles and bronze sources generated from datakit's config and contracts, dbt run in-process.

    from datakit.transform import DbtInvocation, run_dbt

    result = run_dbt(project, DbtInvocation("transform/pagila", "build", select="silver+"),
                     destination="local_duckdb")

Importing this package does not import dbt; `run_dbt` does, on first call.
"""

from __future__ import annotations

from datakit.transform.bronze import BronzeTable, bronze_tables
from datakit.transform.dbt_project import DbtProject, read_dbt_project, work_dir
from datakit.transform.errors import DbtFailed
from datakit.transform.invocation import DbtCommand, DbtInvocation, DbtNodeResult, DbtResult
from datakit.transform.profiles import PASSWORD_ENV, Profile, write_profile
from datakit.transform.runner import parse_ahead, release_dbt, run_dbt
from datakit.transform.sources import SOURCES_FILE, sources_yaml, write_sources
from datakit.transform.workspace import generated_dir, prepare_workspace

__all__ = [
    "PASSWORD_ENV",
    "SOURCES_FILE",
    "BronzeTable",
    "DbtCommand",
    "DbtFailed",
    "DbtInvocation",
    "DbtNodeResult",
    "DbtProject",
    "DbtResult",
    "Profile",
    "bronze_tables",
    "generated_dir",
    "parse_ahead",
    "prepare_workspace",
    "read_dbt_project",
    "release_dbt",
    "run_dbt",
    "sources_yaml",
    "work_dir",
    "write_profile",
    "write_sources",
]
