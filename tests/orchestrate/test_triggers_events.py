"""Event triggers: another job's end fires its followers; a file arriving in a folder fires once."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from datakit.config.models.triggers import EventTrigger, Trigger
from datakit.orchestrate.store.records import RunStatus
from datakit.orchestrate.triggers import FileStamp, FileWatch, file_ticks, job_event_ticks, scan

_TRIGGER: TypeAdapter[Trigger] = TypeAdapter(Trigger)
FINISHED = datetime(2026, 6, 1, 3, tzinfo=UTC)


def on(kind: str, job: str, name: str | None = None, **extra: Any) -> Trigger:
    event = {"type": kind, "job": job}
    data = {"name": name or f"after_{job}_{kind}", "type": "event", "job": "next", "event": event, **extra}
    return _TRIGGER.validate_python(data)


def watch(path: str = "drop", pattern: str = "*.csv", settle: str = "0s") -> EventTrigger:
    event = {"type": "file_arrived", "path": path, "pattern": pattern, "settle": settle}
    trigger = _TRIGGER.validate_python({"name": "arrivals", "type": "event", "job": "load", "event": event})
    assert isinstance(trigger, EventTrigger)
    return trigger


TRIGGERS = [
    on("job_succeeded", "daily"),
    on("job_failed", "daily"),
    on("job_finished", "daily"),
    on("job_succeeded", "other"),
    on("job_succeeded", "daily", name="off", enabled=False),
    _TRIGGER.validate_python({"name": "m", "type": "manual", "job": "daily"}),
]


@pytest.mark.parametrize(
    ("status", "fired"),
    [
        (RunStatus.SUCCEEDED, ["after_daily_job_succeeded", "after_daily_job_finished"]),
        (RunStatus.FAILED, ["after_daily_job_failed", "after_daily_job_finished"]),
        (RunStatus.ABANDONED, ["after_daily_job_failed", "after_daily_job_finished"]),
        (RunStatus.RUNNING, []),
    ],
)
def test_a_finished_run_fires_the_matching_enabled_event_triggers(
    status: RunStatus, fired: list[str]
) -> None:
    ticks = job_event_ticks(TRIGGERS, "daily", status, run_id=42, finished_at=FINISHED)
    assert [t.trigger for t in ticks] == fired
    assert all(t.key == f"{t.trigger}@run:42" and t.job == "next" and t.at == FINISHED for t in ticks)


def test_the_same_finished_run_gives_the_same_keys_and_another_run_new_ones() -> None:
    first = job_event_ticks(TRIGGERS, "daily", "succeeded", 42, FINISHED)
    assert first == job_event_ticks(TRIGGERS, "daily", "succeeded", 42, FINISHED)
    other = job_event_ticks(TRIGGERS, "daily", "succeeded", 43, FINISHED)
    assert not {t.key for t in first} & {t.key for t in other}


def test_job_references_by_file_name_resolve_through_the_project() -> None:
    by_file = [on("job_succeeded", "daily.yaml", name="after")]
    assert job_event_ticks(by_file, "daily", "succeeded", 1, FINISHED) == []
    names = {"daily.yaml": "daily"}
    ticks = job_event_ticks(by_file, "daily", "succeeded", 1, FINISHED, resolve_job=names.get)
    assert [t.key for t in ticks] == ["after@run:1"]


def put(root: Path, relative: str, content: bytes, mtime_s: int) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(mtime_s * 10**9, mtime_s * 10**9))


T0 = 1_780_000_000  # 2026-05-28, seconds
NOW = datetime.fromtimestamp(T0 + 3600, UTC)


def test_each_new_or_changed_file_fires_once(tmp_path: Path) -> None:
    watcher = FileWatch(watch(), tmp_path)
    assert watcher.poll(NOW) == []  # no folder yet
    put(tmp_path, "drop/a.csv", b"1", T0)
    put(tmp_path, "drop/b.csv", b"22", T0 + 1)
    put(tmp_path, "drop/notes.txt", b"x", T0)  # pattern does not match
    (tmp_path / "drop/sub.csv").mkdir()  # not a regular file
    first = watcher.poll(NOW)
    assert [t.key for t in first] == [
        f"arrivals@file:drop/a.csv:1:{T0}000000000",
        f"arrivals@file:drop/b.csv:2:{T0 + 1}000000000",
    ]
    assert [t.detail for t in first] == ["drop/a.csv", "drop/b.csv"]
    assert first[0].at == datetime.fromtimestamp(T0, UTC) and first[0].job == "load"
    assert watcher.poll(NOW) == []  # nothing new
    put(tmp_path, "drop/a.csv", b"1+", T0 + 60)  # rewritten
    put(tmp_path, "drop/c.csv", b"3", T0 + 61)  # arrived
    assert [t.detail for t in watcher.poll(NOW)] == ["drop/a.csv", "drop/c.csv"]
    assert watcher.poll(NOW) == []


def test_after_a_restart_unchanged_files_come_back_with_the_same_keys(tmp_path: Path) -> None:
    """The watcher's memory is lost on restart; the keys it offers again are the ones already recorded."""
    put(tmp_path, "drop/a.csv", b"1", T0)
    recorded = {t.key for t in FileWatch(watch(), tmp_path).poll(NOW)}
    put(tmp_path, "drop/b.csv", b"2", T0 + 5)
    offered = FileWatch(watch(), tmp_path).poll(NOW)
    assert [t.key for t in offered if t.key not in recorded] == [
        f"arrivals@file:drop/b.csv:1:{T0 + 5}000000000"
    ]


