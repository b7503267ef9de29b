"""The `webhook` channel: POST the event's JSON summary to a URL kept in the secrets mapping.

The URL is a secret (a Slack or Teams incoming-webhook URL is a bearer credential), so it is revealed
only to httpx, and no error raised here quotes it or httpx's own text (which may name the URL).
One retry at most, after a short pause, and only when a second try can help: a connection problem or
a 5xx. Each try has a short timeout, so a dead receiver delays the end of a run by seconds, not minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from datakit.log import redact
from datakit.orchestrate.notify.channel import NotificationError
from datakit.orchestrate.notify.events import RunEvent

TIMEOUT = 5.0
RETRY_PAUSE = 0.5


@dataclass(frozen=True)
class WebhookChannel:
    """Slack, Teams, an incident tool: anything that takes a JSON POST. `sleep` is injectable for tests."""

    url: SecretStr
    timeout: float = TIMEOUT
    retry_pause: float = RETRY_PAUSE
    name: str = "webhook"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def send(self, event: RunEvent) -> None:
        import httpx  # lazily: the CLI starts without it

        # As httpx's `json=` writes it, with every form of every secret masked (JSON-escaped ones too).
        text = json.dumps(event.as_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        body = redact(text).encode("utf-8")
        problem = ""
        for attempt in (1, 2):
            if attempt == 2:
                self.sleep(self.retry_pause)
            try:
                with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                    response = client.post(
                        self.url.get_secret_value(),
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "User-Agent": "datakit",
                            "X-Datakit-Event": event.kind.value,
                        },
                    )
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):  # a wrong secret: trying again cannot help
                raise NotificationError(self.name, "the secret does not hold a valid http(s) URL") from None
            except httpx.TimeoutException as exc:
                problem = f"no answer within {self.timeout:g}s ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                problem = f"could not reach the receiver ({type(exc).__name__})"
                continue
            if response.status_code >= 500:
                problem = f"the receiver answered HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise NotificationError(self.name, f"the receiver refused: HTTP {response.status_code}")
            return
        raise NotificationError(self.name, f"{problem}, after 2 attempts")
