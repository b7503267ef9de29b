"""The package's promises about itself: a light import, and the public names."""

from __future__ import annotations

import subprocess
import sys

import datakit.contracts


def test_importing_contracts_loads_no_heavy_library() -> None:
    code = (
        "import sys, datakit.contracts, datakit.contracts.model, datakit.contracts.types;"
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'sqlalchemy', 'sqlmodel') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_names_resolve_lazily() -> None:
    for name in datakit.contracts.__all__:
        assert getattr(datakit.contracts, name) is not None
    assert datakit.contracts.Contract.__module__ == "datakit.contracts.model"
