"""Helpers to build small projects on disk for config tests."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from tests.conftest import REPO

SEED = REPO / "tests" / "fixtures" / "seed002"
PAGILA = REPO / "examples" / "pagila"


def copy_project(base: Path, target: Path) -> Path:
    shutil.copytree(base, target, ignore=shutil.ignore_patterns(".datakit", "*.duckdb", ".vscode"))
    return target


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
