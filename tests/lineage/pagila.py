"""The example Pagila project with its dbt models compiled: what lineage and docs tests read.

No database is needed: lineage reads the project's config, its datakit and dbt's compiled SQL, and
`dbt compile` of the DuckDB job only creates an empty warehouse file. One model that sqlglot cannot
read is added, so the tests see how an unreadable model is reported.
"""

from __future__ import annotations

from pathlib import Path

from datakit.config import load_project
from datakit.config.project import Project
from datakit.lineage import Graph, build_lineage
from tests.pagila_project import copy_pagila_project

BROKEN_MODEL = "select ))) as nothing from {{ ref('payment') }}\n"


def compiled_pagila(folder: Path) -> tuple[Project, Graph]:
    """A copy of examples/pagila in `folder`, its dbt project compiled, and its lineage graph."""
    root = copy_pagila_project(folder)
    (root / "transform" / "pagila" / "models" / "gold" / "broken.sql").write_text(BROKEN_MODEL)
    project = load_project(root)
    return project, build_lineage(project, compile=True)
