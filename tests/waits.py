"""Tests wait on events, never on the clock: CI runs them on a loaded 2-core machine.

A test that waits for something (a file, a row, a thread) polls for it or blocks on an event; the only
time limit is `GUARD`, so that a broken test fails instead of hanging forever. It is never what a test
asserts, and it is generous enough that a slow machine never reaches it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

GUARD = 120.0
"""Seconds after which a wait gives up and fails the test: a bound for broken tests, not a speed goal."""


def wait_until(condition: Callable[[], bool], what: str, *, guard: float = GUARD) -> None:
    """Return as soon as `condition()` holds; fail the test, naming `what`, if it does not within `guard`."""
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {guard:g} s waiting for {what}")
        time.sleep(0.05)


def finishes(action: Callable[[], T], what: str, *, guard: float = GUARD) -> T:
    """`action()`, run in a thread so that a hang fails the test (naming `what`) instead of stalling it.

    Returns what `action` returns and raises what it raises (KeyboardInterrupt included).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="test-finishes")
    thread.start()
    thread.join(guard)
    if thread.is_alive():
        raise AssertionError(f"{what} did not finish within {guard:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])
