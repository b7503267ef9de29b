"""Drive headless Chromium through the DevTools protocol on a pipe: type, click, read the DOM.

`--remote-debugging-pipe` makes Chromium read protocol messages from fd 3 and write its answers to
fd 4, each a JSON object ended by a NUL byte; no port, no websocket library. Every wait is on an
event: a command's answer, or a promise the page resolves when what the test waits for happened.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.browser import FLAGS, chromium_binary

EVALUATE_TIMEOUT_MS = 30_000


class Browser:
    """One headless Chromium with one page, opened at `url`."""

    def __init__(self, profile: Path, url: str) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        command = [str(chromium_binary()), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        self.process = subprocess.Popen(
            command,
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(to_browser, 3), os.dup2(from_browser, 4)),  # noqa: PLW1509
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=self.session)
        self.send("Page.navigate", {"url": url}, session=self.session)
        self.wait_for("Page.loadEventFired")

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one command and return its result (events arriving meanwhile are dropped)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            message = self._receive()
            if message.get("method") == event:
                return message

    def evaluate(self, script: str) -> Any:
        """The value of `script` in the page (a promise is awaited; an exception is raised here)."""
        options = {"awaitPromise": True, "returnByValue": True, "timeout": EVALUATE_TIMEOUT_MS}
        result = self.send("Runtime.evaluate", {"expression": script, **options}, session=self.session)
        if "exceptionDetails" in result:
            raise AssertionError(f"in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            os.write(self._write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._write)
            os.close(self._read)

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
