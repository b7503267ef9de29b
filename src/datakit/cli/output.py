"""Printing for the CLI: one console, problems one per line, JSON when asked, secrets masked always."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.text import Text

from datakit.errors import Problem
from datakit.log import redact

PIPED_WIDTH = 1000
"""Width when output is not a terminal: tables keep their natural width instead of rich's 80 columns
(a `datakit runs | grep` must see whole values, not `succee…`)."""


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, soft_wrap=True, highlight=False, width=PIPED_WIDTH if piped else None)


console = _console()
err_console = _console(stderr=True)


def fit_consoles() -> None:
    """Size the consoles for this invocation's streams and environment (`COLUMNS`), not for those of
    the moment this module was imported: one process may run many commands (the CLI in process, a
    notebook), and a width fixed at import cut later tables to whatever was current then. Commands
    import `console` when they run, so they get these."""
    global console, err_console  # noqa: PLW0603 - commands import these names when they run
    console = _console()
    err_console = _console(stderr=True)


def print_json(data: Any) -> None:
    """JSON on stdout, unstyled, so it pipes into jq."""
    sys.stdout.write(redact(json.dumps(data, indent=2, default=str)) + "\n")


def print_problems(problems: Iterable[Problem], *, stderr: bool = True) -> None:
    target = err_console if stderr else console
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        target.print(Text(redact(problem.render()), style=style))


def say(message: str, style: str | None = None) -> None:
    console.print(Text(redact(message), style=style or ""))


def error(message: str) -> None:
    err_console.print(Text(redact(message), style="red"))
