"""The `log` channel: one line in datakit's log per event (WARNING for failures and SLA misses)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from datakit.log import get_logger
from datakit.orchestrate.notify.events import EventKind, RunEvent

log = get_logger(__name__)


@dataclass(frozen=True)
class LogChannel:
    """Always available, needs no settings: the default channel, and the trace of every event."""

    name: str = "log"

    def send(self, event: RunEvent) -> None:
        level = logging.INFO if event.kind is EventKind.RUN_SUCCEEDED else logging.WARNING
        detail = f"; resume with: {event.resume_command}" if event.kind is EventKind.RUN_FAILED else ""
        failed = [s.id for s in event.steps if s.status == "failed"]
        if failed:
            detail = f"; failed steps: {', '.join(failed)}{detail}"
        log.log(level, "%s (%s)%s", event.subject.removeprefix("[datakit] "), event.kind.value, detail)
