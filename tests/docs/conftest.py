"""A demo warehouse run twice, as the project and as the tenant `acme`, then documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datakit.config.project import Project
from datakit.docs import DocsResult

ACME = """\
warehouse:
  name: acme
  destinations: [warehouse]
  jobs: [demo]
  schema_prefix: acme_
"""


@pytest.fixture(scope="session")
def documented(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, DocsResult]:
    """The demo project at a small scale, its job run for the project and for `acme`, its docs built."""
    from datakit.config import load_project
    from datakit.demo.project import create_demo_project
    from datakit.docs import build_docs
    from datakit.orchestrate.run import run_job

    root = create_demo_project(tmp_path_factory.mktemp("docs") / "demo", scale=0.05)
    (root / "config" / "warehouses").mkdir()
    (root / "config" / "warehouses" / "acme.yaml").write_text(ACME)
    project = load_project(root)
    assert run_job(project, "demo").ok
    assert run_job(load_project(root, warehouse="acme"), "demo", warehouse="acme").ok
    return project, build_docs(project, Path("site"))


def site_data(result: DocsResult) -> dict:  # type: ignore[type-arg]
    """The JSON a built site renders (data.js)."""
    text = (result.index.parent / "data.js").read_text(encoding="utf-8")
    prefix = "window.DATAKIT_DOCS = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))  # type: ignore[no-any-return]
