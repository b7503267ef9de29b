"""Fenced code blocks of a Markdown file, with the language and attributes of their info string.

The documentation site's examples are such blocks: its reference shows the YAML ones, and its tests
validate them (a block titled with a file's path, ```` ```yaml title="config/sources/shop.yaml" ````,
is that file) and run the shell ones.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>```+)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Fence:
    """One fenced block: where it starts, its language, its `key="value"` attributes and its text."""

    path: Path
    line: int
    language: str
    attributes: dict[str, str]
    text: str

    @property
    def title(self) -> str | None:
        return self.attributes.get("title")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def fences(path: Path, text: str | None = None) -> list[Fence]:
    """Every fenced block of the Markdown file at `path`, in order (indented ones de-indented)."""
    text = path.read_text(encoding="utf-8") if text is None else text
    found = []
    for match in _FENCE.finditer(text):
        words = shlex.split(match["info"].strip()) if match["info"].strip() else []
        language = words[0] if words and "=" not in words[0] else ""
        attributes = dict(w.split("=", 1) for w in words if "=" in w)
        indent = match["indent"]
        body = "".join(
            line[len(indent) :] if line.startswith(indent) else line
            for line in match["body"].splitlines(keepends=True)
        )
        found.append(Fence(path, text[: match.start()].count("\n") + 1, language, attributes, body))
    return found
