"""`Notifier`: sends a run's events to every channel of its job, and never lets a channel fail the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from datakit.log import get_logger, redact
from datakit.orchestrate.notify.channel import Channel, NotificationError
from datakit.orchestrate.notify.events import EventKind, RunEvent

if TYPE_CHECKING:
    from datakit.config.project import Project
    from datakit.config.secrets import Secrets

log = get_logger(__name__)


@dataclass(frozen=True)
class Notifier:
    """`on_failure` / `on_success` pick the run events; `sla_missed` always goes out (an SLA asks for it)."""

    channels: tuple[Channel, ...]
    on_failure: bool = True
    on_success: bool = False

    @classmethod
    def for_job(cls, project: Project, job_name: str, *, secrets: Secrets | None = None) -> Notifier:
        """The notifier of job `job_name`; `secrets` defaults to the process environment's."""
        from datakit.connectors.from_config import project_secrets
        from datakit.orchestrate.notify.build import build_channels

        job = project.job(job_name)
        channels = build_channels(job, project.config.notifications, secrets or project_secrets(project))
        return cls(channels, job.notifications.on_failure, job.notifications.on_success)

    def wants(self, kind: EventKind) -> bool:
        """Whether the job asked to hear about events of this kind."""
        if kind is EventKind.RUN_FAILED:
            return self.on_failure
        if kind is EventKind.RUN_SUCCEEDED:
            return self.on_success
        return True

    def __call__(self, event: RunEvent) -> None:
        """Send `event` to each channel in turn; a channel's failure is a warning, never an exception."""
        if not self.wants(event.kind):
            return
        for channel in self.channels:
            try:
                channel.send(event)
            except NotificationError as exc:
                log.warning(
                    "%s of job %s run %s not sent: %s", event.kind, event.job, event.run_id, redact(str(exc))
                )
            except Exception as exc:  # a bug in a channel must not fail the run either
                log.warning(
                    "%s of job %s run %s not sent: %s: unexpected %s: %s",
                    event.kind,
                    event.job,
                    event.run_id,
                    channel.name,
                    type(exc).__name__,
                    redact(str(exc)),
                )
