"""Every shell script of deploy/bin passes shellcheck (following what each one sources)."""

from __future__ import annotations

from tests.deploy.tools import DEPLOY, run, tool


def test_every_script_in_deploy_bin_passes_shellcheck() -> None:
    scripts = sorted(path for path in (DEPLOY / "bin").iterdir() if path.is_file())
    assert {path.name for path in scripts} >= {
        "create-databases",
        "platform-common.sh",
        "platform-up",
        "platform-down",
        "integration-tests",
        "airflow-init",
    }
    done = run([tool("shellcheck"), "--external-sources", *map(str, scripts)], cwd=DEPLOY / "bin")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scripts_stop_at_the_first_error_and_are_executable() -> None:
    for path in (DEPLOY / "bin").iterdir():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".sh":  # sourced: the caller's `set -eu` applies
            assert "set -e" not in text, path
            continue
        assert text.startswith("#!/bin/sh\n"), f"{path.name}: POSIX sh, like the others"
        assert "\nset -eu\n" in text, f"{path.name}: no `set -eu`"
        assert path.stat().st_mode & 0o111, f"{path.name} is not executable"
