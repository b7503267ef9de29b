"""mkdocs-gen-files script: the reference pages, generated at build time, never written by hand.

The YAML kinds come from the config models (`datakit.config.reference`), the commands from the typer
app (`datakit.cli.reference`), the checks from the check registry (`datakit.quality.reference`).
Examples are real files: the example projects' configs and the guides' titled YAML blocks.
"""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files

from datakit.cli.reference import cli_reference
from datakit.config.reference import all_kinds, collect_examples, kind_reference, project_files
from datakit.quality.reference import checks_reference
from datakit.utils.fences import fences

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent


def guide_files() -> list[tuple[Path, str]]:
    """The YAML blocks of the hand-written pages that name their file (`title="config/..."`)."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for block in fences(page):
            if block.language == "yaml" and block.title and not block.title.startswith("transform/"):
                found.append((Path(block.title.split()[0]), block.text))
    return found


files = project_files(REPO / "examples") + guide_files()
examples = collect_examples(files)
nav = mkdocs_gen_files.Nav()
for kind in all_kinds():
    page = kind_reference(kind, examples.get(kind.key, {}))
    name = "project" if kind.key == "project" else kind.key
    with mkdocs_gen_files.open(f"reference/config/{name}.md", "w") as out:
        out.write(page.markdown)
with mkdocs_gen_files.open("reference/cli.md", "w") as out:
    out.write(cli_reference())
with mkdocs_gen_files.open("reference/checks.md", "w") as out:
    out.write(checks_reference(files))
