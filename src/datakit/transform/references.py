"""Which bronze tables a dbt project reads: the generated sources declare those, and only those.

Declaring a source table costs more than a line of YAML: its generated `not_null`/`unique` tests run in
every unselected `dbt build`, and fail when the table does not exist — a pipeline added but not yet
run, or one that a tenant's jobs do not run. So the generated sources list the bronze tables the dbt
project names in `source('schema', 'table')` calls, found by reading its files (models, macros,
tests, snapshots, analyses; SQL, YAML and Python models).

The reading is literal: dbt's own static extractor gives up on any macro call, which most projects
make, and a regular expression over the files is enough for the literal form. When some `source(`
call is not literal (`source(var('x'), 'y')`, a name built in Jinja), datakit cannot know what it
names, and the generated sources list every table instead (the behaviour without this filter).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datakit.transform.dbt_project import DbtProject

_CALL = re.compile(r"\bsource\s*\(")
_LITERAL = re.compile(r"""\bsource\s*\(\s*(['"])([^'"]+)\1\s*,\s*(['"])([^'"]+)\3\s*\)""")
_PATH_KEYS = ("model-paths", "macro-paths", "test-paths", "snapshot-paths", "analysis-paths")
_DEFAULT_PATHS: dict[str, list[str]] = {
    "model-paths": ["models"],
    "macro-paths": ["macros"],
    "test-paths": ["tests"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
}
_SUFFIXES = frozenset({".sql", ".yml", ".yaml", ".py"})


def referenced_sources(dbt: DbtProject) -> set[tuple[str, str]] | None:
    """Every `(source, table)` the dbt project names literally; None when some call is not literal."""
    found: set[tuple[str, str]] = set()
    for folder in _folders(dbt):
        for path in sorted(folder.rglob("*")):
            if path.suffix not in _SUFFIXES or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            literal = [(m.group(2), m.group(4)) for m in _LITERAL.finditer(text)]
            if len(literal) != len(_CALL.findall(text)):
                return None
            found.update(literal)
    return found


def _folders(dbt: DbtProject) -> list[Path]:
    folders: list[Path] = []
    for key in _PATH_KEYS:
        paths = dbt.config.get(key) or (
            list(dbt.model_paths) if key == "model-paths" else _DEFAULT_PATHS[key]
        )
        for path in paths if isinstance(paths, list) else []:
            folder = (dbt.path / path).resolve()
            if folder.is_dir() and folder not in folders:
                folders.append(folder)
    return folders
