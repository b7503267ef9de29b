"""The documentation site builds strictly (a broken link, anchor or any warning fails it), and its
generated reference covers everything the models, the CLI and the check registry define.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from datakit.config.models import CHECK_KINDS, KINDS
from tests.conftest import REPO


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` of the repository's site, as `make docs` runs it."""
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "WARNING" not in done.stderr, done.stderr
    return out


def _type_values(union: object) -> set[str]:
    """The `type:` values of a discriminated union of models, read from each model's `type` Literal."""
    members = typing.get_args(typing.get_args(union)[0]) if typing.get_origin(union) else (union,)
    values: set[str] = set()
    for model in members:
        values.update(typing.get_args(model.model_fields["type"].annotation))
    return values


@pytest.mark.parametrize("key", ["source", "destination", "trigger"])
def test_the_reference_lists_every_type_the_models_define(site: Path, key: str) -> None:
    values = _type_values(KINDS[key].model)
    assert len(values) >= 3
    page = (site / "reference" / "config" / f"{key}.html").read_text(encoding="utf-8")
    missing = [v for v in sorted(values) if f'id="type-{v}"' not in page]
    assert not missing, f"{key} types without a section in the reference: {missing}"
    sections = {v: page.split(f'id="type-{v}"')[1].split('id="type-')[0] for v in values}
    no_example = [v for v in sorted(values) if "Example:" not in sections[v]]
    assert not no_example, f"{key} types without an example: {no_example}"


def test_the_reference_has_a_page_per_kind_every_command_and_every_check(site: Path) -> None:
    from datakit.cli.reference import command_tree, walk

    for key in ["project", *KINDS]:
        page = (site / "reference" / "config" / f"{key}.html").read_text(encoding="utf-8")
        assert "Example:" in page, f"the {key} reference has no example"
    cli = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    commands = [words for words, _ in walk(command_tree())]
    assert len(commands) > 20
    assert not [w for w in commands if f'id="{"-".join(w)}"' not in cli]
    assert "--full-refresh" in cli and "--max-parallelism" in cli
    checks = (site / "reference" / "checks.html").read_text(encoding="utf-8")
    assert not [k for k in CHECK_KINDS if f'id="{k}"' not in checks]


def test_the_site_opens_from_disk_with_its_search(site: Path) -> None:
    """The `offline` plugin: links end in .html and the search index is embedded, no server needed."""
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="tutorial.html"' in index
    assert (site / "search" / "search_index.js").is_file()
    assert "fonts.googleapis.com" not in index
