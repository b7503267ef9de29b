"""Logs that scale: a large step log is stored compressed with its last lines inline, a log over the cap
keeps its start and end around a `truncated, N bytes` marker, and every reader gets what it asked for
— on the SQLite and PostgreSQL stores, from a real step process, and in an older store."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest

from datakit.config.models.retention import DEFAULT_LOG_MAX_BYTES
from datakit.orchestrate.store import RunStatus, StateStore
from datakit.orchestrate.store.logs import INLINE_BYTES, cap, pack, read_capped, unpack
from datakit.orchestrate.store.sql import sqlite_url
from datakit.orchestrate.subproc import LOG_LIMIT, run_in_child
from tests.conftest import REPO

LINE = "12:00:01  1 of 3000 START sql table model silver.orders_{:04d} ............ [RUN]\n"


def dbt_like(lines: int) -> str:
    """A log like dbt's: many similar lines (it compresses well, as dbt's does)."""
    return "".join(LINE.format(i) for i in range(lines))


def test_the_cap_keeps_the_start_and_the_end_and_says_how_much_it_cut() -> None:
    text = dbt_like(3000)
    capped, omitted = cap(text, 20_000)
    assert len(capped.encode()) <= 20_000
    head, marker, end = capped.partition(f"[… truncated, {omitted} bytes …]\n")
    assert marker and text.startswith(head) and text.endswith(end)
    assert head.endswith("\n") and end.startswith("12:00:01")  # cut at whole lines
    assert len(head.encode()) + omitted + len(end.encode()) == len(text.encode())
    assert len(head) < len(end)  # most of what is kept is the end: dbt's summary and the error
    assert cap(text, len(text.encode())) == (text, 0)


def test_reading_a_log_file_capped_is_the_same_as_capping_it(tmp_path: Path) -> None:
    text = "début ✓ " + dbt_like(5000) + "fin ✗\n"  # multi-byte characters at both ends
    path = tmp_path / "step.log"
    path.write_text(text, encoding="utf-8")
    assert read_capped(path, 30_000) == cap(text, 30_000)
    assert read_capped(path, 10**9) == (text, 0)
    assert LOG_LIMIT == DEFAULT_LOG_MAX_BYTES  # the step process's default is the config's


def test_a_small_log_is_stored_whole_and_a_large_one_compressed_with_its_tail() -> None:
    small = pack("one line\n", 10**6)
    assert (small.inline, small.compressed, small.lines, small.omitted) == ("one line\n", None, 1, 0)
    text = dbt_like(2000)
    large = pack(text, 10**7)
    assert large.compressed is not None and unpack(large.inline, large.compressed) == text
    assert large.inline.splitlines() == text.splitlines()[-40:]
    assert (large.lines, large.size) == (2000, len(text.encode()))
    assert len(large.compressed) < len(text) / 10  # dbt-like output compresses more than 10x
    assert len(large.inline.encode()) <= INLINE_BYTES


def _attempt(store: StateStore, log: str) -> int:
    run_id = store.start_run("dbt_job", "{}", allow_concurrent=True)
    store.add_steps(run_id, ["dbt_build"])
    store.attempt_started(run_id, "dbt_build", 1)
    store.attempt_finished(run_id, "dbt_build", 1, log=log)
    store.finish_run(run_id, RunStatus.SUCCEEDED)
    return run_id


def test_the_store_keeps_a_large_log_compressed_and_reads_it_back(any_store: StateStore) -> None:
    text = dbt_like(20_000)  # ~1.7 MB, under the default cap
    run_id = _attempt(any_store, text)

    (attempt,) = any_store.get_run(run_id).steps[0].attempt_records
    assert not attempt.complete and attempt.log_omitted == 0
    assert attempt.log is not None and attempt.log.splitlines() == text.splitlines()[-40:]
    assert (attempt.log_lines, attempt.log_bytes) == (20_000, len(text.encode()))
    (whole,) = any_store.get_run(run_id, full_logs=True).steps[0].attempt_records
    assert whole.complete and whole.log == text
    assert any_store.attempt_log(run_id, "dbt_build", 1) == text
    assert any_store.attempt_log(run_id, "dbt_build", 2) is None
    from datakit.orchestrate.store.prune import count_removed

    stored = count_removed(any_store, [run_id]).log_bytes  # what the row really holds
    assert stored < len(text) / 10


def test_the_store_caps_a_log_and_says_so(any_store: StateStore) -> None:
    any_store.log_max_bytes = 100_000
    text = dbt_like(20_000)
    run_id = _attempt(any_store, text)

    (attempt,) = any_store.get_run(run_id, full_logs=True).steps[0].attempt_records
    assert attempt.log is not None and len(attempt.log.encode()) <= 100_000
    assert attempt.log_omitted > len(text) - 100_000
    assert f"[… truncated, {attempt.log_omitted} bytes …]" in attempt.log
    assert attempt.log.startswith(LINE.format(0)) and attempt.log.endswith(LINE.format(19_999))


def test_a_step_process_log_over_the_cap_keeps_its_start_and_end() -> None:
    result, log = run_in_child(
        "tests.orchestrate.helpers:chatty",
        {"lines": 50_000},
        cwd=REPO,
        log_limit=64 * 1024,
    )
    assert result == 50_000
    assert len(log.encode()) <= 64 * 1024
    assert log.startswith("chatty line 00000\n") and log.rstrip().endswith("chatty line 49999")
    first, _, rest = log.partition("[… truncated, ")
    omitted = int(rest.split(" bytes …]", 1)[0])
    whole = sum(len(f"chatty line {i:05d}\n") for i in range(50_000))
    assert omitted == whole - len(log.encode()) + len(f"[… truncated, {omitted} bytes …]\n".encode())
    assert first.endswith("\n")


def test_a_store_made_before_compressed_logs_reads_and_writes_both(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = StateStore(sqlite_url(path))
    run_id = _attempt(old, "an old log\n")
    old.close()
    with sqlite3.connect(path) as db:  # as datakit wrote it before: the log column only
        for column in ("log_z", "log_bytes", "log_lines", "log_omitted"):
            db.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        db.execute("UPDATE attempts SET log = ? WHERE run_id = ?", ("x\n" * 60_000, run_id))

    store = StateStore(sqlite_url(path))
    try:
        (attempt,) = store.get_run(run_id).steps[0].attempt_records
        assert attempt.complete and attempt.log == "x\n" * 60_000 and attempt.log_bytes is None
        new = _attempt(store, dbt_like(1000))
        assert store.attempt_log(new, "dbt_build", 1) == dbt_like(1000)
        with sqlite3.connect(path) as db:
            (blob,) = db.execute("SELECT log_z FROM attempts WHERE run_id = ?", (new,)).fetchone()
        assert zlib.decompress(blob).decode() == dbt_like(1000)
    finally:
        store.close()


@pytest.mark.parametrize("size", ["2KB", "5MiB"])
def test_the_cap_comes_from_datakit_yaml(tmp_path: Path, size: str) -> None:
    from datakit.config import load_project
    from datakit.config.scaffold import init_project
    from datakit.orchestrate.steps import LocalRunner
    from datakit.orchestrate.store import open_store

    root = tmp_path / "shop"
    init_project(root)
    with (root / "datakit.yaml").open("a", encoding="utf-8") as project:
        project.write(f"step_logs: {{max_bytes: {size}}}\n")
    loaded = load_project(root)
    expected = {"2KB": 2000, "5MiB": 5 * 1024 * 1024}[size]
    store = open_store(loaded)
    try:
        assert store.log_max_bytes == expected
    finally:
        store.close()
    assert LocalRunner.for_project(loaded).log_limit == expected


def test_runs_show_logs_prints_the_whole_log(tmp_path: Path) -> None:
    import json

    from datakit.config.scaffold import init_project
    from tests.cli.test_cli import run

    root = tmp_path / "shop"
    init_project(root)
    (root / ".datakit").mkdir()
    store = StateStore(sqlite_url(root / ".datakit" / "state.db"))
    run_id = _attempt(store, dbt_like(3000))
    store.close()

    shown = run("runs", "show", str(run_id), "--logs", cwd=root, env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert "--- log of dbt_build attempt 1 ---" in shown.stdout
    assert "  1 of 3000 START sql table model silver.orders_0001 " in shown.stdout  # the first lines too
    assert "silver.orders_0000 " in shown.stdout and "silver.orders_2999 " in shown.stdout
    assert "  1 of 3000 " in shown.stdout
    brief = json.loads(run("runs", "show", str(run_id), "--json", cwd=root).stdout)
    (attempt,) = brief["steps"][0]["attempt_records"]
    assert attempt["complete"] is False and attempt["log"].count("\n") == 39  # the last 40 lines
    assert (attempt["log_lines"], attempt["log_bytes"]) == (3000, len(dbt_like(3000).encode()))
    full = json.loads(run("runs", "show", str(run_id), "--json", "--logs", cwd=root).stdout)
    assert full["steps"][0]["attempt_records"][0]["log"] == dbt_like(3000)
