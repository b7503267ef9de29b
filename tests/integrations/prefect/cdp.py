"""A page opened in headless Chromium and read as it renders, over the DevTools protocol.

Prefect's UI is a single-page application that fetches the flow run's task runs after it loads, so
`--dump-dom` (which returns at the first idle moment) sees an empty page. This drives the real browser
instead: open the page, then wait — on the page's own text, never on the clock — until what the test
looks for is shown, and keep a screenshot of it.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.browser import FLAGS, chromium_binary
from tests.waits import wait_until


class Page:
    """One browser tab: evaluate JavaScript in it, take its screenshot."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def text(self) -> str:
        result = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
        return str(result.get("result", {}).get("value", ""))

    def wait_for_text(self, *needles: str, guard: float = 120) -> str:
        """The page's text once it shows every one of `needles`."""
        seen: dict[str, str] = {}

        def shown() -> bool:
            seen["text"] = self.text()
            return all(needle in seen["text"] for needle in needles)

        wait_until(shown, f"the page to show {needles}", guard=guard)
        return seen["text"]

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def open_page(url: str, profile: Path) -> Iterator[Page]:
    """Headless Chromium showing `url` (its DevTools port chosen by Chromium: no port is guessed)."""
    from websockets.sync.client import connect

    profile.mkdir(parents=True, exist_ok=True)
    command = [
        str(chromium_binary()),
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--window-size=1400,1000",
        "about:blank",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        active = profile / "DevToolsActivePort"
        wait_until(active.is_file, "Chromium's DevTools port")
        wait_until(lambda: len(active.read_text().split()) >= 2, "Chromium's DevTools port to be written")
        port = active.read_text().split()[0]
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        (target,) = [t for t in targets if t.get("type") == "page"][:1]
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as socket:
            page = Page(socket)
            page.call("Page.enable")
            page.call("Page.navigate", url=url)
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
