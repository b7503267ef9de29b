"""A killed run leaves no writer behind, and a resume loads every row exactly once (issue 14, item 1).

`datakit run job` appends a big table (and a small one) into DuckDB or PostgreSQL; its whole process
group is killed with SIGKILL at a random instant, then the run is resumed (or, if it died before it was
recorded, run again). Afterwards the targets hold every source row exactly once, and no process of the
killed run was alive soon after the kill (its processes are found by a tag in their environment). The
default suite kills twice while the big table loads, on a smaller table; `-m slow` kills 20 times
anywhere in the run, on a million rows, and holds the run to "nothing alive 1 s after the kill".

Independently of the kill, a resume asks the destination: a load that committed although the run never
recorded it (the state store is made to forget it) is not loaded again, and is reported from the
destination's record.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.orchestrate.append_project import SMALL, AppendProject, append_project
from tests.orchestrate.processes import new_tag, seconds_until_gone
from tests.pagila_project import scratch_database

pytestmark = pytest.mark.postgres
KINDS = ["duckdb", "postgres"]


@pytest.fixture(scope="module")
def kill_dsn(pg_dsn: str) -> Iterator[str]:
    """A database of this module's own: sources and PostgreSQL targets (and its `_datakit`)."""
    with scratch_database(pg_dsn) as dsn:
        yield dsn


def start(
    project: AppendProject, *args: str, env: dict[str, str] | None = None, log: Path
) -> subprocess.Popen[bytes]:
    """`datakit ARGS` in the project, leading a process group of its own (as a shell's job does)."""
    base = {k: v for k, v in (env or os.environ).items() if k != "ENVIRONMENT"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "datakit", *args],
            cwd=project.root,
            env=base | project.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def datakit(project: AppendProject, *args: str) -> str:
    """Run `datakit ARGS` to its end; its output (the test fails if it failed)."""
    log = project.root / f"datakit-{time.monotonic_ns()}.log"
    code = start(project, *args, log=log).wait()
    output = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"datakit {' '.join(args)} exited {code}:\n{output[-4000:]}"
    return output


def expected(project: AppendProject) -> dict[str, tuple[int, int]]:
    return {"small": (SMALL, SMALL), "big": (project.rows, project.rows)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_resume_does_not_load_again_what_the_destination_committed(
    tmp_path: Path, kill_dsn: str, kind: str
) -> None:
    project = append_project(tmp_path / "project", kill_dsn, kind, rows=5_000)
    datakit(project, "run", "job", "j")
    # killed after the big load committed, before the state store recorded it
    project.forget_success(1, "kb.big")

    resumed = json.loads(datakit(project, "run", "job", "j", "--resume", "1", "--json"))
    assert resumed["steps"] == {"kb.small": "reused", "kb.big": "succeeded"}
    assert project.counts() == expected(project)
    shown = json.loads(datakit(project, "runs", "show", "2", "--json"))
    (big,) = [s for s in shown["steps"] if s["step_id"] == "kb.big"]
    assert (big["rows_read"], big["rows_loaded"], big["rows_rejected"]) == (5_000, 5_000, 0)
    assert big["details"]["loaded_by_run"].startswith("1-")
    records = project.query(
        "SELECT run_id, step_id, rows_loaded FROM _datakit.loads WHERE status = 'succeeded' "
        f"AND target LIKE '%{project.source_schema}%' ORDER BY started_at"
    )
    assert [(run.split("-")[0], step, rows) for run, step, rows in records] == [
        ("1", "kb.small", SMALL),
        ("1", "kb.big", 5_000),
    ]


def wait_for_step(project: AppendProject, step: str, cli: subprocess.Popen[bytes]) -> None:
    """Until the run says `step` is running (the test fails if the run ends first)."""
    deadline = time.monotonic() + 300
    while project.step_status(step) != "running":
        assert cli.poll() is None, f"the run ended before {step} started"
        assert time.monotonic() < deadline, f"{step} did not start"
        time.sleep(0.01)


def full_run(project: AppendProject) -> float:
    """Seconds a whole run takes here, on fresh targets (which then hold every row once)."""
    project.reset_targets()
    began = time.monotonic()
    datakit(project, "run", "job", "j")
    took = time.monotonic() - began
    assert project.counts() == expected(project)
    return took


def kill_and_resume(project: AppendProject, kills: int, *, in_big_load: bool = False) -> list[float]:
    """`kills` times: a fresh target, the job killed (its process group) at a random instant of it — or,
    `in_big_load`, of the big table's load — then resumed; the targets hold each row once every time.
    A kill that comes after the run ended does not count. The seconds from each kill until no process
    of the run was left."""
    whole = min(full_run(project) for _ in range(2))  # the kills fall inside a run
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    quiet: list[float] = []
    outcomes: list[str] = []
    for attempt in range(3 * kills):
        if len(quiet) == kills:
            break
        project.reset_targets()
        before = project.last_run()
        env = new_tag()
        cli = start(project, "run", "job", "j", env=env, log=project.root / f"killed-{attempt}.log")
        if in_big_load:
            wait_for_step(project, "kb.big", cli)
        delay = rng.uniform(0.0, 0.5 if in_big_load else whole)
        time.sleep(delay)  # the random instant of the kill, not a wait for an outcome
        killed = time.monotonic()
        with suppress(ProcessLookupError):  # the run may have ended already
            os.killpg(cli.pid, signal.SIGKILL)
        code = cli.wait()
        gone = seconds_until_gone(env, killed)
        last = project.last_run()
        log = (project.root / f"killed-{attempt}.log").read_text(errors="replace")
        assert code in (0, -signal.SIGKILL), f"the run failed by itself ({code}):\n{log[-3000:]}"
        if code == 0:
            outcomes.append("missed: the run had ended")
        elif last is None or last == before:
            outcomes.append("before the run")  # killed before the run was recorded: run it again
            datakit(project, "run", "job", "j")
        elif last[1] == "succeeded":
            outcomes.append("after the run")  # killed while exiting: the run had committed its end
        else:
            outcomes.append("resumed")
            datakit(project, "run", "job", "j", "--resume", str(last[0]))
        if code == -signal.SIGKILL:
            quiet.append(gone)
        assert project.counts() == expected(project), f"seed {seed}, attempt {attempt}, kill at {delay:.2f}s"
    assert len(quiet) == kills, f"seed {seed}: only {len(quiet)} of {3 * kills} kills hit a running job"
    print(
        f"\n{project.kind}: {kills} kills (seed {seed}, a run takes {whole:.1f}s): {outcomes}\n"
        f"kill_to_quiet_max_seconds: {max(quiet):.3f}\n"
        f"kill_to_quiet_median_seconds: {sorted(quiet)[len(quiet) // 2]:.3f}"
    )
    return quiet


@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_then_resume_loads_every_row_once(tmp_path: Path, kill_dsn: str, kind: str) -> None:
    project = append_project(tmp_path / "project", kill_dsn, kind, rows=100_000)
    kill_and_resume(project, kills=2, in_big_load=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_twenty_times_then_resume_loads_a_million_rows_once(
    tmp_path: Path, kill_dsn: str, kind: str
) -> None:
    project = append_project(tmp_path / "project", kill_dsn, kind, rows=1_000_000)
    quiet = kill_and_resume(project, kills=20)
    assert max(quiet) <= 1.0, f"a process of a killed run lived {max(quiet):.2f}s after the kill"
