"""A full refresh in prod under Prefect, against a real Prefect server: `datakit prefect run job
--full-refresh` is refused without `--yes` (before any flow run starts), and so is a flow run started
some other way (Prefect's UI or API) without the flow's `confirm_full_refresh`; with it, it runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integrations.airflow.projects import shop_project
from tests.integrations.prefect.conftest import PrefectServer
from tests.integrations.prefect.test_prefect_flows import history, run_flow

PROD = {"ENVIRONMENT": "prod"}
FLOW_RUN = """\
import json, sys
from datakit.integrations.prefect.flows import job_flow
state = job_flow(None, "daily")(
    project_root=sys.argv[1], environment="prod", full_refresh=True,
    confirm_full_refresh=sys.argv[2] == "yes", return_state=True,
)
failure = state.result(raise_on_failure=False)
message = str(failure) if isinstance(failure, BaseException) else ""
print(json.dumps({"state": state.type.value, "message": message}))
"""
"""A flow run as Prefect's UI or API starts one: the flow called with its parameters, no CLI in front."""


def _flow_runs(server: PrefectServer) -> set[str]:
    """The ids of job `daily`'s flow runs (the server is shared by this worker's tests: compare sets)."""
    found = server.post("/flow_runs/filter", {"flows": {"name": {"any_": ["datakit__daily"]}}})
    return {str(run["id"]) for run in found}


def test_a_full_refresh_in_prod_needs_yes_or_the_flows_confirmation(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    root = shop_project(tmp_path / "shop")
    before = _flow_runs(prefect_server)

    refused = prefect_server.datakit("prefect", "run", "job", "daily", "--full-refresh", cwd=root, extra=PROD)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refused without confirmation" in refused.stderr and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _flow_runs(prefect_server) == before  # refused before any flow run

    direct = subprocess.run(
        [sys.executable, "-c", FLOW_RUN, str(root), "no"],
        env=prefect_server.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    outcome = json.loads(direct.stdout.strip().splitlines()[-1])
    assert outcome["state"] == "FAILED", direct.stderr
    assert "refused without confirmation" in outcome["message"]
    assert "confirm_full_refresh" in outcome["message"]

    done = run_flow(prefect_server, root, "daily", "--full-refresh", "--yes", extra=PROD)
    assert done["ok"] and done["status"] == "succeeded", done
    assert {s["status"] for s in history(root, done["run_id"])["steps"]} == {"succeeded"}
    parameters = prefect_server.get(f"/flow_runs/{done['flow_run_id']}")["parameters"]
    assert parameters["full_refresh"] is True and parameters["confirm_full_refresh"] is True
