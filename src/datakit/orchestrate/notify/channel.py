"""The one interface every notification channel implements, and the error a channel raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from datakit.errors import DatakitError
from datakit.orchestrate.notify.events import RunEvent


class NotificationError(DatakitError):
    """A channel could not deliver. The message never holds a secret (URL, password): it is logged."""

    def __init__(self, channel: str, message: str) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel


class Channel(Protocol):
    """Delivers one event, or raises NotificationError; must give up within a few seconds."""

    @property
    def name(self) -> str: ...

    def send(self, event: RunEvent) -> None: ...


@dataclass(frozen=True)
class Unavailable:
    """A configured channel that cannot work (no settings, secret unset): says why at every event.

    Building the notifier never fails the run; the problem surfaces as a warning when there is
    something to send, which is when someone would have expected a message.
    """

    name: str
    reason: str

    def send(self, event: RunEvent) -> None:  # noqa: ARG002 - the Channel interface
        raise NotificationError(self.name, self.reason)
