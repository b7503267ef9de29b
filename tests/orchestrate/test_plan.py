"""Jobs compile to plans from the configuration alone: steps per resource, modes, dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.scaffold import init_project
from datakit.errors import DatakitError
from datakit.orchestrate.plan import Plan, compile_job
from datakit.orchestrate.stepkinds import (
    ChecksParams,
    ChecksStep,
    DbtParams,
    DbtStep,
    LoadParams,
    LoadStep,
    step_data,
    step_from_data,
)
from datakit.utils.dag import CycleFound

PIPELINES = """\
pipeline:
  name: {name}
  source: {{name: shop, resources: [{resource}]}}
  destination: {{name: warehouse, layer: bronze}}
"""
JOB = """\
job:
  name: nightly
  pipelines:
    - name: orders_only
      {depends}
      order: 2
    - name: customers_only
      order: 1
    - name: shop_bronze
      enabled: false
  execution: {{mode: {mode}, max_parallelism: 3, continue_on_failure: true}}
  retries: {{max_attempts: 4, retry_delay: 10s, exponential_backoff: true, max_retry_delay: 5m}}
  timeout: 15m
"""


def _project(tmp_path: Path, mode: str) -> Path:
    root = tmp_path / "shop"
    init_project(root)
    for name, resource in (("orders_only", "orders"), ("customers_only", "customers")):
        (root / "config" / "pipelines" / f"{name}.yaml").write_text(
            PIPELINES.format(name=name, resource=resource), encoding="utf-8"
        )
    (root / "config" / "jobs" / "nightly.yaml").write_text(
        JOB.format(mode=mode, depends="depends_on: [customers_only]" if mode == "dag" else ""),
        encoding="utf-8",
    )
    return root


def test_scaffold_job_is_one_step_per_resource(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    plan = compile_job(load_project(root), "daily")
    assert [s.id for s in plan.steps] == ["shop_bronze.customers", "shop_bronze.orders"]
    assert plan.mode == "sequential" and plan.parallelism == 1
    first = plan.steps[0]
    assert first.params == LoadParams(pipeline="shop_bronze", resource="customers")
    assert first.retry.max_attempts == 3 and first.retry.retry_delay == 30 and first.retry.exponential_backoff
    assert first.exclusive == (f"duckdb:{(root / 'warehouse.duckdb').resolve()}",)


def test_dag_mode_turns_depends_on_into_step_dependencies(tmp_path: Path) -> None:
    plan = compile_job(load_project(_project(tmp_path, "dag")), "nightly")
    assert [s.id for s in plan.steps] == ["customers_only.customers", "orders_only.orders"]
    assert plan.step("orders_only.orders").depends_on == ("customers_only.customers",)
    assert plan.parallelism == 3 and plan.continue_on_failure
    step = plan.steps[0]
    assert step.timeout == 900 and step.retry.max_retry_delay == 300
    data = plan.as_dict()
    assert data["steps"][1]["depends_on"] == ["customers_only.customers"]


def test_parallel_mode_runs_in_order_up_to_the_limit(tmp_path: Path) -> None:
    plan = compile_job(load_project(_project(tmp_path, "parallel")), "nightly")
    assert [s.id for s in plan.steps] == ["customers_only.customers", "orders_only.orders"]
    assert all(step.depends_on == () for step in plan.steps) and plan.parallelism == 3


def test_unknown_job_suggests_the_closest(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root)
    with pytest.raises(Exception, match="did you mean 'daily'"):
        compile_job(load_project(root), "dailly")


def test_a_cyclic_plan_is_refused_with_its_path() -> None:
    steps = tuple(
        LoadStep(id=name, params=LoadParams(pipeline="p", resource=name), depends_on=(up,))
        for name, up in (("a", "b"), ("b", "a"))
    )
    with pytest.raises(CycleFound, match="dependency cycle"):
        Plan(job="j", mode="dag", max_parallelism=2, continue_on_failure=False, steps=steps)


DBT_JOB = """\
job:
  name: warehouse
  pipelines:
    - customers_only
    - orders_only
  steps:
    - name: silver
      dbt: {{project: transform/shop, command: build, select: "silver+", vars: {{tenant: acme}}}}
      depends_on: [customers_only, orders_only]
      timeout: 2m
    - name: gold
      dbt: {{project: transform/shop, select: gold}}
      depends_on: [silver]
  execution: {{mode: {mode}}}
  timeout: 15m
