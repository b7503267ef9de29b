"""`openlineage:` in datakit.yaml: validated like every config, off when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.config import load_project
from datakit.errors import ConfigError
from datakit.lineage.openlineage import step_observer
from tests.pagila_project import copy_pagila_project


def _with(tmp_path: Path, block: str) -> Path:
    root = copy_pagila_project(tmp_path)
    with (root / "datakit.yaml").open("a") as config:
        config.write(block)
    return root


def test_absent_or_disabled_is_off(tmp_path: Path) -> None:
    assert step_observer(load_project(copy_pagila_project(tmp_path / "a"))) is None
    root = _with(tmp_path / "b", "openlineage:\n  enabled: false\n  transport: {type: console}\n")
    assert step_observer(load_project(root)) is None


def test_an_http_transport_is_read(tmp_path: Path) -> None:
    transport = "{type: http, url: 'http://127.0.0.1:5000', timeout: 2}"
    root = _with(tmp_path, f"openlineage:\n  transport: {transport}\n")
    settings = load_project(root).config.openlineage
    assert settings is not None and settings.transport.type == "http"
    assert (settings.transport.url, settings.transport.timeout) == ("http://127.0.0.1:5000", 2.0)  # type: ignore[union-attr]


def test_mistakes_are_reported_where_they_are(tmp_path: Path) -> None:
    transport = "{type: http, url: 'http://x', api_key_secret_key: nope}"
    root = _with(tmp_path / "a", f"openlineage:\n  transport: {transport}\n")
    with pytest.raises(ConfigError, match=r"datakit\.yaml:\d+:\d+: .*unknown secret 'nope'"):
        load_project(root)
    root = _with(tmp_path / "b", "openlineage:\n  transport: {type: http, urll: 'http://x'}\n")
    with pytest.raises(ConfigError, match=r"datakit\.yaml:\d+:\d+: .*urll"):
        load_project(root)
