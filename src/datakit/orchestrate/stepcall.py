"""What a step process does with its request: call `module:function(**kwargs)` and write the outcome.

A step process starts in one of two ways — spawned afresh (`subproc`) or forked from a warm step server
(`stepserver`) — and both end here, so they report in one form, which `subproc` reads back from the
request's `result` file: `{"ok": true, "result": ...}`, or `{"ok": false, "error": ..., "transient": ...}`
with the error's `details` when it has them (checks and dbt results of a failed step).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from datakit.errors import DatakitError


def execute_request(request: dict[str, Any]) -> int:
    """(In the step process.) Run the requested function, write its outcome; 0 on success, else 1."""
    module_name, _, function_name = request["target"].partition(":")
    outcome: dict[str, Any]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        outcome = {"ok": True, "result": function(**request["kwargs"])}
    except Exception as exc:  # reported to the parent, which decides about retries
        from datakit.log import redact
        from datakit.orchestrate.retry import is_transient

        message = str(exc) if isinstance(exc, DatakitError) else f"{type(exc).__name__}: {exc}"
        outcome = {"ok": False, "error": redact(message), "transient": is_transient(exc)}
        details = getattr(exc, "details", None)
        if details is not None:  # structured results of a failed step (checks, dbt)
            outcome["details"] = details
    Path(request["result"]).write_text(json.dumps(outcome, default=str), encoding="utf-8")
    return 0 if outcome["ok"] else 1
