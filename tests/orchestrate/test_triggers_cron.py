"""Cron next-fire times in a time zone, across DST changes: each local time fires once (see cron.py)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from datakit.config.models.triggers import Trigger
from datakit.orchestrate.triggers import cron as cron_module
from datakit.orchestrate.triggers import due, iso_utc, next_fire_time

PARIS = ZoneInfo("Europe/Paris")
_TRIGGER: TypeAdapter[Trigger] = TypeAdapter(Trigger)


def cron(expression: str, timezone: str = "Europe/Paris", **schedule: Any) -> Trigger:
    data = {"cron": expression, "timezone": timezone, **schedule}
    return _TRIGGER.validate_python({"name": "t", "type": "cron", "job": "j", "schedule": data})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fire_times(trigger: Trigger, start: datetime, count: int) -> list[datetime]:
    times, now = [], start
    for _ in range(count):
        following = next_fire_time(trigger, now)
        assert following is not None
        times.append(following)
        now = following
    return times


def paris(times: list[datetime]) -> list[str]:
    return [t.astimezone(PARIS).strftime("%m-%d %H:%M%z") for t in times]


def test_daily_0230_on_the_spring_forward_day_fires_once_right_after_the_gap() -> None:
    times = fire_times(cron("30 2 * * *"), utc(2026, 3, 27, 12), 3)
    # 2026-03-29 02:30 does not exist in Paris (02:00 -> 03:00): it fires at 03:00 CEST, once.
    assert paris(times) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]
    assert [iso_utc(t) for t in times] == [
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:30:00Z",
    ]


def test_daily_0230_on_the_fall_back_day_fires_once_at_the_first_occurrence() -> None:
    times = fire_times(cron("30 2 * * *"), utc(2026, 10, 24, 12), 3)
    # 02:30 happens twice on 2026-10-25 (CEST, then CET): only the first one fires.
    assert paris(times) == ["10-25 02:30+0200", "10-26 02:30+0100", "10-27 02:30+0100"]


def test_hourly_skips_the_missing_hour_and_does_not_repeat_the_repeated_one() -> None:
    spring = fire_times(cron("0 * * * *"), utc(2026, 3, 28, 23), 4)
    assert paris(spring) == ["03-29 01:00+0100", "03-29 03:00+0200", "03-29 04:00+0200", "03-29 05:00+0200"]
    autumn = fire_times(cron("0 * * * *"), utc(2026, 10, 24, 22), 4)
    assert paris(autumn) == ["10-25 01:00+0200", "10-25 02:00+0200", "10-25 03:00+0100", "10-25 04:00+0100"]


def test_times_inside_the_gap_collapse_into_one_tick() -> None:
    times = fire_times(cron("*/20 * * * *"), utc(2026, 3, 29, 0, 30), 4)
    # 01:40 CET, then 02:00/02:20/02:40 (missing) and 03:00 CEST are all the instant 01:00Z: one tick.
    assert paris(times) == ["03-29 01:40+0100", "03-29 03:00+0200", "03-29 03:20+0200", "03-29 03:40+0200"]


def test_next_fire_time_from_inside_the_repeated_hour() -> None:
    second_pass = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)  # 02:30 CET = 01:30Z
    following = next_fire_time(cron("*/15 * * * *"), second_pass)
    assert following is not None and paris([following]) == ["10-25 03:00+0100"]


def test_utc_schedules_are_plain() -> None:
    times = fire_times(cron("0 2 * * *", timezone="UTC"), utc(2026, 3, 28), 2)
    assert [iso_utc(t) for t in times] == ["2026-03-28T02:00:00Z", "2026-03-29T02:00:00Z"]


# Zones with unusual changes: a 30-minute DST shift (Lord Howe) and a whole skipped day (Apia, 2011).
WINDOWS = [
    ("Europe/Paris", utc(2026, 3, 28, 20), utc(2026, 3, 29, 6)),
    ("Europe/Paris", utc(2026, 10, 24, 20), utc(2026, 10, 25, 6)),
    ("America/New_York", utc(2026, 3, 8, 4), utc(2026, 3, 8, 12)),
    ("America/New_York", utc(2026, 11, 1, 3), utc(2026, 11, 1, 10)),
    ("Australia/Lord_Howe", utc(2026, 4, 4, 12), utc(2026, 4, 4, 18)),
    ("Australia/Lord_Howe", utc(2026, 10, 3, 13), utc(2026, 10, 3, 19)),
    ("Pacific/Apia", utc(2011, 12, 29, 0), utc(2011, 12, 31, 12)),
]
EXPRESSIONS = ["*/10 * * * *", "30 2 * * *", "0 * * * *", "15,45 1-3 * * *", "0 0 * * *", "*/7 2 * * *"]


@pytest.mark.parametrize(("zone", "start", "end"), WINDOWS)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_forward_and_backward_walks_agree_and_never_repeat_an_instant(
    zone: str, start: datetime, end: datetime, expression: str
) -> None:
    """`due` (a backward walk from now) must list exactly what repeated `next_fire_time` (forward) gives."""
    trigger = cron(expression, timezone=zone, catchup=True, max_catchup=10_000)
    forward: list[datetime] = []
    now = start
    while (following := next_fire_time(trigger, now)) is not None and following <= end:
        forward.append(following)
        now = following
    backward = [tick.at for tick in due(trigger, start, end)]
    assert backward == forward
    assert all(a < b for a, b in itertools.pairwise(forward))
    local_times = [t.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for t in forward]
    assert len(set(local_times)) == len(local_times)  # no local time fires twice
    # ...and the split walk (a poll at every instant in between) finds the same ticks
    stepped, cursor, clock = [], start, start
    while clock < end:
        clock = min(clock + timedelta(minutes=13), end)
        for tick in due(trigger, cursor, clock):
            stepped.append(tick.at)
            cursor = tick.at
    assert stepped == forward


def test_gap_end_is_the_transition_instant() -> None:
    assert cron_module.to_instant(datetime(2026, 3, 29, 2, 30), PARIS) == utc(2026, 3, 29, 1)
    apia = ZoneInfo("Pacific/Apia")  # 2011-12-30 did not exist there
    assert cron_module.to_instant(datetime(2011, 12, 30, 12), apia) == utc(2011, 12, 30, 10)


def test_the_machine_time_zone_plays_no_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """croniter sees naive wall times only; a local zone with DST of its own must change nothing."""
    expected = fire_times(cron("*/20 * * * *"), utc(2026, 3, 29, 0, 30), 4)
    cron_module.next_after.cache_clear()
    for machine_zone in ("America/New_York", "Europe/Paris"):
        monkeypatch.setenv("TZ", machine_zone)
        time.tzset()
        assert fire_times(cron("*/20 * * * *"), utc(2026, 3, 29, 0, 30), 4) == expected
        assert fire_times(cron("30 1 * * *", "UTC"), utc(2026, 3, 7), 3)[1] == utc(2026, 3, 8, 1, 30)
        cron_module.next_after.cache_clear()
    monkeypatch.undo()
    time.tzset()


def test_an_expression_that_never_matches_has_no_fire_time() -> None:
    never = cron("0 0 30 2 *")  # the 30th of February
    assert next_fire_time(never, utc(2026, 1, 1)) is None
    assert due(never, utc(2026, 1, 1), utc(2027, 1, 1)) == []


def test_naive_clock_readings_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_time(cron("0 2 * * *"), datetime(2026, 1, 1))  # naive: the point of the test
    with pytest.raises(ValueError, match="last_tick"):
        due(cron("0 2 * * *"), datetime(2026, 1, 1), utc(2026, 1, 2))
