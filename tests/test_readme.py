"""The README's YAML examples are files a user can copy: valid YAML, one datakit object per block."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

KINDS = {"source", "destination", "pipeline", "job", "trigger", "checks", "warehouse", "target"}


def yaml_blocks() -> list[tuple[int, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(r"```yaml\n(.*?)```", text, re.S)
    ]


def test_every_yaml_block_is_one_object_a_user_can_copy_into_one_file() -> None:
    blocks = yaml_blocks()
    assert len(blocks) >= 5
    for line, block in blocks:
        data = yaml.safe_load(block)
        assert isinstance(data, dict), f"README.md:{line}: not a mapping"
        kinds = KINDS & set(data)
        assert len(kinds) <= 1, f"README.md:{line}: {sorted(kinds)} in one block (one file holds one object)"
