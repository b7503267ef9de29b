"""Step logs in the run history: capped, compressed when large, with their last lines kept inline.

dbt's output for a big project runs to megabytes, and a long-running `datakit serve` keeps a log per
attempt of every step; stored as plain text, that was most of a run's footprint. So a log is stored as:

- **inline** (`attempts.log`, text): the whole log when it is small (`INLINE_BYTES`), else its last
  `TAIL_LINES` lines — what the status pages show, read without decompressing anything;
- **compressed** (`attempts.log_z`, zlib): the whole log, when it is larger than that; read only by
  `datakit runs show --logs` and the page's full-log link;
- with its size in bytes and lines (`log_bytes`, `log_lines`), so that a page can say "last 40 of
  12,000 lines" without reading it.

Compressed in the store rather than in files beside it: the PostgreSQL store is shared by hosts that do
not share a disk, and a run's log goes with its row when a prune deletes it — no file left behind.

A log longer than the cap (`step_logs.max_bytes`) keeps its start and, mostly, its end — where dbt
prints its summary and the error — with a marker line in between: `[… truncated, N bytes …]`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datakit.orchestrate.store.records import AttemptRecord

INLINE_BYTES = 8 * 1024
"""A log up to this size (UTF-8) is stored inline, whole and uncompressed."""
TAIL_LINES = 40
"""Lines of a larger log kept inline: the status page's tail."""
HEAD_SHARE = 4
"""A capped log keeps 1/HEAD_SHARE of the cap from its start, the rest from its end."""
_LEVEL = 6


@dataclass(frozen=True)
class PackedLog:
    """A log as the attempts table stores it."""

    inline: str
    compressed: bytes | None
    size: int
    """Bytes of the whole log (UTF-8), as stored (after any cap)."""
    lines: int
    omitted: int
    """Bytes the cap cut out of the middle (0: the log is whole)."""


def marker(omitted: int) -> str:
    """The line that stands where a capped log's middle was."""
    return f"[… truncated, {omitted} bytes …]"


def cap(text: str, max_bytes: int) -> tuple[str, int]:
    """`text` within `max_bytes` (UTF-8): its start, the marker, its end; and how many bytes were cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text, 0
    head, tail = _budget(max_bytes, len(data))
    return _join(data[:head], data[len(data) - tail :], len(data))


def read_capped(path: Path, max_bytes: int) -> tuple[str, int]:
    """`cap` of a log file, reading only the parts that are kept (a step may print gigabytes)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if size <= max_bytes:
            return file.read().decode("utf-8", errors="replace"), 0
        head, tail = _budget(max_bytes, size)
        start = file.read(head)
        file.seek(size - tail)
        return _join(start, file.read(tail), size)


def _budget(max_bytes: int, whole: int) -> tuple[int, int]:
    """Bytes kept from the start and from the end, leaving room for the marker line."""
    room = max(max_bytes - len(marker(whole)) - 2, 0)
    head = room // HEAD_SHARE
    return head, room - head


def _join(head: bytes, tail: bytes, whole: int) -> tuple[str, int]:
    """Head and tail cut back to whole lines, and the marker between them."""
    newline = head.rfind(b"\n")
    head = head[: newline + 1] if newline >= 0 else head
    newline = tail.find(b"\n")
    tail = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail
    omitted = whole - len(head) - len(tail)
    text = head.decode("utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text += "\n"
    return text + marker(omitted) + "\n" + tail.decode("utf-8", errors="replace"), omitted


def pack(text: str, max_bytes: int) -> PackedLog:
    """A (redacted) log as stored: capped, then whole inline if small, else compressed plus its tail."""
    text, omitted = cap(text, max_bytes)
    data = text.encode("utf-8")
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if len(data) <= INLINE_BYTES:
        return PackedLog(text, None, len(data), lines, omitted)
    return PackedLog(tail(text), zlib.compress(data, _LEVEL), len(data), lines, omitted)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of `text`, and no more than `INLINE_BYTES` of them."""
    kept = "\n".join(text.rstrip("\n").splitlines()[-lines:])
    data = kept.encode("utf-8")
    if len(data) > INLINE_BYTES:  # a few very long lines
        kept = data[-INLINE_BYTES:].decode("utf-8", errors="ignore")
    return kept


def unpack(inline: str | None, compressed: bytes | None) -> str | None:
    """The whole stored log: the compressed one if there is one, else the inline text."""
    if compressed is not None:
        return zlib.decompress(compressed).decode("utf-8", errors="replace")
    return inline


def stored(log: str | None, max_bytes: int) -> dict[str, Any]:
    """The attempts table's log columns for a (redacted) log."""
    if not log:
        return {"log": None, "log_z": None, "log_bytes": None, "log_lines": None, "log_omitted": None}
    packed = pack(log, max_bytes)
    return {
        "log": packed.inline,
        "log_z": packed.compressed,
        "log_bytes": packed.size,
        "log_lines": packed.lines,
        "log_omitted": packed.omitted,
    }


def attempt_record(row: Mapping[Any, Any], *, full: bool) -> AttemptRecord:
    """An attempts row as a record: its log whole when `full` (or small), else the inline tail.

    `row` has `log_z` only when `full`: the pages never read the compressed logs.
    """
    compressed = row.get("log_z") if full else None
    text = unpack(row["log"], compressed)
    whole_inline = row["log_bytes"] is None or row["log_bytes"] <= INLINE_BYTES
    return AttemptRecord(
        attempt=row["attempt"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        transient=row["transient"],
        retry_in=row["retry_in"],
        log=text,
        log_bytes=row["log_bytes"],
        log_lines=row["log_lines"],
        log_omitted=row["log_omitted"] or 0,
        complete=whole_inline or compressed is not None,
    )
