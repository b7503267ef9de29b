"""`datakit prefect deploy` against a real Prefect server, and the Pagila job of tenant acme on PostgreSQL
as a Prefect flow, identical to a local run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from datakit.config import load_project
from datakit.orchestrate.run import run_job
from datakit.orchestrate.triggers import next_fire_time
from tests.integrations.airflow.projects import acme_full_job, shop_project
from tests.integrations.prefect.conftest import PrefectServer
from tests.integrations.prefect.test_prefect_flows import history, run_flow
from tests.pagila_project import copy_pagila_project
from tests.waits import wait_until

PARIS = """\
trigger:
  name: paris_nightly
  type: cron
  job: daily
  schedule: {cron: "45 1 * * *", timezone: Europe/Paris}
  tags: [nightly]
"""
REPORT = """\
job:
  name: report
  pipelines: [shop_bronze]
"""
AFTER_DAILY = """\
trigger:
  name: after_daily
  type: event
  job: report
  event: {type: job_succeeded, job: daily}
"""
HOOK = """\
trigger:
  name: report_hook
  type: webhook
  job: report
  webhook: {secret_key: shop_api_token}
"""


def deploy(server: PrefectServer, root: Path) -> Any:
    done = server.datakit("prefect", "deploy", "--json", cwd=root)
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout)


def deployments(server: PrefectServer, project: str) -> dict[str, Any]:
    found = server.post(
        "/deployments/filter", {"deployments": {"tags": {"all_": [f"datakit-project:{project}"]}}}
    )
    flows = {f["id"]: f["name"] for f in server.post("/flows/filter")}
    return {f"{flows[d['flow_id']]}/{d['name']}": d for d in found}


def test_deploy_schedules_triggers_and_prunes(prefect_server: PrefectServer, tmp_path: Path) -> None:
    root = shop_project(tmp_path / "shop")
    triggers = root / "config" / "triggers"
    (triggers / "daily_at_two.yaml").unlink()  # the scaffold's UTC cron: one schedule, in Paris time
    (triggers / "paris_nightly.yaml").write_text(PARIS)
    (root / "config" / "jobs" / "report.yaml").write_text(REPORT)
    (triggers / "after_daily.yaml").write_text(AFTER_DAILY)
    (triggers / "report_hook.yaml").write_text(HOOK)
    mapping = root / "config" / "secrets_mapping.yaml"
    mapping.write_text(mapping.read_text() + "  shop_api_token: {env_var: SHOP_API_TOKEN, required: false}\n")

    result = deploy(prefect_server, root)
    assert sorted(result["deployments"]) == ["datakit__daily/shop-dev", "datakit__report/shop-dev"]
    assert result["warnings"] == [
        "datakit__report: trigger 'report_hook' (webhook) is not deployed: start runs through Prefect's API "
        "(`prefect deployment run`), or let `datakit serve` receive the webhook"
    ]
    found = deployments(prefect_server, "shop")
    daily = found["datakit__daily/shop-dev"]
    assert daily["entrypoint"] == "datakit.integrations.prefect.entry.@daily"
    assert daily["parameters"] == {
        "project_root": str(root.resolve()),
        "environment": "dev",
        "full_refresh": False,
        "resume": None,
    }
    assert {"datakit", "datakit-project:shop", "datakit-env:dev", "nightly"} <= set(daily["tags"])
    assert [s["schedule"] for s in daily["schedules"]] == [
        {"cron": "45 1 * * *", "timezone": "Europe/Paris", "day_or": True}
    ]

    # the next scheduled run is the cron trigger's next firing as datakit computes it
    project = load_project(root, environment="dev")
    now = datetime.now(UTC)
    expected = next_fire_time(project.triggers["paris_nightly"], now)
    assert expected is not None

    def scheduled() -> list[Any]:
        return prefect_server.post(
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [daily["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                "sort": "EXPECTED_START_TIME_ASC",
            },
        )

    wait_until(lambda: bool(scheduled()), "the Prefect scheduler to schedule daily's runs")
    first = datetime.fromisoformat(scheduled()[0]["expected_start_time"])
    assert first == expected, (first, expected)

    # job_succeeded of daily is a deployment trigger (an automation) of report
    automations = prefect_server.post("/automations/filter")
    (after,) = [a for a in automations if a["name"].startswith("after_daily")]
    assert after["trigger"]["expect"] == ["prefect.flow-run.Completed"]
    assert after["trigger"]["match_related"] == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "datakit__daily",
    }
    assert after["actions"][0]["deployment_id"] == found["datakit__report/shop-dev"]["id"]

    # a job removed from the YAML loses its deployment; another project's are never touched
    other = shop_project(tmp_path / "other" / "shop")
    (other / "datakit.yaml").write_text(
        (other / "datakit.yaml").read_text().replace("name: shop", "name: other")
    )
    assert list(deploy(prefect_server, other)["deployments"]) == ["datakit__daily/other-dev"]
    (root / "config" / "jobs" / "report.yaml").unlink()
    for name in ("after_daily.yaml", "report_hook.yaml"):
        (triggers / name).unlink()
    result = deploy(prefect_server, root)
    assert result["removed"] == ["datakit__report/shop-dev"]
    assert sorted(deployments(prefect_server, "shop")) == ["datakit__daily/shop-dev"]
    assert sorted(deployments(prefect_server, "other")) == ["datakit__daily/other-dev"]


@pytest.mark.postgres
def test_pagila_for_acme_on_postgres_matches_the_local_run(
    prefect_server: PrefectServer, tmp_path: Path, pagila_dsn: str, pg_dsn: str
) -> None:
    from tests.integrations.airflow.conftest import postgres_fingerprint
    from tests.pagila_project import pagila_env, scratch_database

    with scratch_database(pg_dsn) as prefect_dsn, scratch_database(pg_dsn) as local_dsn:
        root = copy_pagila_project(tmp_path / "prefect")
        acme_full_job(root)
        outcome = run_flow(
            prefect_server,
            root,
            "acme_full",
            "--warehouse",
            "acme",
            extra=pagila_env(pagila_dsn, prefect_dsn),
        )
        assert outcome["ok"], outcome
        run = history(root, outcome["run_id"])
        assert (run["engine"], run["warehouse"], run["status"]) == ("prefect", "acme", "succeeded")
        tasks = prefect_server.flow_run_task_runs(outcome["flow_run_id"])
        assert {s["step_id"] for s in run["steps"]} == set(tasks)
        assert all(t["state_type"] == "COMPLETED" for t in tasks.values())
        assert tasks["gold"]["task_inputs"]["wait_for"][0]["id"] == tasks["silver_checks"]["id"]

        local = copy_pagila_project(tmp_path / "local")
        acme_full_job(local)
        with pytest.MonkeyPatch.context() as patch:
            for key, value in pagila_env(pagila_dsn, local_dsn).items():
                patch.setenv(key, value)
            assert run_job(load_project(local, environment="dev"), "acme_full", warehouse="acme").ok
        in_prefect = postgres_fingerprint(prefect_dsn, prefix="acme_")
        in_local = postgres_fingerprint(local_dsn, prefix="acme_")
    assert sorted(t for t in {*in_prefect, *in_local} if in_prefect.get(t) != in_local.get(t)) == []
    assert in_prefect["acme_br__pagila__public.payment"][0] > 10_000


def test_deploying_again_writes_only_the_deployments_that_changed(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    root = shop_project(tmp_path / "again")
    (root / "datakit.yaml").write_text(
        (root / "datakit.yaml").read_text().replace("name: shop", "name: again")
    )
    (root / "config" / "jobs" / "report.yaml").write_text(REPORT)
    assert sorted(deploy(prefect_server, root)["deployments"]) == [
        "datakit__daily/again-dev",
        "datakit__report/again-dev",
    ]
    first = deployments(prefect_server, "again")

    deploy(prefect_server, root)  # nothing changed: nothing is written
    assert {name: d["updated"] for name, d in deployments(prefect_server, "again").items()} == {
        name: d["updated"] for name, d in first.items()
    }

    trigger = root / "config" / "triggers" / "daily_at_two.yaml"
    trigger.write_text(trigger.read_text().replace('"0 2 * * *"', '"30 3 * * *"'))
    deploy(prefect_server, root)
    found = deployments(prefect_server, "again")
    daily, report = found["datakit__daily/again-dev"], found["datakit__report/again-dev"]
    assert [s["schedule"]["cron"] for s in daily["schedules"]] == ["30 3 * * *"]
    assert daily["updated"] != first["datakit__daily/again-dev"]["updated"]
    assert report["updated"] == first["datakit__report/again-dev"]["updated"]
