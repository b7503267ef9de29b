from __future__ import annotations

import pytest

from datakit.config.project import Project
from datakit.lineage import Graph
from tests.lineage.pagila import compiled_pagila


@pytest.fixture(scope="session")
def pagila(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Graph]:
    """examples/pagila compiled, and its lineage graph (shared: tests must not change them)."""
    return compiled_pagila(tmp_path_factory.mktemp("lineage"))
