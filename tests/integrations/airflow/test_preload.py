"""Less overhead per task: a worker that preloaded datakit and the project forks tasks that only check
the project did not change (`datakit.config.cache`, `datakit.integrations.airflow.preload`). How long a
task waits before its first action is `bench/airflow_compile.py`'s figure (`task_overhead_s`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from datakit.config.cache import forget_projects, load_project_cached
from datakit.integrations.airflow.preload import preload
from tests.integrations.airflow.projects import copy_jaffle_project


@pytest.fixture(autouse=True)
def fresh() -> object:
    forget_projects()
    yield
    forget_projects()


def test_a_project_is_loaded_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_jaffle_project(tmp_path)
    first = load_project_cached(root, environment="dev", warehouse="acme")
    assert load_project_cached(root, environment="dev", warehouse="acme") is first
    assert load_project_cached(root, environment="dev") is not first  # the project itself: its own entry

    # a variable a file interpolates changes: loaded again, with the new value
    monkeypatch.setenv("JAFFLE_API_URL", "http://127.0.0.1:1")
    second = load_project_cached(root, environment="dev", warehouse="acme")
    assert second is not first
    assert str(second.source("payments_api").connection.base_url).startswith("http://127.0.0.1:1")
    assert load_project_cached(root, environment="dev", warehouse="acme") is second

    # a file changes: loaded again
    job = root / "config/jobs/jaffle_daily.yaml"
    job.write_text(job.read_text().replace("max_parallelism: 2", "max_parallelism: 3"))
    third = load_project_cached(root, environment="dev", warehouse="acme")
    assert third is not second and third.job("jaffle_daily").execution.max_parallelism == 3


def test_preload_imports_the_step_code_and_loads_each_warehouse(tmp_path: Path) -> None:
    root = copy_jaffle_project(tmp_path)
    assert preload([root]) == ["jaffle_shop@dev", "jaffle_shop@dev/acme", "jaffle_shop@dev/globex"]
    assert {"datakit.load.loader", "duckdb", "pyarrow", "datakit.integrations.airflow.task"} <= set(
        sys.modules
    )
    assert load_project_cached(root, environment="dev", warehouse="globex").environment == "dev"


def test_a_broken_project_is_skipped_by_preload(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = copy_jaffle_project(tmp_path)
    (root / "config/jobs/jaffle_daily.yaml").write_text("job: {name: jaffle_daily}\n")
    assert preload([root, tmp_path / "nowhere"]) == []
