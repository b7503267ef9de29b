"""Datakit packages: discovery of contracts and transforms, isolation between imports, and errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from datakit.datakits import DatakitPackageError, load_datakit

CUSTOMER = """
from sqlmodel import Field, SQLModel
from datakit.contracts import TableOptions, TransactionalTableMixin


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    customer_id: int = Field(primary_key=True)
    full_name: str = Field(max_length=90)
    email: str | None = None


class BronzeCustomer(TransactionalTableMixin, SQLModel, table=True):
    __tablename__ = "bronze_customer"
    __datakit__ = TableOptions(layer="bronze", history=True)
    id: int = Field(primary_key=True)
    name: str
    email: str | None = None
"""

TRANSFORMS = """
from datakit.datakits import transform
from .models import BronzeCustomer, Customer


@transform
def customer_bronze_transform(source: Customer) -> BronzeCustomer:
    return BronzeCustomer(id=source.customer_id, name=source.full_name.upper(), email=source.email)


@transform(name="renamed")
def other(source: Customer) -> BronzeCustomer:
    return BronzeCustomer(id=source.customer_id, name=source.full_name, email=None)
"""

SPEC = """
table: order
layer: bronze
primary_key: [order_id]
columns:
  order_id: {type: integer}
  amount: {type: decimal, precision: 10, scale: 2, min: 0}
