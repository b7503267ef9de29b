"""Interval schedules: ticks on a fixed grid, so that late polls and restarts never make the grid drift.

The grid is `start_at + k * every` (k >= 0) when the trigger sets `start_at`, else `cursor + k * every`
(k >= 1): the caller's cursor is always a tick of the grid (or the time the trigger was first seen), so
both forms stay put however late the scheduler looks. Only arithmetic: no state, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def anchor_of(start_at: datetime | None) -> datetime | None:
    """`start_at` in UTC; a naive value in a YAML file is read as UTC (intervals have no time zone)."""
    if start_at is None:
        return None
    return start_at.replace(tzinfo=UTC) if start_at.tzinfo is None else start_at.astimezone(UTC)


def first_after(anchor: datetime, every: timedelta, after: datetime) -> datetime:
    """The first grid point strictly after `after` (the anchor itself when it lies after `after`)."""
    if anchor > after:
        return anchor
    return anchor + ((after - anchor) // every + 1) * every


def latest(
    anchor: datetime, every: timedelta, until: datetime, after: datetime, limit: int
) -> list[datetime]:
    """Up to `limit` most recent grid points in (after, until], oldest first."""
    first = first_after(anchor, every, after)
    if first > until:
        return []
    last = anchor + ((until - anchor) // every) * every
    count = min((last - first) // every + 1, limit)
    return [last - i * every for i in range(count - 1, -1, -1)]
