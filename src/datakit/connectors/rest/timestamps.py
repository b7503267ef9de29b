"""ISO-8601 text in JSON records: which fields hold timestamps, how they compare, how one is sent back.

JSON has no timestamp type: APIs send text such as `2024-05-01T10:00:00Z`. Three rules follow.

* **Inference.** A text field of a sample whose every non-null value is an ISO-8601 date *with a time*
  (`T` or a space between them, optional seconds and fraction, optional `Z` or `±HH[:MM]` offset) holds
  timestamps: `mark` records it as field metadata on the Arrow schema (`HINT`: `timestamptz` when any
  value has an offset, else `timestamp`), and the inferred contract types the column so. The records
  themselves keep their text: the contract's validator parses each value, so one that does not parse is
  a rejected row, not a failed load, and a contract that declares the field `str` keeps the API's text.
  Date-only text (`2024-05-01`) stays text, as in dlt: too many codes and versions look like dates, and
  a contract (or `reflect`, reviewed) can type such a column `date`.
* **Comparison.** `parse` reads ISO-8601 text as UTC timestamps (text without an offset as UTC), so an
  incremental cursor compares as a time, whatever offset or precision the API writes.
* **Sending.** A timestamp lower bound goes back to the API in the API's style (`Style`): the style of
  the resource's `initial_value` when that is ISO-8601 text, else RFC 3339 (`T`, a fraction only when
  there is one, `Z` in UTC, no offset for a naive timestamp): `2024-05-01T10:00:00Z`, never Python's
  `2024-05-01 10:00:00+00:00`. The saved cursor is a timestamp, so this is the one place the text is
  made again: an API that needs another form gets it from an `initial_value` written that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

HINT = b"datakit.iso8601"
"""Field metadata key of a text field whose sampled values are all ISO-8601 timestamps."""
ZONED = b"timestamptz"
NAIVE = b"timestamp"

_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_WITH_ZONE = r"[T ][0-9:.,]+(Z|[+-]\d{2}(:?\d{2})?)$"
_STYLE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?P<sep>[T ])\d{2}:\d{2}(?P<seconds>:\d{2}(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def mark(schema: pa.Schema, sample: pa.RecordBatch) -> pa.Schema:
    """`schema` with `HINT` on each text field whose non-null values in `sample` are all timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = []
    for field in schema:
        hint = None
        if pa.types.is_string(field.type) and field.name in sample.schema.names:
            text = sample.column(field.name)
            present = len(text) - text.null_count
            if present and pc.sum(parse(text).is_valid()).as_py() == present:
                zoned = pc.any(pc.match_substring_regex(text, _WITH_ZONE)).as_py()
                hint = ZONED if zoned else NAIVE
        fields.append(field if hint is None else field.with_metadata({**(field.metadata or {}), HINT: hint}))
    return pa.schema(fields, metadata=schema.metadata)


def parse(text: pa.Array) -> pa.Array:
    """ISO-8601 text as `timestamp[us, UTC]` (text without an offset read as UTC); null where a value
    is not an ISO-8601 date with a time. Fractions past microseconds are truncated."""
    import pyarrow as pa
    import pyarrow.compute as pc

    utc = pa.timestamp("us", tz="UTC")
    text = text.cast(pa.string())
    valid = pc.fill_null(pc.match_substring_regex(text, _TIMESTAMP), False)
    text = pc.replace_substring_regex(text, r"[.,](\d{1,6})\d*", r".\1")
    zoned = pc.fill_null(pc.match_substring_regex(text, _WITH_ZONE), False)
    text = pc.if_else(zoned, text, pc.binary_join_element_wise(text, "Z", ""))
    candidates = pc.if_else(valid, text, pa.scalar(None, pa.string()))
    try:
        return pc.cast(candidates, utc)
    except pa.ArrowInvalid:  # a value shaped right but impossible (month 13): value by value
        return pa.array([_parse_one(value) for value in candidates.to_pylist()], utc)


def _parse_one(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def is_timestamp_text(value: Any) -> bool:
    """Whether `value` is ISO-8601 text with a time (the kind `parse` reads)."""
    return isinstance(value, str) and _STYLE.match(value) is not None


@dataclass(frozen=True)
class Style:
    """How an API writes its timestamps: the separator, the seconds and fraction, the offset."""

    separator: str = "T"
    seconds: bool = True
    fraction: int | None = None  # digits; None: only when the value has a fraction, zeros trimmed
    zone: str | None = None  # "Z", "+00:00", "+0000", "+02:00", "" (no offset); None: Z unless naive

    @classmethod
    def of(cls, text: Any) -> Style:
        """The style of ISO-8601 `text`, or RFC 3339 in UTC when `text` is not one."""
        match = _STYLE.match(text) if isinstance(text, str) else None
        if match is None:
            return cls()
        fraction = match.group("fraction")
        return cls(
            separator=match.group("sep"),
            seconds=match.group("seconds") is not None,
            fraction=len(fraction) if fraction else None,
            zone=match.group("zone") or "",
        )

    def format(self, value: datetime | date) -> str:
        """`value` written in this style (a naive value is taken as UTC when the style has an offset)."""
        if not isinstance(value, datetime):
            return value.isoformat()
        zone = self.zone if self.zone is not None else ("Z" if value.tzinfo is not None else "")
        if zone:
            when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            when = when.astimezone(_offset(zone))
        else:
            when = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
        text = when.strftime(f"%Y-%m-%d{self.separator}%H:%M")
        if self.seconds or when.second or when.microsecond:
            text += when.strftime(":%S")
            digits = f"{when.microsecond:06d}"
            if self.fraction is not None:
                text += "." + digits[: self.fraction].ljust(self.fraction, "0")
            elif when.microsecond:
                text += "." + digits.rstrip("0")
        return text + _zone_text(zone, when)


def _offset(zone: str) -> timezone:
    if zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes))


def _zone_text(zone: str, when: datetime) -> str:
    """The offset of `when` written as `zone` is (Z, +HH:MM, +HHMM, +HH, or none)."""
    if zone in ("", "Z"):
        return zone
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    if len(zone) == 3:  # +HH
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}{':' if ':' in zone else ''}{rest:02d}"
