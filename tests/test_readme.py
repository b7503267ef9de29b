"""The README is short — what datakit is, the two set-up commands, the way to the docs — and true."""

from __future__ import annotations

import re

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_gives_the_two_set_up_commands_and_the_makefile_has_them() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "docs"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_readme_is_short_and_every_link_it_gives_exists() -> None:
    """The long sections live on the documentation site; the README points at it."""
    assert len(README.splitlines()) < 60
    links = re.findall(r"\]\(([^)#]+)", README)
    assert "docs/index.md" in links
    assert "docs/tutorial.md" in links
    missing = [link for link in links if not (REPO / link).exists()]
    assert not missing, missing
