"""`datakit runs prune` as a user runs it: the project's retention (and a job's own), or --older-than and
--keep; a dry run; what it prints; and a resume chain that a prune keeps whole, so that a later resume
still loads every row exactly once — on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datakit.config.scaffold import init_project
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.sql import sqlite_url
from tests.cli.test_cli import run
from tests.orchestrate.append_project import append_project
from tests.orchestrate.test_exactly_once import datakit, expected
from tests.pagila_project import scratch_database

DAY = 86400.0
RETENTION = "retention:\n  max_age: 30d\n  max_runs: 3\n"
AUDITED_JOB = "job:\n  name: audited\n  pipelines: [shop_bronze]\n  retention: {max_runs: null}\n"


def _shop(tmp_path: Path) -> tuple[Path, StateStore]:
    """The scaffold with a retention of 3 runs a job (30 days), job `audited` keeping every run, and a
    history: 5 runs of `daily`, 5 of `audited`, 2 of `daily` for tenant acme — the first 40 days old."""
    root = tmp_path / "shop"
    init_project(root)
    with (root / "datakit.yaml").open("a", encoding="utf-8") as project:
        project.write(RETENTION)
    (root / "config" / "jobs" / "audited.yaml").write_text(AUDITED_JOB, encoding="utf-8")
    (root / ".datakit").mkdir()
    now = time.time()
    store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
    for job, warehouse, count in (("daily", None, 5), ("audited", None, 5), ("daily", "acme", 2)):
        for index in range(count):
            store.clock = lambda index=index: now - (40 * DAY if index == 0 else 0)
            run_id = store.start_run(job, "{}", warehouse=warehouse, allow_concurrent=True)
            store.add_steps(run_id, ["shop_bronze.orders"])
            store.attempt_started(run_id, "shop_bronze.orders", 1)
            store.attempt_finished(run_id, "shop_bronze.orders", 1, log="loaded\n" * 50)
            store.finish_run(run_id, RunStatus.SUCCEEDED)
    store.clock = time.time
    return root, store


def _ids(store: StateStore, job: str) -> list[int]:
    return sorted(r.id for r in store.list_runs(job=job, limit=1000))


def test_prune_applies_the_projects_retention_and_a_jobs_own(tmp_path: Path) -> None:
    root, store = _shop(tmp_path)
    daily, audited = _ids(store, "daily"), _ids(store, "audited")

    dry = run("runs", "prune", "--dry-run", cwd=root, env={"COLUMNS": "200"})
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: would remove 4 run(s) (4 steps, 4 attempts, 1.4 KB of logs)," in dry.stdout
    assert _ids(store, "daily") == daily  # nothing removed yet

    done = run("runs", "prune", "--json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    acme = daily[5:]
    assert [(r["id"], r["job"], r["warehouse"], r["reason"]) for r in report["runs"]] == [
        (daily[0], "daily", None, "older than max_age"),
        (daily[1], "daily", None, "beyond max_runs"),  # the newest 3 stay
        (audited[0], "audited", None, "older than max_age"),  # its own max_runs is off, not max_age
        (acme[0], "daily", "acme", "older than max_age"),  # acme's newest stays
    ]
    assert report["removed"] == {"runs": 4, "steps": 4, "attempts": 4, "log_bytes": 4 * 350}
    assert report["store_bytes_after"] <= report["store_bytes_before"]
    assert _ids(store, "audited") == audited[1:]
    assert _ids(store, "daily") == [*daily[2:5], acme[1]]
    shown = run("runs", "show", str(daily[0]), cwd=root)
    assert shown.returncode != 0 and f"no run {daily[0]}" in shown.stderr
    store.close()


def test_prune_with_limits_given_on_the_command_line(tmp_path: Path) -> None:
    root, store = _shop(tmp_path)
    audited = _ids(store, "audited")

    done = run("runs", "prune", "--keep", "1", "--job", "audited", cwd=root, env={"COLUMNS": "200"})

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"│ audited │ -         │ 4    │ {audited[0]}–{audited[3]}" in done.stdout
    assert "removed 4 run(s) (4 steps, 4 attempts, 1.4 KB of logs), 0 tick(s), 0 webhook delivery id(s)" in (
        done.stdout
    )
    assert _ids(store, "audited") == audited[4:]
    assert len(_ids(store, "daily")) == 7  # only the job asked for
    again = run("runs", "prune", "--keep", "1", "--job", "audited", cwd=root)
    assert again.stdout.strip() == "nothing to prune"
    store.close()


def test_prune_says_what_is_wrong_with_its_options(tmp_path: Path) -> None:
    root, store = _shop(tmp_path)
    store.close()
    bad_age = run("runs", "prune", "--older-than", "7 days", cwd=root)
    assert bad_age.returncode == 2 and "--older-than: invalid duration '7 days'" in bad_age.stderr
    assert "hint: e.g. 90m, 12h, 7d, 2w" in bad_age.stderr
    assert "Traceback" not in bad_age.stderr
    unknown = run("runs", "prune", "--job", "dialy", cwd=root)
    assert unknown.returncode == 2 and "unknown job 'dialy'" in unknown.stderr
    assert "did you mean 'daily'?" in unknown.stderr
    zero = run("runs", "prune", "--keep", "0", cwd=root)
    assert zero.returncode == 2 and "Traceback" not in zero.stderr


def test_prune_applies_the_audit_logs_own_limit_and_says_so_in_a_dry_run(tmp_path: Path) -> None:
    root, store = _shop(tmp_path)
    with (root / "datakit.yaml").open("a", encoding="utf-8") as project:
        project.write("  audit_max_age: 90d\n")  # in the `retention:` block the project ends with
    now = time.time()
    store.clock = lambda: now - 100 * DAY
    old = [store.record_audit("alice", "start", "job daily") for _ in range(2)]
    store.clock = lambda: now - 10 * DAY
    middle = store.record_audit("alice", "cancel", "run 3")
    store.clock = time.time
    recent = store.record_audit("cli:bob", "pause", "trigger on_demand")

    dry = run("runs", "prune", "--dry-run", cwd=root, env={"COLUMNS": "200"})
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "2 audit log entries older than 90d" in dry.stdout
    assert len(store.list_audit()) == 4

    given = json.loads(run("runs", "prune", "--keep", "100", "--json", cwd=root).stdout)
    assert (given["audit_entries"], given["audit_max_age_s"]) == (2, 90 * DAY)  # --keep is about runs
    assert [entry.id for entry in store.list_audit()] == [recent, middle]
    assert old[0] < middle

    by_hand = run("runs", "prune", "--audit-older-than", "1d", "--dry-run", "--json", cwd=root)
    assert json.loads(by_hand.stdout)["audit_entries"] == 1
    bad = run("runs", "prune", "--audit-older-than", "a year", cwd=root)
    assert bad.returncode == 2 and "--audit-older-than: invalid duration 'a year'" in bad.stderr
    store.close()


@pytest.fixture(scope="module")
def chain_dsn(pg_dsn: str) -> Iterator[str]:
    with scratch_database(pg_dsn) as dsn:
        yield dsn


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_prune_keeps_a_resume_chain_whole_so_the_resume_loads_once(
    tmp_path: Path, chain_dsn: str, kind: str
) -> None:
    project = append_project(tmp_path / "project", chain_dsn, kind, rows=2_000)
    datakit(project, "run", "job", "j")  # run 1: an old run, then its data is dropped
    project.reset_targets()
    datakit(project, "run", "job", "j")  # run 2: commits both loads...
    project.forget_success(2, "kb.big")  # ... but was killed before it recorded the big one
    datakit(project, "run", "job", "j", "--resume", "2")  # run 3: big was committed by run 2: not loaded
    project.forget_success(3, "kb.big")  # killed too (before recording big's outcome)

    pruned = json.loads(datakit(project, "runs", "prune", "--keep", "1", "--json"))

    # run 3 is the newest; it resumes run 2: both stay; run 1 goes
    assert [r["id"] for r in pruned["runs"]] == [1]
    resumed = json.loads(datakit(project, "run", "job", "j", "--resume", "3", "--json"))
    assert resumed["steps"] == {"kb.small": "reused", "kb.big": "succeeded"}
    assert project.counts() == expected(project)  # every row once: run 2's load was found, not repeated


@pytest.mark.postgres
def test_prune_on_a_postgres_state_store(tmp_path: Path, pg_dsn: str) -> None:
    import uuid
    from urllib.parse import urlsplit

    from sqlalchemy import text

    parts = urlsplit(pg_dsn)
    schema = f"state_{uuid.uuid4().hex[:10]}"
    root = tmp_path / "shop"
    init_project(root)
    (root / "datakit.yaml").write_text(
        "name: shop\nretention: {max_runs: 2}\nstate:\n  type: postgres\n  schema: " + schema + "\n"
        f"  connection:\n    host: {parts.hostname}\n    port: {parts.port or 5432}\n"
        f"    database: {parts.path.lstrip('/')}\n    user: {parts.username}\n"
        "    password_secret_key: state_password\n",
        encoding="utf-8",
    )
    (root / "config" / "secrets_mapping.yaml").write_text(
        "secrets:\n  state_password:\n    env_var: DK_TEST_STATE_PASSWORD\n", encoding="utf-8"
    )
    env = {"DK_TEST_STATE_PASSWORD": parts.password or "", "COLUMNS": "200"}
    url = pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    store = StateStore(url, schema=schema)
    try:
        runs = []
        for _ in range(5):
            runs.append(store.start_run("daily", "{}"))
            store.add_steps(runs[-1], ["shop_bronze.orders"])
            store.finish_run(runs[-1], RunStatus.SUCCEEDED)
        done = run("runs", "prune", cwd=root, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"│ daily │ -         │ 3    │ {runs[0]}–{runs[2]} " in done.stdout
        assert "removed 3 run(s) (3 steps, 0 attempts, 0 B of logs)" in done.stdout
        assert "; store " in done.stdout and " KB -> " in done.stdout  # PostgreSQL's tables' size
        assert sorted(r.id for r in store.list_runs()) == runs[3:]
    finally:
        with store.engine.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        store.close()
