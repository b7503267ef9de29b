"""Cron schedules in a time zone: local wall-clock matches, turned into UTC instants by one DST rule.

croniter is used on *naive* local wall-clock times only, where it is plain calendar arithmetic; the time
zone enters in exactly one place, `to_instant`, which applies the rule below. That keeps DST behaviour in
ten lines we test, instead of in croniter's own (historically fragile) time-zone handling.

The DST rule: a cron expression names local wall-clock times, and each named time fires once.
- A time that does not exist (spring forward; Europe/Paris skips 02:00-02:59 on the last Sunday of March)
  fires at the first instant after the gap (03:00 CEST), late rather than never, as Vixie cron does.
  Several skipped times of one expression collapse into that one tick.
- A time that exists twice (fall back; 02:00-02:59 repeats on the last Sunday of October) fires at its
  first occurrence (CEST) only; the repeated hour fires nothing, even for `0 * * * *`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from croniter import croniter

_ONE_US = timedelta(microseconds=1)


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the naive local time `wall` fires, under the DST rule of this module."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the first of a repeated time
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the DST gap that swallowed `wall` (the transition itself).

    zoneinfo has no public list of transitions, so bisect the seconds between the two readings of
    `wall` (with the offset after and before the change); a gap is at most a day wide, so ~17 steps.
    """
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())  # before the change
    high = int(wall.replace(tzinfo=zone, fold=0).astimezone(UTC).timestamp())  # after it
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


class _Iterators(threading.local):
    """One croniter per expression and thread: building one costs ~4x a step (it parses and expands),
    and a croniter is a mutable cursor, so threads must not share it."""

    def __init__(self) -> None:
        self.by_expression: dict[str, croniter] = {}

    def at(self, expression: str, start: datetime) -> croniter:
        iterator = self.by_expression.get(expression)
        if iterator is None:
            from croniter import croniter  # imported when first used: 60 ms the CLI need not pay

            iterator = self.by_expression[expression] = croniter(expression, start)
        else:
            iterator.set_current(start, force=True)
        return iterator


_iterators = _Iterators()


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=65_536)
def next_after(expression: str, zone_name: str, after: datetime) -> datetime | None:
    """The first tick strictly after `after` (UTC), or None for an expression that never matches.

    Cached: a scheduler asks this for every trigger on every poll with the same cursor, so all polls
    but the first cost a dictionary lookup.
    """
    from croniter import CroniterBadDateError

    zone = ZoneInfo(zone_name)
    # Starting at the local wall time of `after` is right except in the second pass of a repeated hour,
    # where the earlier walls still map to first-pass instants <= after: those are skipped below.
    iterator = _iterators.at(expression, _wall(after, zone))
    try:
        while True:
            instant = to_instant(iterator.get_next(datetime), zone)
            if instant > after:
                return instant
    except CroniterBadDateError:  # e.g. `0 0 30 2 *`: no 30th of February within croniter's horizon
        return None


def latest(expression: str, zone_name: str, until: datetime, after: datetime, limit: int) -> list[datetime]:
    """Up to `limit` most recent ticks in (after, until], oldest first.

    Walks backwards from `until`, so the cost is `limit` steps however long the downtime was.
    """
    from croniter import CroniterBadDateError

    zone = ZoneInfo(zone_name)
    local = until.astimezone(zone)
    start = local.replace(tzinfo=None)
    if local.fold:  # second pass of a repeated hour: first-pass walls up to the hour's end are <= until
        start += local.replace(fold=0).utcoffset() - local.utcoffset()  # type: ignore[operator]
    iterator = _iterators.at(expression, start + _ONE_US)  # get_prev is strict: include `start`
    found: list[datetime] = []
    try:
        while len(found) < limit:
            instant = to_instant(iterator.get_prev(datetime), zone)
            if instant <= after:
                break
            if instant <= until and (not found or instant < found[-1]):  # skip walls past `until`, and
                found.append(instant)  # the walls of a DST gap that collapsed into one tick
    except CroniterBadDateError:
        pass
    found.reverse()
    return found
