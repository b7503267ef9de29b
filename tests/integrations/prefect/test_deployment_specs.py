"""What `datakit prefect deploy` would create, on a stranger's project (examples/jaffle_shop, tenants acme
and globex) — plain data, no Prefect server — and the entry module a Prefect runner imports flows from."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.integrations.prefect.deployments import CronSpec, IntervalSpec, deployment_specs
from tests.conftest import EXAMPLES

GLOBEX_SCHEDULE = "  schedules:\n    nightly: {cron: '30 4 * * 1-5', timezone: America/New_York}\n"
TRIGGERS = {
    "hourly.yaml": "trigger: {name: hourly, type: interval, job: jaffle_daily, schedule: "
    "{every: 1h, start_at: '2026-01-01T00:15:00Z', catchup: true}}\n",
    "drops.yaml": "trigger: {name: drops, type: event, job: jaffle_daily, "
    "event: {type: file_arrived, path: inbox}}\n",
}


@pytest.fixture
def jaffle(tmp_path: Path) -> Path:
    root = tmp_path / "jaffle_shop"
    shutil.copytree(EXAMPLES / "jaffle_shop", root, ignore=shutil.ignore_patterns("*.duckdb", ".datakit"))
    globex = root / "config/warehouses/globex.yaml"
    globex.write_text(globex.read_text() + GLOBEX_SCHEDULE)
    for name, text in TRIGGERS.items():
        (root / "config/triggers" / name).write_text(text)
    return root


def test_one_deployment_per_warehouse_and_job_with_the_tenants_schedules(jaffle: Path) -> None:
    project = load_project(jaffle, environment="dev")
    specs = {spec.full_name: spec for spec in deployment_specs(project)}
    assert sorted(specs) == [
        "datakit__acme__jaffle_daily/jaffle_shop-dev",
        "datakit__globex__jaffle_daily/jaffle_shop-dev",
        "datakit__jaffle_daily/jaffle_shop-dev",  # the project itself runs it too (as Airflow compiles it)
    ]
    acme = specs["datakit__acme__jaffle_daily/jaffle_shop-dev"]
    globex = specs["datakit__globex__jaffle_daily/jaffle_shop-dev"]
    assert acme.crons == (CronSpec("0 3 * * *", "UTC"),)
    assert globex.crons == (CronSpec("30 4 * * 1-5", "America/New_York"),)  # its `schedules:` override
    assert acme.intervals == (IntervalSpec(3600.0, "2026-01-01T00:15:00+00:00"),)
    assert acme.entrypoint == "datakit.integrations.prefect.entry.acme@jaffle_daily"
    assert acme.parameters == {
        "project_root": str(jaffle.resolve()),
        "environment": "dev",
        "full_refresh": False,
        "resume": None,
    }
    assert acme.tags[:4] == ("datakit", "datakit-project:jaffle_shop", "datakit-env:dev", "acme")
    assert [w.split(": ", 1)[1] for w in acme.warnings] == [
        "trigger 'drops' (file_arrived) is not deployed: let `datakit serve` watch the folder, or start "
        "runs from a Prefect automation of your own",
        "trigger 'hourly': catchup/max_catchup have no Prefect equivalent (a runner that was down runs "
        "every late run when it returns)",
    ]


def test_the_entry_module_makes_the_flow_a_deployment_names(jaffle: Path) -> None:
    pytest.importorskip("prefect", reason="Prefect is not installed (pip install -e '.[prefect]')")
    from datakit.integrations.prefect import entry

    made = entry.__getattr__("globex@jaffle_daily")
    assert made.name == "datakit__globex__jaffle_daily"
    assert entry.__getattr__("@daily").name == "datakit__daily"
    assert sorted(made.parameters.properties) == [
        "backfill_chunk",
        "backfill_end",
        "backfill_max_parallelism",
        "backfill_start",
        "confirm_full_refresh",
        "environment",
        "exclude",
        "full_refresh",
        "project_root",
        "resume",
        "select",
    ]
    with pytest.raises(AttributeError):
        entry.__getattr__("no_separator")


def test_a_selection_given_to_deploy_is_each_deployments_parameter_and_a_bad_one_is_refused_first(
    jaffle: Path,
) -> None:
    from datakit.errors import UsageError
    from datakit.integrations.prefect.plans import check_plans, options
    from datakit.orchestrate.selection import selected_job

    project = load_project(jaffle)
    chosen = options(["+stg_orders"], ["tag:slow"])
    specs = deployment_specs(project, warehouse="acme", chosen=chosen)
    assert specs and all(s.parameters["select"] == ["+stg_orders"] for s in specs)
    assert all(s.parameters["exclude"] == ["tag:slow"] for s in specs)
    assert "select" not in deployment_specs(project, warehouse="acme")[0].parameters  # none: the whole job

    with pytest.raises(UsageError) as cli:
        selected_job(project, specs[0].job, "acme", ["tagg:x"], [])
    with pytest.raises(UsageError) as deploy:
        check_plans(project, [(s.warehouse, s.job) for s in specs], options(["tagg:x"]))
    assert deploy.value.message == cli.value.message and deploy.value.hint == cli.value.hint


def test_deploy_applies_again_after_a_busy_answer_or_a_timeout_but_not_after_a_refusal() -> None:
    httpx = pytest.importorskip("httpx")
    from prefect.deployments.runner import DeploymentApplyError

    from datakit.integrations.prefect.deploy import server_busy

    def applying(cause: BaseException | None, message: str = "Error applying deployment: ") -> Exception:
        try:
            raise DeploymentApplyError(message) from cause
        except DeploymentApplyError as exc:
            return exc

    request = httpx.Request("POST", "http://127.0.0.1:4200/api/deployments/")
    timeout = httpx.ReadTimeout("timed out", request=request)
    assert server_busy(timeout) and server_busy(applying(timeout))  # a loaded machine: send it again
    assert server_busy(applying(None, "Error applying deployment: 503 Service Unavailable"))
    refused = applying(None, "Error applying deployment: 422 Unprocessable Entity: bad schedule")
    assert not server_busy(refused) and not server_busy(ValueError("503"))


def test_deploy_sends_a_request_again_on_the_answers_prefects_client_retries() -> None:
    httpx = pytest.importorskip("httpx")
    from prefect.exceptions import PrefectHTTPStatusError

    from datakit.integrations.prefect.deploy import _pause, server_busy

    def answered(status: int, headers: dict[str, str] | None = None) -> PrefectHTTPStatusError:
        request = httpx.Request("POST", "http://127.0.0.1:4200/api/deployments/")
        response = httpx.Response(status, request=request, headers=headers)
        error = httpx.HTTPStatusError(f"{status}", request=request, response=response)
        return PrefectHTTPStatusError.from_httpx_error(error)

    assert all(server_busy(answered(status)) for status in (408, 429, 502, 503))
    assert not server_busy(answered(422)) and not server_busy(answered(404))
    assert _pause(answered(429, {"Retry-After": "3"}), 1) == 3.0  # the server's word
    assert [_pause(answered(503), n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]  # a lock is soon free
    assert _pause(answered(503), 10) == 2.0  # but may last: the pause stops growing


def test_deploy_waits_out_a_busy_server_and_gives_up_only_after_its_patience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    httpx = pytest.importorskip("httpx")
    from prefect.exceptions import PrefectHTTPStatusError

    from datakit.integrations.prefect import deploy

    request = httpx.Request("POST", "http://127.0.0.1:4200/api/deployments/")
    response = httpx.Response(503, request=request)
    busy = PrefectHTTPStatusError.from_httpx_error(
        httpx.HTTPStatusError("503", request=request, response=response)
    )
    monkeypatch.setattr(deploy, "_pause", lambda *_: 0.0)
    answers: list[int] = []

    async def send() -> str:
        answers.append(len(answers))
        if len(answers) < 30:  # more than a count of retries would have allowed
            raise busy
        return "created"

    assert asyncio.run(deploy._again(send)) == "created" and len(answers) == 30

    async def refused() -> str:
        answers.append(-1)
        raise ValueError("422: a bad schedule")

    answers.clear()
    with pytest.raises(ValueError, match="a bad schedule"):
        asyncio.run(deploy._again(refused))
    assert answers == [-1]  # a refusal is not sent again

    monkeypatch.setattr(deploy, "BUSY_PATIENCE", 0.0)  # out of patience: the busy answer is raised
    answers.clear()
    with pytest.raises(PrefectHTTPStatusError):
        asyncio.run(deploy._again(send))
    assert len(answers) == 1
