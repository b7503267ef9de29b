"""`due`: catch-up after downtime, interval grids, and the exactly-once contract of tick keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from datakit.config.loader import load_project
from datakit.config.models.triggers import Trigger
from datakit.orchestrate.triggers import Tick, due, due_all, next_fire_time
from tests.config.helpers import PAGILA

_TRIGGER: TypeAdapter[Trigger] = TypeAdapter(Trigger)


def trigger(kind: str, name: str = "t", **fields: Any) -> Trigger:
    return _TRIGGER.validate_python({"name": name, "type": kind, "job": "j", **fields})


def nightly(**schedule: Any) -> Trigger:
    return trigger("cron", "nightly", schedule={"cron": "0 2 * * *", "timezone": "Europe/Paris", **schedule})


def every(duration: str, name: str = "t", **schedule: Any) -> Trigger:
    return trigger("interval", name, schedule={"every": duration, **schedule})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def keys(ticks: list[Tick]) -> list[str]:
    return [tick.key for tick in ticks]


# Down from Monday 2026-06-01 03:00 Paris (after Monday's 02:00 tick) to Friday 10:00 Paris.
LAST = utc(2026, 6, 1, 0)  # Monday 02:00 CEST, the last recorded tick
BACK = utc(2026, 6, 5, 8)  # Friday 10:00 CEST


def test_catchup_off_runs_once_after_downtime_for_the_latest_missed_tick() -> None:
    assert keys(due(nightly(catchup=False), LAST, BACK)) == ["nightly@2026-06-05T00:00:00Z"]


def test_catchup_on_runs_every_missed_tick_oldest_first() -> None:
    assert keys(due(nightly(catchup=True), LAST, BACK)) == [
        "nightly@2026-06-02T00:00:00Z",
        "nightly@2026-06-03T00:00:00Z",
        "nightly@2026-06-04T00:00:00Z",
        "nightly@2026-06-05T00:00:00Z",
    ]


def test_catchup_is_bounded_by_max_catchup_keeping_the_most_recent() -> None:
    assert keys(due(nightly(catchup=True, max_catchup=2), LAST, BACK)) == [
        "nightly@2026-06-04T00:00:00Z",
        "nightly@2026-06-05T00:00:00Z",
    ]
    # a year down costs max_catchup steps, not 365
    year = due(nightly(catchup=True, max_catchup=3), LAST, LAST + timedelta(days=365, hours=1))
    assert keys(year) == [
        "nightly@2027-05-30T00:00:00Z",
        "nightly@2027-05-31T00:00:00Z",
        "nightly@2027-06-01T00:00:00Z",
    ]


def test_the_window_is_open_at_the_cursor_and_closed_at_now() -> None:
    at_two = utc(2026, 6, 2, 0)
    assert due(nightly(), LAST, at_two - timedelta(microseconds=1)) == []
    assert keys(due(nightly(), LAST, at_two)) == ["nightly@2026-06-02T00:00:00Z"]
    assert due(nightly(), at_two, at_two) == []
    assert due(nightly(), at_two, at_two + timedelta(hours=23)) == []


def test_a_new_trigger_has_nothing_due_and_a_disabled_one_never_fires() -> None:
    assert due(nightly(), None, BACK) == []
    assert due(nightly(catchup=True).model_copy(update={"enabled": False}), LAST, BACK) == []
    assert next_fire_time(nightly().model_copy(update={"enabled": False}), BACK) is None


def test_a_cursor_in_the_future_fires_nothing() -> None:
    """The clock went backwards (or another host is ahead): never re-fire what was recorded."""
    assert due(nightly(catchup=True), BACK, LAST) == []


@pytest.mark.parametrize(
    "other",
    [
        {"type": "manual"},
        {"type": "event", "event": {"type": "job_succeeded", "job": "a"}},
        {"type": "webhook", "webhook": {"secret_key": "hook"}},
    ],
)
def test_manual_event_and_webhook_triggers_never_fire_by_the_clock(other: dict[str, Any]) -> None:
    t = trigger(other.pop("type"), **other)
    assert due(t, LAST, BACK) == []
    assert next_fire_time(t, BACK) is None


def test_same_inputs_give_the_same_keys_and_overlapping_windows_agree() -> None:
    t = nightly(catchup=True)
    assert due(t, LAST, BACK) == due(t, LAST, BACK)
    # a poll that saw Tuesday and Wednesday, then a crash before the cursor was saved, then a later poll:
    first = due(t, LAST, utc(2026, 6, 3, 12))
    again = due(t, LAST, BACK)
    assert set(keys(first)) < set(keys(again))  # the store's insert-if-absent drops the overlap


def run_scheduler(
    triggers: list[Trigger],
    start: datetime,
    end: datetime,
    poll: timedelta,
    crash_at: Callable[[datetime], bool] = lambda _: False,
) -> list[str]:
    """A daemon's loop against a fake state store: tick keys insert-if-absent, cursors persisted.

    `crash_at(now)`: the process dies after starting runs but before saving cursors; it restarts with an
    empty memory on the next poll.
    """
    store_keys: list[str] = []  # the tick table (unique key)
    cursors = {t.name: start for t in triggers}  # persisted first-seen times, then last ticks
    now = start
    while now < end:
        now = min(now + poll, end)
        pending = dict(cursors)
        for tick in due_all(triggers, pending, now):
            if tick.key not in store_keys:
                store_keys.append(tick.key)
            pending[tick.trigger] = tick.at
        if not crash_at(now):
            cursors = pending
    return store_keys


def test_a_scheduler_killed_and_restarted_loses_and_doubles_no_tick() -> None:
    triggers = [nightly(catchup=True), every("45m", "often", catchup=True)]
    start, end = utc(2026, 10, 22, 12), utc(2026, 10, 27)
    calm = run_scheduler(triggers, start, end, timedelta(minutes=5))
    crashing = run_scheduler(triggers, start, end, timedelta(minutes=5), lambda now: now.minute % 20 == 0)
    assert calm == crashing
    assert len(calm) == len(set(calm))
    assert [k for k in calm if k.startswith("nightly")] == [
        "nightly@2026-10-23T00:00:00Z",
        "nightly@2026-10-24T00:00:00Z",
        "nightly@2026-10-25T00:00:00Z",  # the first of the two 02:00 when the clocks go back (CEST)
        "nightly@2026-10-26T01:00:00Z",  # 02:00 CET
    ]
    assert len([k for k in calm if k.startswith("often")]) == 108 * 60 // 45


def test_interval_without_start_at_hangs_its_grid_on_the_cursor() -> None:
    t = every("1h", catchup=True)
    seen = utc(2026, 6, 1, 9, 17, 30)
    assert keys(due(t, seen, utc(2026, 6, 1, 12))) == [
        "t@2026-06-01T10:17:30Z",
        "t@2026-06-01T11:17:30Z",
    ]
    assert next_fire_time(t, utc(2026, 6, 1, 12), last_tick=utc(2026, 6, 1, 11, 17, 30)) == utc(
        2026, 6, 1, 12, 17, 30
    )


def test_interval_with_start_at_keeps_its_grid_however_late_the_poll() -> None:
    t = every("15m", start_at="2026-06-01T08:00:00")  # naive in YAML: UTC
    assert due(t, utc(2026, 6, 1, 7), utc(2026, 6, 1, 7, 59)) == []  # not started yet
    assert keys(due(t, utc(2026, 6, 1, 7), utc(2026, 6, 1, 8))) == ["t@2026-06-01T08:00:00Z"]
    # downtime with catchup off: once, for the latest grid point
    assert keys(due(t, utc(2026, 6, 1, 8), utc(2026, 6, 1, 9, 7))) == ["t@2026-06-01T09:00:00Z"]
    assert next_fire_time(t, utc(2026, 6, 1, 9, 7)) == utc(2026, 6, 1, 9, 15)
    assert next_fire_time(t, utc(2026, 5, 1)) == utc(2026, 6, 1, 8)


def test_interval_start_at_with_an_offset_and_bounded_catchup() -> None:
    t = every("1d", start_at="2026-06-01T02:00:00+02:00", catchup=True, max_catchup=3)
    assert keys(due(t, utc(2026, 5, 1), utc(2026, 6, 10, 12))) == [
        "t@2026-06-08T00:00:00Z",
        "t@2026-06-09T00:00:00Z",
        "t@2026-06-10T00:00:00Z",
    ]


def test_due_all_orders_ticks_by_time_then_trigger() -> None:
    triggers = [every("1h", "b", catchup=True), every("1h", "a", catchup=True), nightly()]
    cursors = {"a": utc(2026, 6, 1, 0), "b": utc(2026, 6, 1, 0), "nightly": utc(2026, 6, 1, 0)}
    assert keys(due_all(triggers, cursors, utc(2026, 6, 1, 2))) == [
        "a@2026-06-01T01:00:00Z",
        "b@2026-06-01T01:00:00Z",
        "a@2026-06-01T02:00:00Z",
        "b@2026-06-01T02:00:00Z",
    ]


def test_the_example_projects_triggers_evaluate() -> None:
    """The triggers as `load_project` returns them (examples/pagila): nightly cron in Paris, a disabled
    interval, a manual trigger."""
    project = load_project(PAGILA, environ={})
    triggers = list(project.objects["trigger"].values())
    now = utc(2026, 3, 28, 12)
    # 02:00 does not exist in Paris on 2026-03-29: the nightly run starts at 03:00 CEST (01:00Z)
    assert next_fire_time(project.objects["trigger"]["pagila_nightly"], now) == utc(2026, 3, 29, 1)
    assert {t.name: next_fire_time(t, now) for t in triggers if t.name != "pagila_nightly"} == {
        "pagila_hourly": None,  # enabled: false
        "pagila_manual": None,
    }
    cursors = {t.name: now for t in triggers}
    assert keys(due_all(triggers, cursors, utc(2026, 3, 30, 12))) == ["pagila_nightly@2026-03-30T00:00:00Z"]
