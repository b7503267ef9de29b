"""The `email` channel: a plain-text message through an SMTP server (STARTTLS and login if configured)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from datakit.log import redact
from datakit.orchestrate.notify.channel import NotificationError
from datakit.orchestrate.notify.events import RunEvent

TIMEOUT = 10.0


@dataclass(frozen=True)
class EmailChannel:
    """A plain-text email to `to`; `password` is revealed only to `smtp.login`."""

    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout: float = TIMEOUT
    name: str = "email"

    def send(self, event: RunEvent) -> None:
        import smtplib
        import ssl
        from email.message import EmailMessage

        message = EmailMessage()
        message["Subject"] = redact(event.subject)
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(redact(event.text()))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    password = self.password.get_secret_value() if self.password else ""
                    smtp.login(self.username, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            secret = self.password.get_secret_value() if self.password else None
            reason = f"{type(exc).__name__}: {redact(str(exc), [secret])}".rstrip(": ")
            raise NotificationError(
                self.name, f"sending through {self.host}:{self.port} failed: {reason}"
            ) from None
