"""`datakit validate` on broken input, end to end in subprocesses: exit codes, stderr, JSON, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGILA = REPO / "examples" / "pagila"
SEED = REPO / "tests" / "fixtures" / "seed002"
ENTRY = "from datakit.cli.app import main; main()"

# One defect in each of three files; the CLI must report all three, sorted by file.
EDITS = {
    "config/pipelines/pagila_bronze_pg.yaml": ("    name: pagila\n", "    name: pagilla\n"),
    "config/destinations/warehouse_pg.yaml": ("port: 5432", "port: 99999"),
    "config/jobs/pagila_hourly.yaml": ("mode: dag", "mode: dga"),
}
EXPECTED_PROBLEMS = [
    {
        "severity": "error",
        "file": "config/destinations/warehouse_pg.yaml",
        "line": 8,
        "column": 11,
        "kind": "destination",
        "field": "connection.port",
        "message": "input should be less than or equal to 65535 (got 99999)",
        "suggestion": None,
    },
    {
        "severity": "error",
        "file": "config/jobs/pagila_hourly.yaml",
        "line": 7,
        "column": 11,
        "kind": "job",
        "field": "execution.mode",
        "message": "invalid value 'dga': expected one of 'sequential', 'parallel', 'dag'",
        "suggestion": "did you mean 'dag'?",
    },
    {
        "severity": "error",
        "file": "config/pipelines/pagila_bronze_pg.yaml",
        "line": 5,
        "column": 11,
        "kind": "pipeline",
        "field": "source.name",
        "message": "unknown source 'pagilla'",
        "suggestion": "did you mean 'pagila'?",
    },
]
EXPECTED_LINES = [
    "config/destinations/warehouse_pg.yaml:8:11: destination.connection.port: "
    "input should be less than or equal to 65535 (got 99999)",
    "config/jobs/pagila_hourly.yaml:7:11: job.execution.mode: "
    "invalid value 'dga': expected one of 'sequential', 'parallel', 'dag' — did you mean 'dag'?",
    "config/pipelines/pagila_bronze_pg.yaml:5:11: pipeline.source.name: "
    "unknown source 'pagilla' — did you mean 'pagila'?",
]


def datakit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as users do, with a clean environment (no ENVIRONMENT, no colours, no secrets)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ENVIRONMENT", "FORCE_COLOR", "COLUMNS"}
        and not k.startswith(("DATAKIT_", "MY_API_TOKEN", "PAGILA_", "WAREHOUSE_"))
    }
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        env={**base, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The Pagila project with one defect in each of three files."""
    root = shutil.copytree(PAGILA, tmp_path / "project")
    for relative, (old, new) in EDITS.items():
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1
        path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def test_invalid_project_exits_1_with_every_problem_on_stderr(broken: Path) -> None:
    result = datakit("validate", cwd=broken)
    assert result.returncode == 1
    assert result.stderr.splitlines() == EXPECTED_LINES
    assert result.stdout == "✗ 3 problems found\n"
    assert_no_traceback(result)


def test_project_option_paths_are_relative_to_the_working_directory(broken: Path) -> None:
    result = datakit("validate", "-p", "project", cwd=broken.parent)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"project/{line}" for line in EXPECTED_LINES]
    assert_no_traceback(result)


def test_project_option_before_the_command(broken: Path) -> None:
    result = datakit("--project", str(broken), "validate", cwd=broken.parent)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"project/{line}" for line in EXPECTED_LINES]


def test_unreadable_yaml_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    root = shutil.copytree(PAGILA, tmp_path / "project")
    (root / "config" / "jobs" / "pagila_daily.yaml").write_bytes(b"job:\n  name: \xff\xfe\n  pipelines: [a\n")
    (root / "config" / "triggers" / "pagila_hourly.yaml").write_text(
        "trigger:\n\tname: x\n", encoding="utf-8"
    )
    result = datakit("validate", cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "config/jobs/pagila_daily.yaml:2:9: file is not valid UTF-8 (invalid start byte)",
        "config/triggers/pagila_hourly.yaml:2:1: "
        "tab character in indentation; YAML indents with spaces only — replace the tab with spaces",
    ]
    assert result.stdout == "✗ 2 problems found\n"
    assert_no_traceback(result)


