"""Notifications of job runs — failed, succeeded, SLA missed — to the log, a webhook or email.

`events` says what happened (from the run history), each channel module delivers it one way,
`build` turns a job's configuration into channels, `Notifier` sends an event to all of them, and
`SlaWatch` notices a run outliving its SLA while it is still running.
"""

from datakit.orchestrate.notify.channel import Channel, NotificationError, Unavailable
from datakit.orchestrate.notify.events import EventKind, RunEvent, StepSummary, sla_text
from datakit.orchestrate.notify.notifier import Notifier
from datakit.orchestrate.notify.sla import SlaWatch

__all__ = [
    "Channel",
    "EventKind",
    "NotificationError",
    "Notifier",
    "RunEvent",
    "SlaWatch",
    "StepSummary",
    "Unavailable",
    "sla_text",
]
