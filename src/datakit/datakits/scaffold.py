"""`datakit kit new NAME`: a datakit as a normal Python distribution, ready to test, build and publish.

    <name>/
      pyproject.toml              hatchling; version; the `datakit.datakits` entry point
      README.md
      src/<name>_datakit/
        __init__.py               Source, Bronze, the transforms
        _base.py                  SQLModel bases with registries of their own
        source.py                 contracts of the system as it is (layer source)
        bronze.py                 the same tables as bronze keeps them
        transforms.py             typed row transforms (@transform)
        factories.py              deterministic test rows for the contracts
        contracts/                YAML table specs (optional; classes and specs both count)
      tests/test_<name>.py        the datakit loads, factory rows pass, the transform maps them

The example table (`customer`) is there to be replaced; the tests pass as generated, so a team starts
from a green `pytest` and `datakit kit build`.
"""

from __future__ import annotations

import re
from pathlib import Path

from datakit.errors import UsageError

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{package}"
version = "0.1.0"
description = "The {name} datakit: contracts, transforms and factories of the {name} system."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["datakit>={datakit_version}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# How datakit finds the installed datakit: name = the module of its package.
[project.entry-points."datakit.datakits"]
{name} = "{module}"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
"""

_README = """\
# {package}

The `{name}` datakit: typed contracts of the {name} system, its bronze layer, typed transforms and
test factories, published as a Python package that warehouses pin.

```sh
pip install -e '.[test]' && pytest          # the datakit loads, factory rows pass its contracts
datakit kit build . --out dist              # dist/{module}-<version>-py3-none-any.whl, with its manifest
datakit kit check . --against v0.1.0        # changes since a git tag (or a wheel, or a folder)
```

A warehouse uses it by pinning it in its `datakit.yaml`, then naming it in pipelines (`datakit: {name}`):

```yaml
datakits:
  {name}: {{version: ">=0.1,<1", package: {package}}}
```

Versions follow semantic versioning, checked by `datakit kit check`: removing a table or column,
narrowing a type, making a column NOT NULL, changing a key or narrowing accepted values is a breaking
change and needs a new major version (a new minor one while the version is 0.x).
"""

_INIT = '''\
"""The {name} datakit: contracts of the {name} system, its bronze layer, and typed transforms.

    source.py       one SQLModel class per table of the system (layer `source`)
    bronze.py       the same tables as bronze keeps them
    transforms.py   typed row transforms, named in pipeline YAML (`transform: customer_bronze`)
    factories.py    deterministic test rows for the contracts

datakit finds every table class and every `@transform` by itself; nothing needs listing.
"""

from . import bronze as Bronze
from . import source as Source
from .transforms import customer_bronze

__all__ = ["Bronze", "Source", "customer_bronze"]
'''

_BASE = '''\
"""The SQLModel bases of this datakit, one per layer: each registry of its own keeps a layer's tables
apart from the other layer's (both have a `customer`) and from other datakits'."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class SourceBase(SQLModel, registry=registry()):
    """Base of the source tables."""


class BronzeBase(SQLModel, registry=registry()):
    """Base of the bronze tables."""
'''

_SOURCE = '''\
"""Tables of the {name} system as it has them (layer source)."""

import datetime
from typing import ClassVar

from sqlmodel import Field

from datakit.contracts import TableOptions

from ._base import SourceBase


class Customer(SourceBase, table=True):
    """A customer of {name} (an example: replace it with the system's tables)."""

    __tablename__ = "customer"
    __datakit__: ClassVar[TableOptions] = TableOptions(system="{name}")

    customer_id: int = Field(primary_key=True)
    email: str = Field(max_length=254)
    name: str | None = None
    created_at: datetime.datetime
'''

_BRONZE = '''\
"""The {name} tables as bronze keeps them: the source's columns, emails in lower case."""

import datetime
from typing import ClassVar

from sqlmodel import Field

from datakit.contracts import TableOptions

from ._base import BronzeBase


class Customer(BronzeBase, table=True):
    """A customer of {name}, loaded into bronze."""

    __tablename__ = "customer"
    __datakit__: ClassVar[TableOptions] = TableOptions(layer="bronze", system="{name}")

    customer_id: int = Field(primary_key=True)
    email: str = Field(max_length=254)
    name: str | None = None
    created_at: datetime.datetime
'''

_TRANSFORMS = '''\
"""Typed row transforms of the {name} datakit, named in pipeline YAML."""

from __future__ import annotations

from typing import Any

from datakit.datakits import transform

from . import bronze as Bronze
from . import source as Source


@transform
def customer_bronze(source: Source.Customer) -> Bronze.Customer:
    """Source customer -> bronze customer, the email in lower case."""
    row: dict[str, Any] = source.model_dump()
    row["email"] = source.email.lower()
    return Bronze.Customer.model_construct(**row)
'''

_FACTORIES = '''\
"""Test rows for the {name} contracts, deterministic by seed (see `datakit.factories`)."""

from __future__ import annotations

from typing import Any

from datakit.contracts import contract_from_sqlmodel
from datakit.factories import build_invalid_rows, build_rows

from . import source as Source


def customers(n: int, seed: int = 0) -> Any:
    """`n` valid rows of the source `customer` table, as a pyarrow Table."""
    return build_rows(contract_from_sqlmodel(Source.Customer), n, seed)


def customers_breaking(rule: str, n: int, seed: int = 0) -> Any:
    """`n` source customers each breaking `rule` (e.g. "not_null", "max_length")."""
    return build_invalid_rows(contract_from_sqlmodel(Source.Customer), n, rule, seed=seed)
'''

_SPECS_README = """\
YAML table specs of this datakit (one table, or a list of them, per file) are contracts like the
classes in source.py and bronze.py. Example:

    table: country
    layer: source
    primary_key: [code]
    columns:
      code: {type: string, max_length: 2}
      name: {type: string}
"""

_TEST = '''\
"""The {name} datakit: it loads, its factory rows pass its contracts, its transform maps them."""

import datetime
from pathlib import Path

from datakit.contracts import validate_batch
from datakit.datakits import datakit_at

ROOT = Path(__file__).resolve().parents[1]


def test_the_datakit_loads_with_its_tables_and_transforms() -> None:
    kit = datakit_at(ROOT)
    assert kit.name == "{name}"
    assert {{(str(t.layer), t.key) for t in kit.tables}} >= {{("source", "customer"), ("bronze", "customer")}}
    assert "customer_bronze" in kit.transforms


def test_factory_rows_pass_the_contract_and_broken_ones_do_not() -> None:
    kit = datakit_at(ROOT)
    contract = kit.contract("customer", "source")
    factories = kit.module.factories
    good = factories.customers(50, seed=1).combine_chunks().to_batches()[0]
    assert validate_batch(contract, good).rejected.num_rows == 0
    broken = factories.customers_breaking("not_null", 5, seed=1).combine_chunks().to_batches()[0]
    assert validate_batch(contract, broken).rejected.num_rows == 5


def test_the_transform_lowers_emails() -> None:
    kit = datakit_at(ROOT)
    typed = kit.transform("customer_bronze")
    when = datetime.datetime(2024, 1, 1)
    row = typed.source_model(customer_id=1, email="Ann@Example.COM", name="Ann", created_at=when)
    assert typed.func(row).email == "ann@example.com"
'''


def new_datakit(name: str, out: Path | None = None, *, package: str | None = None) -> Path:
    """Write a new datakit distribution for `name` into `out` (default `./<name>`); its root."""
    from datakit import __version__

    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a datakit name: use lower-case letters, digits and underscores",
            hint="e.g. `datakit kit new crm`",
        )
    root = (out or Path(name)).resolve()
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} exists and is not empty", hint="choose another folder with --out")
    module = f"{name}_datakit"
    dist = package or f"{name.replace('_', '-')}-datakit"
    values = {"name": name, "module": module, "package": dist, "datakit_version": __version__}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"src/{module}/__init__.py": _INIT,
        f"src/{module}/_base.py": _BASE,
        f"src/{module}/source.py": _SOURCE,
        f"src/{module}/bronze.py": _BRONZE,
        f"src/{module}/transforms.py": _TRANSFORMS,
        f"src/{module}/factories.py": _FACTORIES,
        f"src/{module}/contracts/README": _SPECS_README,
        f"tests/test_{name}.py": _TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template if relative.endswith("README") else template.format(**values)
        path.write_text(text, encoding="utf-8")
    return root
