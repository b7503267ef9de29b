"""File arrivals: a new or changed file in a watched folder fires its trigger once.

A file's identity for firing is its stamp — path, size and modification time (nanoseconds) — and the
tick key carries it (`<trigger>@file:<path>:<size>:<mtime_ns>`). A file seen again unchanged makes the
same key, so the state store's insert-if-absent drops it even after a restart, when what `FileWatch`
remembered is gone; a rewritten file makes a new key and fires again. Stamps, not checksums:
reading every file on every poll would cost what the load itself costs, and a changed mtime is what
"arrived again" means for a drop folder.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from datakit.config.models.triggers import EventTrigger, FileEvent
from datakit.orchestrate.triggers.ticks import Tick, require_aware


@dataclass(frozen=True, slots=True, order=True)
class FileStamp:
    """One file as the watcher saw it; `path` is relative to the project root, with `/` separators."""

    path: str
    size: int
    mtime_ns: int

    @property
    def modified(self) -> datetime:
        """The modification time as a UTC instant (to the microsecond)."""
        seconds, nanoseconds = divmod(self.mtime_ns, 1_000_000_000)
        return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)


def scan(root: Path, event: FileEvent) -> list[FileStamp]:
    """The regular files in the event's folder matching its pattern, sorted by path; [] if no folder."""
    folder = root / event.path
    if not folder.is_dir():
        return []
    stamps = []
    for path in folder.glob(event.pattern):
        try:
            info = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        if stat.S_ISREG(info.st_mode):
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            stamps.append(FileStamp(shown.as_posix(), info.st_size, info.st_mtime_ns))
    return sorted(stamps)


def file_key(trigger: str, stamp: FileStamp) -> str:
    """The tick key of one file state: `<trigger>@file:<path>:<size>:<mtime_ns>`."""
    return f"{trigger}@file:{stamp.path}:{stamp.size}:{stamp.mtime_ns}"


def file_ticks(
    trigger: EventTrigger,
    files: Iterable[FileStamp],
    seen: Mapping[str, FileStamp],
    now: datetime,
) -> list[Tick]:
    """Ticks for the files that are new or changed since `seen` (path -> stamp last fired), oldest first.

    A file changed less than the event's `settle` ago is left for a later poll: it may still be written.
    """
    event = trigger.event
    if not (trigger.enabled and isinstance(event, FileEvent)):
        return []
    now = require_aware(now, "now")
    ticks = []
    for stamp in files:
        if seen.get(stamp.path) == stamp:
            continue
        if event.settle and now - stamp.modified < event.settle:
            continue
        key = file_key(trigger.name, stamp)
        ticks.append(Tick(trigger.name, trigger.job, stamp.modified, key, "file_arrived", detail=stamp.path))
    ticks.sort(key=lambda tick: (tick.at, tick.key))
    return ticks


@dataclass
class FileWatch:
    """Polls one file trigger's folder and remembers what it has fired, so each file state fires once.

    The memory is an optimisation, not the guarantee: after a restart every present file is offered
    again and the caller's insert-if-absent of tick keys drops the ones already started.
    """

    trigger: EventTrigger
    root: Path
    seen: dict[str, FileStamp] = field(default_factory=dict)

    def poll(self, now: datetime) -> list[Tick]:
        """The ticks for files that arrived or changed since the last poll."""
        event = self.trigger.event
        if not isinstance(event, FileEvent):
            return []
        files = scan(self.root, event)
        ticks = file_ticks(self.trigger, files, self.seen, now)
        fired = {tick.detail for tick in ticks}
        self.seen.update((stamp.path, stamp) for stamp in files if stamp.path in fired)
        present = {stamp.path for stamp in files}
        for gone in self.seen.keys() - present:  # a deleted then re-created file is a new arrival
            del self.seen[gone]
        return ticks
