"""Helpers for datakits as packages: copies of the Pagila datakit with planted changes, wheels, and a
fresh virtualenv to install them in (no index, no network: wheels built here, installed with --no-index)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import EXAMPLES

PAGILA_KIT = EXAMPLES / "pagila" / "datakits" / "pagila"


def copy_pagila_kit(target: Path, version: str | None = None) -> Path:
    """A copy of the Pagila datakit (with its pyproject.toml) at `target`, optionally at another version."""
    shutil.copytree(PAGILA_KIT, target, ignore=shutil.ignore_patterns("__pycache__", "dist"))
    if version is not None:
        set_version(target, version)
    return target


def set_version(kit: Path, version: str) -> None:
    pyproject = kit / "pyproject.toml"
    text = pyproject.read_text()
    assert 'version = "1.0.0"' in text
    pyproject.write_text(text.replace('version = "1.0.0"', f'version = "{version}"'))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


CUSTOMER_EMAIL = """    email: str | None = None
    address_id: int = Field(foreign_key="public.address.address_id")
    activebool: bool
    create_date: datetime.date"""
CUSTOMER_ACTIVE = "    active: int | None = None\n"


def drop_customer_email(kit: Path) -> None:
    """Breaking: the source `customer.email` column is removed."""
    edit(
        kit / "source" / "public.py",
        CUSTOMER_EMAIL,
        CUSTOMER_EMAIL.replace("    email: str | None = None\n", ""),
    )


def narrow_customer_active(kit: Path) -> None:
    """Breaking: the source `customer.active` column goes from int (int32) to smallint (int16)."""
    edit(
        kit / "source" / "public.py",
        CUSTOMER_ACTIVE,
        "    active: int | None = Field(default=None, sa_type=sa.SmallInteger)\n",
    )


def add_customer_loyalty_tier(kit: Path) -> None:
    """Compatible: a nullable column is added to the source `customer`."""
    edit(
        kit / "source" / "public.py",
        CUSTOMER_ACTIVE,
        CUSTOMER_ACTIVE + "    loyalty_tier: str | None = None\n",
    )


def build_wheel(kit: Path, out: Path) -> Path:
    """`datakit kit build KIT --out OUT` in a subprocess; the wheel it wrote."""
    done = subprocess.run(
        [sys.executable, "-m", "datakit", "kit", "build", str(kit), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    import json

    return Path(json.loads(done.stdout)["wheel"])


def fresh_venv(where: Path) -> Path:
    """A new virtualenv that sees datakit and its dependencies (this environment's site-packages, via a
    .pth file) but none of this environment's datakits; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    base = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "_datakit_base.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    return python


def pip_install(python: Path, *wheels: Path) -> None:
    """Install local wheels into the environment of `python`: no index, no dependencies fetched."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--no-deps",
            *map(str, wheels),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