"""


def write_kit(folder: Path, name: str, files: dict[str, str]) -> Path:
    package = folder / name
    for relative, text in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_contracts_transforms_and_specs_are_discovered(tmp_path: Path) -> None:
    write_kit(
        tmp_path,
        "shop",
        {"models.py": CUSTOMER, "transforms.py": TRANSFORMS, "contracts/order.yaml": SPEC},
    )
    kit = load_datakit(tmp_path, "shop")
    assert [str(layer) for layer in kit.layers] == ["source", "bronze"]
    source = kit.contract("customer", "source")
    assert source.column_names == ("customer_id", "full_name", "email")
    assert source.system == "shop"  # a contract that names no system belongs to its datakit
    assert source.column("full_name").max_length == 90
    bronze = kit.contract("bronze_customer", "bronze")
    assert bronze.history and bronze.mixins == ("transactional",)
    assert bronze.column_names[-3:] == ("created_at", "updated_at", "systime")
    order = kit.contract("order", "bronze")
    assert order.primary_key == ("order_id",)
    assert kit.table("order", "bronze").file == tmp_path / "shop" / "contracts" / "order.yaml"
    assert sorted(kit.transforms) == ["customer_bronze_transform", "renamed"]
    typed = kit.transform("customer_bronze_transform")
    assert typed.source_model.__name__ == "Customer"
    assert typed.target_model.__name__ == "BronzeCustomer"
    row = typed.func(typed.source_model(customer_id=1, full_name="Mary Smith", email="m@x"))
    assert (row.id, row.name) == (1, "MARY SMITH")


def test_equal_table_names_in_two_datakits_do_not_clash(tmp_path: Path) -> None:
    # Both declare `customer` on SQLModel's default base: imported side by side (and again after an
    # edit), each gets its own module name and metadata.
    write_kit(tmp_path, "first", {"models.py": CUSTOMER})
    write_kit(tmp_path, "second", {"models.py": CUSTOMER.replace("max_length=90", "max_length=40")})
    first = load_datakit(tmp_path, "first")
    second = load_datakit(tmp_path, "second")
    assert first.contract("customer", "source").column("full_name").max_length == 90
    assert second.contract("customer", "source").column("full_name").max_length == 40
    assert first.module.__name__ != second.module.__name__
    assert load_datakit(tmp_path, "first") is first  # unchanged files: imported once
    time.sleep(0.01)
    models = tmp_path / "first" / "models.py"
    models.write_text(models.read_text().replace("max_length=90", "max_length=95"))
    reloaded = load_datakit(tmp_path, "first")
    assert reloaded.contract("customer", "source").column("full_name").max_length == 95


def test_missing_datakit_suggests_the_closest(tmp_path: Path) -> None:
    write_kit(tmp_path, "pagila", {})
    with pytest.raises(DatakitPackageError) as caught:
        load_datakit(tmp_path, "pagilla")
    assert "no datakit 'pagilla'" in str(caught.value)
    assert caught.value.hint == "did you mean 'pagila'?"


def test_import_error_in_user_code_names_file_and_line(tmp_path: Path) -> None:
    write_kit(tmp_path, "broken", {"models.py": "x = 1\n\nraise RuntimeError('boom')\n"})
    with pytest.raises(DatakitPackageError) as caught:
        load_datakit(tmp_path, "broken")
    message = str(caught.value)
    assert f"{tmp_path / 'broken' / 'models.py'}:3:" in message
    assert "RuntimeError: boom" in message
    assert not [name for name in sys.modules if name.startswith("_datakit_broken_")]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write_kit(tmp_path, "typo", {"models.py": "class A:\n    x = (\n"})
    with pytest.raises(DatakitPackageError) as caught:
        load_datakit(tmp_path, "typo")
    assert str(tmp_path / "typo" / "models.py") in str(caught.value)
    assert "SyntaxError" in str(caught.value)


def test_unknown_table_and_transform_suggest_names(tmp_path: Path) -> None:
    write_kit(tmp_path, "shop", {"models.py": CUSTOMER, "transforms.py": TRANSFORMS})
    kit = load_datakit(tmp_path, "shop")
    with pytest.raises(DatakitPackageError) as table:
        kit.contract("custome", "source")
    assert "has no source table 'custome'" in str(table.value)
    assert table.value.hint == "did you mean 'customer'?"
    with pytest.raises(DatakitPackageError) as layer:
        kit.contract("customer", "silver")
    assert layer.value.hint == "it has 'customer' in source"
    with pytest.raises(DatakitPackageError) as transform:
        kit.transform("customer_bronze_transfrom")
    assert transform.value.hint == "did you mean 'customer_bronze_transform'?"


def test_transform_with_untyped_argument_fails_where_it_is_written(tmp_path: Path) -> None:
    bad = (
        CUSTOMER
        + "\nfrom datakit.datakits import transform\n\n@transform\ndef t(source: dict) -> Customer:\n"
    )
    bad += "    return source\n"
    write_kit(tmp_path, "shop", {"models.py": bad})
    with pytest.raises(DatakitPackageError) as caught:
        load_datakit(tmp_path, "shop")
    line = bad.splitlines().index("def t(source: dict) -> Customer:") + 1
    assert f"models.py:{line}:" in str(caught.value) or f"models.py:{line - 1}:" in str(caught.value)
    assert "argument annotation must be a SQLModel table class, not dict" in str(caught.value)


def test_invalid_yaml_spec_names_the_file(tmp_path: Path) -> None:
    write_kit(
        tmp_path, "shop", {"contracts/bad.yaml": "table: t\ncolumns:\n  a: {type: integer, max_lenght: 3}\n"}
    )
    with pytest.raises(DatakitPackageError) as caught:
        load_datakit(tmp_path, "shop")
    assert f"{tmp_path / 'shop' / 'contracts' / 'bad.yaml'}:1:" in str(caught.value)
    assert "max_lenght" in str(caught.value)


def test_same_table_twice_in_one_layer_is_an_error(tmp_path: Path) -> None:
    write_kit(
        tmp_path,
        "shop",
        {
            "contracts/a.yaml": "table: t\ncolumns: {a: {type: integer}}\n",
            "contracts/b.yml": "table: t\ncolumns: {a: {type: text}}\n",
        },
    )
    with pytest.raises(DatakitPackageError, match="defines the source table 't' twice"):
        load_datakit(tmp_path, "shop")


def test_importing_the_package_is_light() -> None:
    code = "import sys, datakit.datakits; print('sqlmodel' in sys.modules, 'sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def test_nested_modules_are_found_and_test_modules_skipped(tmp_path: Path) -> None:
    write_kit(
        tmp_path,
        "deep",
        {
            "layers/__init__.py": "",
            "layers/source/__init__.py": "",
            "layers/source/models.py": CUSTOMER,
            "tests/__init__.py": "raise RuntimeError('tests are not part of the datakit')",
            "test_models.py": "import pytest_only_module",
        },
    )
    kit = load_datakit(tmp_path, "deep")
    assert kit.contract("customer", "source").column_names == ("customer_id", "full_name", "email")
