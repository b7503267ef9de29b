"""Selection across the Pagila job's plan: each operator and method gives the exact steps and dbt nodes.

The example project (a copy, with `gold.fact_payment` tagged `finance` and a second job building on
PostgreSQL) is parsed by dbt once per job; every case then selects on that graph. The expected nodes
are written out from the example's models and YAML tests, not derived from the graph under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.config.project import Project
from datakit.errors import UsageError
from datakit.orchestrate.plan import Plan, compile_job
from datakit.orchestrate.selection import NothingSelected, select_plan
from datakit.orchestrate.selection.build import build_graph
from datakit.orchestrate.selection.grammar import Criterion, parse
from datakit.orchestrate.selection.graph import SelectionGraph
from datakit.orchestrate.stepkinds import DbtStep
from tests.cli.test_cli import run
from tests.orchestrate.pagila_runs import PG_JOB
from tests.pagila_project import copy_pagila_project

ENV = {"PAGILA_PASSWORD_DEV": "unused", "WAREHOUSE_PASSWORD_DEV": "unused"}  # parsing connects nowhere

CUSTOMER_TESTS = {
    "silver.accepted_values_customer_active__False__True__False",
    "silver.not_null_customer_address_id",
    "silver.not_null_customer_create_date",
    "silver.not_null_customer_customer_id",
    "silver.not_null_customer_first_name",
    "silver.not_null_customer_last_name",
    "silver.not_null_customer_store_id",
    "silver.unique_customer_customer_id",
}
RENTAL_TESTS = {
    "silver.not_null_rental_customer_id",
    "silver.not_null_rental_inventory_id",
    "silver.not_null_rental_rental_date",
    "silver.not_null_rental_rental_id",
    "silver.not_null_rental_staff_id",
    "silver.unique_rental_rental_id",
}
FACT_PAYMENT_TESTS = {
    "gold.not_null_fact_payment_amount",
    "gold.not_null_fact_payment_customer_id",
    "gold.not_null_fact_payment_film_id",
    "gold.not_null_fact_payment_payment_date_key",
    "gold.not_null_fact_payment_payment_id",
    "gold.not_null_fact_payment_rental_id",
    "gold.not_null_fact_payment_staff_id",
    "gold.not_null_fact_payment_store_id",
    "gold.unique_fact_payment_payment_id",
}
DIM_DATE_TESTS = {
    "gold.accepted_values_dim_date_day_of_week__False__1__2__3__4__5__6__7",
    "gold.accepted_values_dim_date_quarter__False__1__2__3__4",
    "gold.not_null_dim_date_date_day",
    "gold.not_null_dim_date_date_key",
    "gold.not_null_dim_date_day_name",
    "gold.not_null_dim_date_month_name",
    "gold.unique_dim_date_date_day",
    "gold.unique_dim_date_date_key",
}
LOADS = [
    "actor", "address", "category", "city", "country", "customer", "film", "film_actor", "film_category",
    "inventory", "language", "payment", "rental", "staff", "store",
]  # fmt: skip


@dataclass
class Job:
    """A compiled job and its selection graph (built once: dbt parses the project)."""

    project: Project
    plan: Plan
    graph: SelectionGraph

    def select(self, *select: str, exclude: tuple[str, ...] = ()) -> Plan:
        return select_plan(self.project, self.plan, select, exclude, graph=self.graph)

    def models(self, *select: str) -> dict[str, set[str] | None]:
        """`chosen`, dbt models only (no tests)."""
        plan = self.select(*select)
        assert plan.selection is not None
        return {
            step.id: {
                self.graph.nodes[n].label
                for n in plan.selection.nodes[step.id]
                if self.graph.nodes[n].resource_type == "model"
            }
            if step.id in plan.selection.nodes
            else None
            for step in plan.steps
        }

    def chosen(self, *select: str, exclude: tuple[str, ...] = ()) -> dict[str, set[str] | None]:
        """Each step of the selection -> the dbt nodes it runs (None: the whole step, as the job says)."""
        plan = self.select(*select, exclude=exclude)
        assert plan.selection is not None
        labels = plan.selection.labels
        return {
            step.id: {labels[n] for n in plan.selection.nodes[step.id]}
            if step.id in plan.selection.nodes
            else None
            for step in plan.steps
        }


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ENV.items():
            patch.setenv(name, value)
        patch.delenv("ENVIRONMENT", raising=False)
        root = copy_pagila_project(tmp_path_factory.mktemp("selection"))
        model = root / "transform" / "pagila" / "models" / "gold" / "fact_payment.sql"
        model.write_text("{{ config(tags=['finance']) }}\n" + model.read_text())
        (root / "config" / "jobs" / "pagila_pg_daily.yaml").write_text(PG_JOB)
        yield root


@pytest.fixture(scope="module")
def daily(root: Path) -> Job:
    project = load_project(root)
    plan = compile_job(project, "pagila_daily")
    return Job(project, plan, build_graph(project, plan))


@pytest.fixture(scope="module")
def on_postgres(root: Path) -> Job:
    project = load_project(root)
    plan = compile_job(project, "pagila_pg_daily")
    return Job(project, plan, build_graph(project, plan))


def test_grammar_reads_operators_methods_unions_and_intersections() -> None:
    (plus, down, depth, at, both) = parse(["+silver.customer pagila_bronze.rental+ 2+gold.x+1 @x"]) + parse(
        ["tag:finance,layer:gold"]
    )
    assert plus.criteria == (Criterion("+silver.customer", None, "silver.customer", upstream=None),)
    assert down.criteria[0].downstream is None and down.criteria[0].upstream == 0
    assert (depth.criteria[0].upstream, depth.criteria[0].downstream) == (2, 1)
    assert at.criteria[0].at and at.criteria[0].value == "x"
    assert [(c.method, c.value) for c in both.criteria] == [("tag", "finance"), ("layer", "gold")]
    with pytest.raises(UsageError, match="unknown method 'tags'") as bad:
        parse(["tags:x"])
    assert "did you mean 'tag'" in str(bad.value)
    with pytest.raises(UsageError, match="not both"):
        parse(["@+x"])


@pytest.mark.parametrize("which", ["duckdb", "postgres"])
def test_upstream_of_a_silver_model_is_its_load_and_the_model(
    daily: Job, on_postgres: Job, which: str
) -> None:
    job = daily if which == "duckdb" else on_postgres
    pipeline = "pagila_bronze" if which == "duckdb" else "pagila_bronze_pg"
    chosen = job.chosen("+silver.customer")
    assert chosen == {f"{pipeline}.customer": None, "silver": {"silver.customer", *CUSTOMER_TESTS}}
    plan = job.select("+silver.customer")
    silver = plan.step("silver")
    assert isinstance(silver, DbtStep)
    assert silver.depends_on == (f"{pipeline}.customer",)
    assert silver.params.indirect_selection == "empty"  # the tests are chosen already
    assert silver.params.select is not None and "fqn:pagila.silver.customer" in silver.params.select.split()
    assert plan.selection is not None
    assert plan.selection.steps[f"{pipeline}.customer"] == "upstream of silver.customer (+silver.customer)"


def test_downstream_with_a_depth_reaches_through_the_dbt_source(daily: Job) -> None:
    # the load and its dbt source are one table: one step down from the load is the silver model
    assert daily.chosen("pagila_bronze.rental+1") == {
        "pagila_bronze.rental": None,
        "silver": {"silver.rental", *RENTAL_TESTS},
    }


def test_upstream_with_a_depth(daily: Job) -> None:
    # the models fact_payment refs, not their loads (two steps up)
    assert daily.models("1+gold.fact_payment") == {
        "silver": {"silver.payment", "silver.rental", "silver.inventory"},
        "gold": {"gold.fact_payment"},
    }
    assert daily.chosen("1+gold.fact_payment")["gold"] == {"gold.fact_payment", *FACT_PAYMENT_TESTS}
    assert set(daily.chosen("2+gold.fact_payment")) == {
        "pagila_bronze.payment",
        "pagila_bronze.rental",
        "pagila_bronze.inventory",
        "silver",
        "gold",
    }


def test_at_takes_what_everything_downstream_needs(daily: Job) -> None:
    down = daily.models("silver.store+")
    assert set(down) == {"silver", "gold"}  # downstream only: no load
    gold = down["gold"]
    assert gold is not None and "gold.dim_store" in gold
    at = daily.models("@silver.store")
    # and everything those need: every load (gold's facts read them all), all of silver
    assert set(at) == {*(f"pagila_bronze.{t}" for t in LOADS), "silver", "gold"}
    assert at["silver"] is None
    # and the gold models that a test downstream of silver.store also reads (dim_store's relationships)
    assert gold < (at["gold"] or set())
    assert "gold.fact_payment" in (at["gold"] or set()) and "gold.fact_payment" not in gold
    assert "silver_checks" not in at  # it checks no table downstream of silver.store


def test_names_globs_and_step_names(daily: Job) -> None:
    assert daily.chosen("silver.*") == {"silver": None}  # every node of the step: as the job runs it
    assert daily.chosen("silver") == {"silver": None}
    assert daily.chosen("silver_checks") == {"silver_checks": None}
    assert daily.chosen("pagila_bronze.film*") == {
        "pagila_bronze.film": None,
        "pagila_bronze.film_actor": None,
        "pagila_bronze.film_category": None,
    }
    assert daily.chosen("br__pagila__public.actor") == {"pagila_bronze.actor": None}  # the bronze table
    assert daily.chosen("pagila_bronze") == {f"pagila_bronze.{t}": None for t in LOADS}
    assert daily.chosen("gold.dim_date") == {"gold": {"gold.dim_date", *DIM_DATE_TESTS}}


def test_methods(daily: Job) -> None:
    assert daily.chosen("tag:finance") == {"gold": {"gold.fact_payment", *FACT_PAYMENT_TESTS}}
    assert daily.chosen("layer:bronze") == {f"pagila_bronze.{t}": None for t in LOADS}
    assert daily.chosen("layer:silver") == {"silver": None}
    assert daily.chosen("source:pagila") == {f"pagila_bronze.{t}": None for t in LOADS}
    assert daily.chosen("source:br__pagila__public.rental") == {"pagila_bronze.rental": None}
    assert daily.chosen("path:transform/pagila/models/gold/dim_date.sql") == {
        "gold": {"gold.dim_date", *DIM_DATE_TESTS}
    }
    assert daily.chosen("path:models/gold/dim_date.sql") == daily.chosen("gold.dim_date")  # dbt's own path
    assert daily.chosen("path:config/checks") == {"silver_checks": None}
    assert daily.chosen("resource_type:checks") == {"silver_checks": None}
    assert daily.chosen("tag:finance,layer:gold") == daily.chosen("tag:finance")
    tagged_down = daily.chosen("tag:finance+")["gold"]
    assert (
        tagged_down is not None
        and {
            "gold.fact_payment",
            "gold.agg_monthly_revenue_by_store_category",
            "assert_revenue_aggregate_matches_fact_payment",
        }
        <= tagged_down
    )


def test_exclude_and_dependencies_through_left_out_steps(daily: Job) -> None:
    plan = daily.select("+gold.dim_date", exclude=("silver_checks",))
    # dim_date reads silver rental and payment; gold waited for silver_checks, which is left out
    assert [s.id for s in plan.steps] == [
        "pagila_bronze.payment",
        "pagila_bronze.rental",
        "silver",
        "gold",
    ]
    assert plan.step("gold").depends_on == ("silver",)
    without = daily.chosen("pagila_bronze", exclude=("source:br__pagila__public.film*",))
    assert set(without) == {f"pagila_bronze.{t}" for t in LOADS if not t.startswith("film")}


def test_empty_selections_are_errors_with_the_closest_names(daily: Job) -> None:
    with pytest.raises(NothingSelected, match=r"nothing in job pagila_daily matches silver\.custmer") as typo:
        daily.select("silver.custmer")
    assert "did you mean 'silver.customer'" in str(typo.value)
    with pytest.raises(NothingSelected, match=r"layer:platinum") as layer:
        daily.select("layer:platinum")
    assert "bronze" in str(layer.value) and "gold" in str(layer.value)
    with pytest.raises(NothingSelected, match="--exclude removed all of it"):
        daily.select("layer:bronze", exclude=("source:pagila",))
    with pytest.raises(NothingSelected, match="nothing in job pagila_daily matches tag:nope"):
        daily.select("silver", exclude=("tag:nope",))


def test_a_model_no_step_runs_is_named_as_such(root: Path) -> None:
    project = load_project(root)
    plan = compile_job(project, "pagila_daily")
    silver_only = Plan(
        plan.job, plan.mode, plan.max_parallelism, plan.continue_on_failure, plan.steps[:-1], plan.sla
    )
    graph = build_graph(project, silver_only)
    with pytest.raises(NothingSelected, match="matches only what job pagila_daily does not run"):
        select_plan(project, silver_only, ["gold.dim_date"], graph=graph)
    # upstream of it, the job does run something
    chosen = select_plan(project, silver_only, ["+gold.dim_date"], graph=graph)
    assert [s.id for s in chosen.steps][-1] == "silver"


def test_plan_cli_prints_the_steps_and_why(root: Path) -> None:
    shown = run(
        "-p", str(root), "plan", "job", "pagila_daily", "--select", "+silver.customer",
        env={"COLUMNS": "250"} | ENV,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "upstream of silver.customer (+silver.customer)" in shown.stdout
    assert "dbt step silver runs 9 node(s):" in shown.stdout
    assert "silver.customer  matches +silver.customer" in shown.stdout
    as_json = run("-p", str(root), "plan", "job", "pagila_daily", "-s", "tag:finance", "--json", env=ENV)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [s["id"] for s in data["steps"]] == ["gold"]
    assert data["selection"]["select"] == ["tag:finance"]
    labels = data["selection"]["labels"]
    gold = {labels[n] for n in data["selection"]["nodes"]["gold"]}
    assert gold == {"gold.fact_payment", *FACT_PAYMENT_TESTS}
    typo = run("-p", str(root), "plan", "job", "pagila_daily", "--select", "silver.custmer", env=ENV)
    assert typo.returncode == 2
    assert "did you mean 'silver.customer'" in typo.stderr
    assert "Traceback" not in typo.stderr


def test_resuming_a_selected_run_resumes_the_same_part(daily: Job, tmp_path: Path) -> None:
    from datakit.orchestrate.executor import Executor
    from datakit.orchestrate.run import plan_for_run
    from datakit.orchestrate.store import StateStore, StepStatus
    from datakit.orchestrate.store.sql import sqlite_url
    from tests.orchestrate.helpers import Recorder

    store = StateStore(sqlite_url(tmp_path / "state.db"))
    try:
        selected = daily.select("+silver.customer")
        failed = Executor(store, Recorder(terminal={"silver"}), sleep=lambda _: None).run(selected)
        assert failed.steps == {"pagila_bronze.customer": StepStatus.SUCCEEDED, "silver": StepStatus.FAILED}
        assert failed.resume_command == f"datakit run job pagila_daily --resume {failed.run_id}"
        again = plan_for_run(daily.project, "pagila_daily", None, failed.run_id, (), (), store)
        assert again == selected  # the stored plan, not the whole job
        resumed = Executor(store, Recorder(), sleep=lambda _: None).run(again, resume=failed.run_id)
        assert resumed.steps == {"pagila_bronze.customer": StepStatus.REUSED, "silver": StepStatus.SUCCEEDED}
    finally:
        store.close()


def test_selecting_while_a_run_holds_the_dbt_folder_parses_beside_it(daily: Job) -> None:
    import fcntl

    folder = daily.project.root / ".datakit" / "dbt" / "pagila" / "_default" / "local_duckdb"
    with (folder / ".lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a running dbt step does
        graph = build_graph(daily.project, daily.plan)
    assert (folder.parent / "local_duckdb__plan" / "target" / "manifest.json").is_file()
    assert set(graph.nodes) == set(daily.graph.nodes)