def test_json_lists_problems_with_file_line_and_column(broken: Path) -> None:
    result = datakit("validate", "--json", cwd=broken)
    assert result.returncode == 1
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["project"] == "pagila"
    assert report["environment"] == "dev"
    problems = report["problems"]
    assert [p.pop("text") for p in problems] == EXPECTED_LINES
    assert problems == EXPECTED_PROBLEMS


def test_json_of_a_valid_project(tmp_path: Path) -> None:
    root = shutil.copytree(PAGILA, tmp_path / "project")
    result = datakit("validate", "--json", cwd=root)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report == {
        "valid": True,
        "project": "pagila",
        "environment": "dev",
        "counts": {
            "source": 1,
            "destination": 2,
            "pipeline": 3,
            "job": 3,
            "trigger": 3,
            "warehouse": 2,
            "checks": 1,
            "target": 0,
        },
        "problems": [],
    }


def test_check_secrets_reports_the_unset_variable(tmp_path: Path) -> None:
    root = shutil.copytree(SEED, tmp_path / "seed")  # config/ only: found through --project, not upwards
    missing = datakit("validate", "--check-secrets", "-p", ".", cwd=root)
    assert missing.returncode == 1
    assert [line for line in missing.stderr.splitlines() if "warning:" not in line] == [
        "config/secrets_mapping.yaml:2:3: secrets.my_api_token: required secret is not set: "
        "environment variable MY_API_TOKEN_DEV is not set (ENVIRONMENT=dev)"
    ]
    assert_no_traceback(missing)
    present = datakit("validate", "--check-secrets", "-p", ".", cwd=root, env={"MY_API_TOKEN_DEV": "token"})
    assert present.returncode == 0, present.stderr
    # a weak value (short, a common word) is warned about, by key, and never shown as a word of its own
    assert (
        "secret 'my_api_token' (MY_API_TOKEN_DEV) is weak: it is shorter than 8 characters" in present.stderr
    )
    assert not re.search(r"(?<!\w)token(?!\w)", present.stdout + present.stderr)


def test_debug_on_an_invalid_project_still_exits_1(broken: Path) -> None:
    result = datakit("--debug", "validate", cwd=broken)
    assert result.returncode == 1
    assert result.stderr.splitlines() == EXPECTED_LINES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "--bogus"], "No such option: --bogus"),
        (["--json", "validate"], "No such option: --json"),
        (["validate", "--env"], "Option '--env' requires an argument."),
        (["valdate"], "No such command 'valdate'."),
    ],
)
def test_bad_command_line_exits_2(args: list[str], message: str, broken: Path) -> None:
    result = datakit(*args, cwd=broken)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)


def test_no_project_found_exits_2_with_the_hint(tmp_path: Path) -> None:
    result = datakit("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: no datakit.yaml found in {tmp_path.resolve()} or any parent directory",
        "  hint: run inside a datakit project, pass --project DIR, or create one with `datakit init DIR`",
    ]
    assert result.stdout == ""
    assert_no_traceback(result)


def test_project_option_naming_no_project_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    missing = datakit("validate", "-p", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == ["error: project directory nowhere does not exist"]
    empty = datakit("validate", "-p", "empty", cwd=tmp_path)
    assert empty.returncode == 2
    assert empty.stderr.splitlines() == [
        "error: empty is not a datakit project (no datakit.yaml and no config/ folder)",
        "  hint: create one with `datakit init DIR`",
    ]


def test_unknown_environment_exits_2(broken: Path) -> None:
    result = datakit("validate", "--env", "prd", cwd=broken)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: unknown environment 'prd' (from --env)",
        "  hint: did you mean 'prod'?",
    ]
    from_variable = datakit("validate", cwd=broken, env={"ENVIRONMENT": "production"})
    assert from_variable.returncode == 2
    assert from_variable.stderr.splitlines() == [
        "error: unknown environment 'production' (from $ENVIRONMENT)",
        "  hint: use one of: dev, stage, prod",
    ]
