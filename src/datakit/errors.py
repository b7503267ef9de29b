"""The one exception hierarchy of datakit.

Every error the package raises on purpose derives from `DatakitError`, so the CLI has exactly one place
that turns errors into messages and exit codes, and callers from Python can catch one type. Subclasses
carry structured fields (file, line, field, suggestion) instead of pre-formatted strings, and say whether
a retry could help (`transient`), so the orchestrator decides retries by type, not by parsing messages.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Literal


class ExitCode(IntEnum):
    """Named exit codes of the CLI."""

    OK = 0
    INVALID = 1  # the project (or the data it describes) is invalid, or a run failed
    USAGE = 2  # wrong command line: unknown option, missing argument, no project found


class DatakitError(Exception):
    """Root of every error datakit raises deliberately."""

    exit_code: ExitCode = ExitCode.INVALID
    transient: bool = False  # True when the same action may succeed if retried

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(DatakitError):
    """The command was called wrongly (bad option value, no project found, unknown name on the CLI)."""

    exit_code = ExitCode.USAGE


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One defect found in a project, located as precisely as the input allows.

    `kind` is the top-level key of the file (`source`, `pipeline`, `project`, `secrets`...), `field` the
    dotted path below it, so the rendering reads `file:line:col: kind.field: message`.
    """

    message: str
    file: Path | None = None
    line: int | None = None
    column: int | None = None
    kind: str | None = None
    field: str | None = None
    suggestion: str | None = None
    severity: Severity = "error"

    @property
    def location(self) -> str:
        """`path:line:col` with the path relative to the working directory when it is below it."""
        if self.file is None:
            return ""
        parts = [display_path(self.file)]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    @property
    def subject(self) -> str:
        """`kind.field.path`, or whichever part is known."""
        if self.kind and self.field:
            return f"{self.kind}.{self.field}"
        return self.kind or self.field or ""

    def render(self) -> str:
        """The one-line form users see: `file:line:col: kind.field: message (suggestion)`."""
        head = ": ".join(part for part in (self.location, self.subject) if part)
        text = self.message if self.severity == "error" else f"warning: {self.message}"
        if self.suggestion:
            text = f"{text} — {self.suggestion}"
        return f"{head}: {text}" if head else text

    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.file or ""), self.line or 0, self.column or 0, self.message)

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "severity": self.severity,
            "file": display_path(self.file) if self.file else None,
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "field": self.field,
            "message": self.message,
            "suggestion": self.suggestion,
            "text": self.render(),
        }


@dataclass
class ProblemList:
    """Collects problems so that a whole project is checked in one run, not stopped at the first."""

    items: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.items.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=Problem.sort_key)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.sorted())


class ConfigError(DatakitError):
    """The project's configuration is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        count = len(errors)
        summary = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__("\n".join([*(p.render() for p in self.problems), summary]))


class SecretError(DatakitError):
    """A secret is missing or refers to nothing. The message names the key and env var, never a value."""


class NotFoundError(UsageError):
    """A name given on the command line (or by Python callers) does not exist."""


def display_path(path: Path) -> str:
    """Show `path` relative to the working directory when it lies below it, as compilers do."""
    try:
        return os.path.relpath(path) if path.is_absolute() and _below_cwd(path) else str(path)
    except ValueError:  # a different drive on Windows
        return str(path)


def _below_cwd(path: Path) -> bool:
    try:
        path.relative_to(Path.cwd())
    except ValueError:
        return False
    return True


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean 'x'?` suggestion for a misspelt name, or None when nothing is close."""
    options = sorted(set(candidates))
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if matches:
        return f"did you mean '{matches[0]}'?"
    return None


def not_found(kind: str, name: str, candidates: Iterable[str]) -> NotFoundError:
    """A lookup failure with a suggestion and, when short, the list of what does exist."""
    options = sorted(set(candidates))
    hint = did_you_mean(name, options)
    if hint is None and options:
        shown = ", ".join(options[:10]) + (", ..." if len(options) > 10 else "")
        hint = f"known {kind}s: {shown}"
    elif hint is None:
        hint = f"the project defines no {kind}s"
    return NotFoundError(f"unknown {kind} '{name}'", hint=hint)
