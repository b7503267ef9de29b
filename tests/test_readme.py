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


def test_datakit_yaml_and_job_blocks_validate() -> None:
    """A block headed `# datakit.yaml` is valid project settings, a `job:` block a valid job."""
    from pydantic import ValidationError

    from datakit.config.models import Job, ProjectConfig

    checked = 0
    for line, block in yaml_blocks():
        data = yaml.safe_load(block)
        try:
            if block.startswith("# datakit.yaml"):
                ProjectConfig.model_validate({"name": "readme", **data})
            elif "job" in data:
                Job.model_validate(data["job"])
            else:
                continue
        except ValidationError as exc:
            raise AssertionError(f"README.md:{line}: {exc}") from None
        checked += 1
    assert checked >= 4
