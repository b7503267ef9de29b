"""The documentation site's pages and their examples, for the tests that keep them true."""

from __future__ import annotations

import shlex
from pathlib import Path

from datakit.utils.fences import Fence, fences
from tests.conftest import REPO

DOCS = REPO / "docs"
TUTORIAL = DOCS / "tutorial.md"
BACKGROUND = "in another terminal"  # a long-running process the test provides itself (the example API)


def pages() -> list[Path]:
    """Every hand-written page (the reference pages are generated at build time, not stored)."""
    return sorted(DOCS.rglob("*.md"))


def blocks(language: str) -> list[Fence]:
    """Every fenced block of `language` in the pages."""
    return [block for page in pages() for block in fences(page) if block.language == language]


def tutorial_script(path: Path = TUTORIAL) -> str:
    """The tutorial as one bash script: titled blocks written to their files, shell blocks run in order.

    Blocks titled `in another terminal` start long-running processes; the test starts them itself.
    """
    lines = ["set -euo pipefail"]
    for block in fences(path):
        if block.title == BACKGROUND:
            continue
        if block.language == "sh":
            lines += [f"echo {shlex.quote('### ' + block.where)}", block.text]
        elif block.title:
            target = shlex.quote(block.title)
            lines += [f'mkdir -p "$(dirname {target})"', f"cat > {target} <<'DATAKIT_DOCS_EOF'"]
            lines += [block.text.rstrip("\n"), "DATAKIT_DOCS_EOF"]
    return "\n".join(lines) + "\n"
