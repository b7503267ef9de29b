"""The configuration pages: each kind with file:line and links, and a problem planted on disk after the
server loaded the project, shown at its file:line with the suggestion `datakit validate` gives."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.server.config_pages import config_routes
from datakit.server.render import Renderer
from tests.server.operators import TestClient

TYPO = """\
pipeline:
  name: broken_bronze
  source: {name: shop}
  destination: {name: warehuose, layer: bronze}
"""


def test_kinds_with_file_line_and_links_then_a_planted_problem(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    project = load_project(root)
    client = TestClient(Starlette(routes=config_routes(project, Renderer(project))))
    overview = client.get("/config").text
    assert "No problems: the project on disk is valid" in overview
    pipelines = client.get("/config/pipelines").text
    assert 'id="shop_bronze"' in pipelines and "config/pipelines/shop_bronze.yaml:2" in pipelines
    assert 'href="/config/sources#shop"' in pipelines and 'href="/config/destinations#warehouse"' in pipelines
    jobs = client.get("/config/jobs").text
    assert 'href="/config/pipelines#shop_bronze"' in jobs and 'href="/jobs/daily"' in jobs
    triggers = client.get("/config/triggers").text
    assert "config/triggers/daily_at_two.yaml:2" in triggers and 'href="/config/jobs#daily"' in triggers
    assert client.get("/config/pipelnes").status_code == 404

    (root / "config" / "pipelines" / "broken_bronze.yaml").write_text(TYPO, encoding="utf-8")
    problems = client.get("/config").text  # the served project is unchanged; the files are read now
    assert "config/pipelines/broken_bronze.yaml:4:" in problems
    assert "warehuose" in problems and "did you mean &#39;warehouse&#39;" in problems
    assert "config/pipelines/broken_bronze.yaml:4:" in client.get("/config/pipelines").text