"""


def _dbt_project(tmp_path: Path, mode: str) -> Path:
    root = _project(tmp_path, "sequential")
    (root / "transform" / "shop").mkdir(parents=True)
    (root / "transform" / "shop" / "dbt_project.yml").write_text("name: shop\n", encoding="utf-8")
    (root / "config" / "jobs" / "warehouse.yaml").write_text(DBT_JOB.format(mode=mode), encoding="utf-8")
    return root


def test_dbt_steps_wait_for_the_pipelines_they_name(tmp_path: Path) -> None:
    root = _dbt_project(tmp_path, "dag")
    plan = compile_job(load_project(root), "warehouse")
    assert [s.id for s in plan.steps] == ["customers_only.customers", "orders_only.orders", "silver", "gold"]
    silver, gold = plan.step("silver"), plan.step("gold")
    assert isinstance(silver, DbtStep)
    assert silver.kind == "dbt" and silver.depends_on == ("customers_only.customers", "orders_only.orders")
    assert silver.params.command == "build" and silver.params.select == "silver+"
    assert silver.params.destination == "warehouse"  # the destination of the job's pipelines
    assert silver.params.vars == {"tenant": "acme"}
    assert silver.timeout == 120 and gold.timeout == 900
    assert gold.depends_on == ("silver",)
    # dbt writes into the same DuckDB file as the loads: never at the same time
    assert silver.exclusive == plan.step("orders_only.orders").exclusive != ()


def test_sequential_jobs_run_steps_after_pipelines_unless_ordered(tmp_path: Path) -> None:
    root = _dbt_project(tmp_path, "sequential")
    text = (root / "config" / "jobs" / "warehouse.yaml").read_text(encoding="utf-8")
    text = text.replace("      depends_on: [customers_only, orders_only]\n", "      order: -1\n")
    text = text.replace("      depends_on: [silver]\n", "")
    (root / "config" / "jobs" / "warehouse.yaml").write_text(text, encoding="utf-8")
    plan = compile_job(load_project(root), "warehouse")
    assert [s.id for s in plan.steps] == ["silver", "customers_only.customers", "orders_only.orders", "gold"]
    assert all(s.depends_on == () for s in plan.steps)


def test_a_dbt_step_without_a_dbt_project_is_a_located_error(tmp_path: Path) -> None:
    from datakit.config import validate_project

    root = _dbt_project(tmp_path, "dag")
    (root / "transform" / "shop" / "dbt_project.yml").unlink()
    text = (root / "config" / "jobs" / "warehouse.yaml").read_text(encoding="utf-8")
    text = text.replace("depends_on: [silver]", "depends_on: [silvr]")
    (root / "config" / "jobs" / "warehouse.yaml").write_text(text, encoding="utf-8")
    problems = [p.render() for p in validate_project(root).errors]
    assert any(
        "warehouse.yaml:8:" in p and "steps[0].dbt.project" in p and "no dbt project in 'transform/shop'" in p
        for p in problems
    ), problems
    assert any(
        "'silvr' is not a pipeline or step of this job" in p and "did you mean 'silver'" in p
        for p in problems
    )


TYPED_JOB = """\
job:
  name: typed
  pipelines: [customers_only]
  steps:
    - name: silver
      dbt:
        project: transform/shop
        command: run
        full_refresh: true
        indirect_selection: eager
        vars: {tenant: acme, days: 3, ratio: 0.5, strict: true}
      depends_on: [customers_only]
    - name: quality
      checks: shop_quality
      depends_on: [silver]
  execution: {mode: dag}
"""
QUALITY = """\
checks:
  name: shop_quality
  destination: warehouse
  tables:
    br__shop__main.customers:
      - not_null: [id]
"""


def _typed_project(tmp_path: Path) -> Path:
    """Every kind of step (load, dbt, checks), and a warehouse running them."""
    root = _dbt_project(tmp_path, "dag")
    (root / "config" / "jobs" / "typed.yaml").write_text(TYPED_JOB, encoding="utf-8")
    (root / "config" / "checks").mkdir(exist_ok=True)
    (root / "config" / "checks" / "shop_quality.yaml").write_text(QUALITY, encoding="utf-8")
    (root / "config" / "warehouses").mkdir(exist_ok=True)
    (root / "config" / "warehouses" / "acme.yaml").write_text(
        "warehouse:\n  name: acme\n  destinations: [warehouse]\n  jobs: [typed]\n  schema_prefix: acme_\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("warehouse", [None, "acme"])
def test_each_kind_of_step_carries_typed_parameters(tmp_path: Path, warehouse: str | None) -> None:
    """Typed values, as the config says them: no "true"/"" strings, no JSON text in a string."""
    plan = compile_job(load_project(_typed_project(tmp_path)), "typed", warehouse)
    load, silver, quality = plan.steps
    assert isinstance(load, LoadStep) and isinstance(silver, DbtStep) and isinstance(quality, ChecksStep)
    assert load.params == LoadParams(pipeline="customers_only", resource="customers", warehouse=warehouse)
    assert silver.params == DbtParams(
        project_dir="transform/shop",
        command="run",
        destination="warehouse",
        select=None,
        exclude=None,
        indirect_selection="eager",
        full_refresh=True,
        vars={"tenant": "acme", "days": 3, "ratio": 0.5, "strict": True},
        warehouse=warehouse,
    )
    assert quality.params == ChecksParams(suite="shop_quality", destination="warehouse", warehouse=warehouse)
    data = plan.as_dict()["steps"][1]
    assert data["kind"] == "dbt" and data["params"]["full_refresh"] is True
    assert data["params"]["select"] is None and data["params"]["vars"]["strict"] is True


@pytest.mark.parametrize("warehouse", [None, "acme"])
def test_every_step_round_trips_through_its_one_serialization(tmp_path: Path, warehouse: str | None) -> None:
    """What a child process, a DAG file and run history get back is the step that was planned."""
    plan = compile_job(load_project(_typed_project(tmp_path)), "typed", warehouse)
    for step in plan.steps:
        sent = json.loads(json.dumps(step_data(step)))
        assert step_from_data(sent) == step
    assert plan.as_dict()["steps"] == [step_data(step) for step in plan.steps]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"full_refresh": ""}, "params.full_refresh"),  # the string flags of old DAG files
        ({"vars": "{}"}, "params.vars"),
        ({"command": "compile"}, "params.command"),
        ({"colour": "blue"}, "params.colour"),
    ],
)
def test_a_step_in_another_form_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    plan = compile_job(load_project(_typed_project(tmp_path)), "typed")
    data = step_data(plan.step("silver"))
    data["params"].update(change)
    with pytest.raises(DatakitError) as raised:
        step_from_data(data)
    assert f"step 'silver' is not in the form this datakit runs: {field}:" in str(raised.value)
    assert "compile it again with this one" in str(raised.value)
    with pytest.raises(DatakitError, match=r"step 'x' .*: kind: "):
        step_from_data({"id": "x", "kind": "spark", "params": {}})