def test_a_deleted_and_recreated_file_fires_again(tmp_path: Path) -> None:
    watcher = FileWatch(watch(), tmp_path)
    put(tmp_path, "drop/a.csv", b"1", T0)
    assert len(watcher.poll(NOW)) == 1
    (tmp_path / "drop/a.csv").unlink()
    assert watcher.poll(NOW) == []
    put(tmp_path, "drop/a.csv", b"1", T0 + 10)
    assert len(watcher.poll(NOW)) == 1


def test_a_file_still_being_written_waits_for_the_settle_time(tmp_path: Path) -> None:
    watcher = FileWatch(watch(settle="30s"), tmp_path)
    put(tmp_path, "drop/a.csv", b"partial", T0)
    written = datetime.fromtimestamp(T0, UTC)
    assert watcher.poll(written + timedelta(seconds=29)) == []
    put(tmp_path, "drop/a.csv", b"partial, then whole", T0 + 20)
    assert watcher.poll(written + timedelta(seconds=49)) == []
    ticks = watcher.poll(written + timedelta(seconds=50))
    assert [t.key for t in ticks] == [f"arrivals@file:drop/a.csv:19:{T0 + 20}000000000"]


def test_file_ticks_is_pure_over_stamps() -> None:
    stamps = [FileStamp("drop/a.csv", 1, T0 * 10**9), FileStamp("drop/b.csv", 1, (T0 - 9) * 10**9)]
    seen = {"drop/a.csv": stamps[0]}
    ticks = file_ticks(watch(), stamps, seen, NOW)
    assert [t.detail for t in ticks] == ["drop/b.csv"]
    assert file_ticks(watch(), stamps, {}, NOW) == file_ticks(watch(), stamps, {}, NOW)
    disabled = watch().model_copy(update={"enabled": False})
    assert file_ticks(disabled, stamps, {}, NOW) == []


def test_scan_recurses_only_when_the_pattern_says_so(tmp_path: Path) -> None:
    put(tmp_path, "drop/a.csv", b"1", T0)
    put(tmp_path, "drop/2026/b.csv", b"1", T0)
    event = watch().event
    deep = watch(pattern="**/*.csv").event
    assert event.type == "file_arrived" and deep.type == "file_arrived"
    assert [s.path for s in scan(tmp_path, event)] == ["drop/a.csv"]
    assert [s.path for s in scan(tmp_path, deep)] == ["drop/2026/b.csv", "drop/a.csv"]
