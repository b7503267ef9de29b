"""The systemd unit of `datakit serve` passes `systemd-analyze verify`.

The unit names where a real install puts things (/opt/datakit/venv, /srv/datakit/project); the test writes
a copy pointing at this checkout's `datakit` and a scratch project folder, since verify checks that the
command exists. verify exits 0 even for a bad value or an unknown key (it only prints them), so the test
also requires that it said nothing about the unit — and shows, with a broken copy, that it would.
"""

from __future__ import annotations

from pathlib import Path

from tests.deploy.tools import DEPLOY, datakit_command, run, tool

UNIT = DEPLOY / "systemd" / "datakit-serve.service"


def _installed_copy(tmp_path: Path, *, change: tuple[str, str] | None = None) -> Path:
    datakit = datakit_command()
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    text = UNIT.read_text(encoding="utf-8")
    assert "/opt/datakit/venv/bin/datakit" in text and "/srv/datakit/project" in text
    text = text.replace("/opt/datakit/venv/bin/datakit", datakit).replace(
        "/srv/datakit/project", str(project)
    )
    if change is not None:
        assert change[0] in text
        text = text.replace(*change)
    unit = tmp_path / ("broken" if change else "ok") / UNIT.name
    unit.parent.mkdir()
    unit.write_text(text, encoding="utf-8")
    return unit


def _verify(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says about `unit` (it must also exit 0)."""
    done = run([tool("systemd-analyze"), "verify", str(unit)], cwd=unit.parent)
    said = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    return [f"exit {done.returncode}", *said] if done.returncode != 0 else said


def test_the_unit_verifies_cleanly(tmp_path: Path) -> None:
    assert _verify(_installed_copy(tmp_path)) == []


def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    said = _verify(_installed_copy(tmp_path, change=("KillMode=mixed", "KillMode=mixd")))
    assert any("kill mode" in line for line in said), said


def test_serve_stops_gracefully_on_loopback() -> None:
    """SIGTERM to serve alone (KillMode=mixed) with time for its --grace; the pages stay on loopback."""
    text = UNIT.read_text(encoding="utf-8")
    assert "KillMode=mixed" in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert "--host 127.0.0.1" in exec_start and "--grace 30" in exec_start
    stop = int(next(line for line in text.splitlines() if line.startswith("TimeoutStopSec=")).split("=")[1])
    assert stop > 30
