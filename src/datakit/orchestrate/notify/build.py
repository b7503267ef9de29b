"""From configuration to channels: a job's `notifications.channels`, with datakit.yaml's settings and secrets.

Nothing here raises for a channel that cannot work (settings missing, secret unknown or unset): such a
channel becomes `Unavailable`, which explains itself as a warning whenever an event should have gone
out. `datakit validate` reports the same problems ahead of time; a run never fails because of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datakit.config.models.jobs import EmailChannel as InlineEmail
from datakit.config.models.jobs import WebhookChannel as InlineWebhook
from datakit.errors import DatakitError
from datakit.orchestrate.notify.channel import Channel, Unavailable
from datakit.orchestrate.notify.logline import LogChannel
from datakit.orchestrate.notify.smtp import EmailChannel
from datakit.orchestrate.notify.webhook import WebhookChannel

if TYPE_CHECKING:
    from datakit.config.models.jobs import Channel as ChannelConfig
    from datakit.config.models.jobs import Job
    from datakit.config.models.project import NotificationSettings
    from datakit.config.secrets import Secrets


def build_channels(job: Job, settings: NotificationSettings, secrets: Secrets) -> tuple[Channel, ...]:
    """One channel per entry of the job's `notifications.channels`, in order."""
    return tuple(_channel(entry, settings, secrets) for entry in job.notifications.channels)


def _channel(entry: ChannelConfig, settings: NotificationSettings, secrets: Secrets) -> Channel:
    if entry == "log":
        return LogChannel()
    if entry == "webhook" or isinstance(entry, InlineWebhook):
        if isinstance(entry, InlineWebhook):
            return _webhook(entry.url_secret_key, secrets)
        if settings.webhook is None:
            return Unavailable("webhook", "no notifications.webhook settings in datakit.yaml")
        return _webhook(settings.webhook.url_secret_key, secrets)
    recipients = entry.to if isinstance(entry, InlineEmail) else None
    return _email(settings, secrets, recipients)


def _webhook(key: str, secrets: Secrets) -> Channel:
    try:
        url = secrets.resolve(key)
    except DatakitError as exc:  # SecretError: the key is unknown, or required and unset
        return Unavailable("webhook", _reason(exc))
    if url is None:
        return Unavailable("webhook", f"secret '{key}' is not set for environment '{secrets.environment}'")
    return WebhookChannel(url)


def _email(settings: NotificationSettings, secrets: Secrets, recipients: list[str] | None) -> Channel:
    server = settings.email
    if server is None:  # an inline `{type: email, to: [...]}` still needs the SMTP server and sender
        return Unavailable("email", "no notifications.email settings (SMTP server, sender) in datakit.yaml")
    password = None
    if server.password_secret_key is not None:
        try:
            password = secrets.resolve(server.password_secret_key)
        except DatakitError as exc:
            return Unavailable("email", _reason(exc))
    return EmailChannel(
        host=server.smtp_host,
        port=server.smtp_port,
        sender=server.sender,
        to=tuple(recipients or server.to),
        username=server.username,
        password=password,
        starttls=server.starttls,
    )


def _reason(error: DatakitError) -> str:
    return f"{error.message} ({error.hint})" if error.hint else error.message
