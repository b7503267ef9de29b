"""The two ways of writing a contract — a SQLModel class and a YAML table spec — and mixins."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional

import pytest
import sqlalchemy as sa
import yaml
from pydantic import StringConstraints
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datakit.contracts.audit import AUDIT_COLUMN_NAMES, with_audit_columns
from datakit.contracts.errors import ContractError
from datakit.contracts.mixins import TableMixin, TransactionalTableMixin, mixin_class, mixin_registry
from datakit.contracts.model import Layer
from datakit.contracts.spec import TableSpec, contract_from_spec
from datakit.contracts.sqlmodel_source import TableOptions, contract_from_sqlmodel


class Base(SQLModel, registry=registry()):
    """A registry of these tests' own, so table names cannot clash with other tests' classes."""


SPEC = """
table: customer
layer: bronze
primary_key: [customer_id]
history: true
mixins: [transactional]
columns:
  customer_id: {type: integer, nullable: false}
  email: {type: string, max_length: 50, pattern: '^[^@]+@[^@]+$'}
  active: {type: boolean}
  rating: {type: string, accepted_values: [G, PG, PG-13, R, NC-17]}
  amount: {type: decimal, precision: 5, scale: 2, min: 0}
"""


class Customer(TransactionalTableMixin, Base, table=True):
    __tablename__ = "customer"
    __datakit__: ClassVar[TableOptions] = TableOptions(layer="bronze", history=True)

    customer_id: int = Field(primary_key=True)
    email: str | None = Field(default=None, max_length=50, regex=r"^[^@]+@[^@]+$")
    active: bool | None = None
    rating: Literal["G", "PG", "PG-13", "R", "NC-17"] | None = Field(default=None, sa_type=sa.Text)
    amount: Decimal | None = Field(default=None, max_digits=5, decimal_places=2, ge=0)


def test_sqlmodel_class_and_yaml_spec_give_equal_contracts() -> None:
    from_class = contract_from_sqlmodel(Customer)
    from_spec = contract_from_spec(yaml.safe_load(SPEC))
    assert from_class == from_spec
    assert from_class.column_names == (
        "customer_id",
        "email",
        "active",
        "rating",
        "amount",
        "created_at",  # mixin columns come after the table's own
        "updated_at",
        "systime",
    )
    assert from_class.layer is Layer.BRONZE
    assert from_class.history
    assert from_class.mixins == ("transactional",)
    assert from_class.temporal_exclude == ("created_at", "updated_at", "systime")  # times, not changes
    email = from_class.column("email")
    assert (email.max_length, email.pattern, email.nullable) == (50, "^[^@]+@[^@]+$", True)
    assert from_class.column("rating").accepted_values == ("G", "PG", "PG-13", "R", "NC-17")
    assert str(from_class.column("amount").type) == "decimal(5,2)"
    assert from_class.column("amount").min == Decimal(0)
    assert str(from_class.column("systime").type) == "timestamptz"
    assert not from_class.column("created_at").nullable


class Rating(enum.Enum):
    G = "G"
    PG13 = "PG-13"


class Shapes(Base, table=True):
    """Every way a SQLModel class can state a rule."""

    __tablename__ = "shapes"
    __table_args__ = (
        sa.UniqueConstraint("code", "size"),
        sa.CheckConstraint("size >= 0 AND size <= 100", name="shapes_size_check"),
        {"schema": "shop"},
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(sa_type=sa.String(3))
    size: int = Field(sa_type=sa.SmallInteger)
    ratio: float | None = Field(default=None, gt=0, lt=1, sa_type=sa.REAL)
    rating: Rating | None = Field(default=None, sa_type=sa.Text)
    klass: str | None = Field(
        default=None, sa_column_kwargs={"name": "class"}, description="a keyword as a name"
    )
    parent_id: int | None = Field(default=None, foreign_key="shop.shapes.id", sa_type=sa.BigInteger)
    tags: list[str] | None = Field(default=None, sa_type=sa.ARRAY(sa.Text))
    payload: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    seen_at: datetime = Field(sa_type=sa.DateTime)
    token: str = Field(unique=True)


def test_sqlmodel_rules_from_every_source() -> None:
    contract = contract_from_sqlmodel(Shapes, system="shop_system")
    assert contract.name == "shapes"
    assert contract.schema_name == "shop"
    assert contract.system == "shop_system"
    assert contract.description == "Every way a SQLModel class can state a rule."
    assert contract.primary_key == ("id",)
    assert str(contract.column("id").type) == "int64"
    code = contract.column("code")
    assert (code.pattern, code.max_length, code.nullable) == ("^[A-Z]{3}$", 3, False)
    size = contract.column("size")
    assert (str(size.type), size.min, size.max) == ("int16", 0, 100)  # from the CheckConstraint
    ratio = contract.column("ratio")
    assert (str(ratio.type), ratio.min, ratio.min_exclusive, ratio.max, ratio.max_exclusive) == (
        "float32",
        0.0,
        True,
        1.0,
        True,
    )
    assert contract.column("rating").accepted_values == ("G", "PG-13")  # Enum values, stored as text
    assert "klass" not in contract.column_names
    assert contract.column("class").description == "a keyword as a name"
    assert contract.column("parent_id").foreign_key == "shapes.id"  # own schema left out
    assert str(contract.column("tags").type) == "array<string>"
    assert str(contract.column("payload").type) == "json"
    assert str(contract.column("seen_at").type) == "timestamp"
    assert contract.unique == (("code", "size"), ("token",))


def test_sqlmodel_enum_column_lists_stored_names() -> None:
    class Stored(Base, table=True):
        __tablename__ = "stored_enum"
        id: int = Field(primary_key=True)
        rating: Rating  # SQLAlchemy's Enum stores member names

    assert contract_from_sqlmodel(Stored).column("rating").accepted_values == ("G", "PG13")


def test_non_table_models_and_unknown_types_are_contract_errors() -> None:
    class Plain(SQLModel):
        id: int

    with pytest.raises(ContractError, match="not a table model"):
        contract_from_sqlmodel(Plain)  # type: ignore[arg-type]

    class Odd(Base, table=True):
        __tablename__ = "odd"
        id: int = Field(primary_key=True)
        shape: str = Field(sa_type=postgresql.TSVECTOR)

    with pytest.raises(ContractError, match=r"Odd\.shape: TSVECTOR\(\) has no logical type"):
        contract_from_sqlmodel(Odd)


def test_spec_type_spellings() -> None:
    contract = contract_from_spec(
        {
            "table": "t",
            "schema": "s",
            "columns": {
                "a": {"type": "integer", "size": 64, "primary_key": True},
                "b": {"type": "float", "size": 32},
                "c": {"type": "numeric(10,3)"},
                "d": {"type": "array", "items": "int16"},
                "e": {"type": "text[]"},
                "f": {"type": "string", "unique": True, "foreign_key": "other.f"},
                "g": {"type": "timestamptz", "min": "2020-01-01T00:00:00Z"},
            },
            "unique": [["b", "c"]],
        }
    )
    assert [str(column.type) for column in contract.columns] == [
        "int64",
        "float32",
        "decimal(10,3)",
        "array<int16>",
        "array<string>",
        "string",
        "timestamptz",
    ]
    assert contract.schema_name == "s"
    assert contract.primary_key == ("a",)
    assert not contract.column("a").nullable
    assert contract.unique == (("b", "c"), ("f",))
    assert contract.column("f").foreign_key == "other.f"


def test_spec_errors_list_every_problem() -> None:
    with pytest.raises(ContractError) as info:
        contract_from_spec(
            {
                "table": "t",
                "colums": {},
                "columns": {"a": {"type": "integer", "maxlength": 3}, "b": {"type": "varchar2"}},
            }
        )
    text = str(info.value)
    assert "t: invalid contract" in text
    assert "colums: Extra inputs are not permitted" in text
    assert "columns.a.maxlength: Extra inputs are not permitted" in text

    with pytest.raises(ContractError) as info:
        contract_from_spec(
            {
                "table": "t",
                "primary_key": ["a"],
                "columns": {
                    "a": {"type": "integer", "nullable": True},
                    "b": {"type": "varchar2"},
                    "c": {"type": "string", "precision": 3},
                    "d": {"type": "array"},
                },
            }
        )
    assert info.value.problems == (
        "columns.a: a primary key column cannot be nullable",
        "columns.b: unknown type 'varchar2'; known types: string, int16, int32, int64, float32, float64, "
        "decimal(p,s), boolean, date, time, timestamp, timestamptz, binary, json, uuid, interval, array<T>",
        "columns.c: precision and scale apply to decimal, not string",
        "columns.d: an array needs `items`, its item type",
    )


def test_spec_unknown_mixin_suggests_one() -> None:
    with pytest.raises(ContractError, match="unknown mixin 'transactionl'") as info:
        contract_from_spec({"table": "t", "mixins": ["transactionl"], "columns": {"a": {"type": "integer"}}})
    assert info.value.hint == "did you mean 'transactional'?"


def test_spec_column_clashing_with_a_mixin_column() -> None:
    with pytest.raises(ContractError, match=r"columns\.systime: also defined by mixin 'transactional'"):
        contract_from_spec(
            {"table": "t", "mixins": ["transactional"], "columns": {"systime": {"type": "timestamptz"}}}
        )


def test_table_spec_json_schema_forbids_extra_keys() -> None:
    schema = TableSpec.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "schema" in schema["properties"]
    assert schema["$defs"]["ColumnSpec"]["additionalProperties"] is False


class SoftDeleteMixin(TableMixin):
    __datakit_mixin__: ClassVar[str | None] = "soft_delete"
    __temporal_exclude__: ClassVar[tuple[str, ...]] = ()

    deleted_at: datetime | None = None


def test_user_mixins_register_by_name_and_work_in_both_routes() -> None:
    assert mixin_registry()["soft_delete"] is SoftDeleteMixin
    assert mixin_class("transactional") is TransactionalTableMixin

    class Order(SoftDeleteMixin, TransactionalTableMixin, Base, table=True):
        __tablename__ = "order_mixed"
        id: int = Field(primary_key=True)

    from_class = contract_from_sqlmodel(Order)
    from_spec = contract_from_spec(
        {
            "table": "order_mixed",
            "mixins": ["soft_delete", "transactional"],
            "columns": {"id": {"type": "integer"}},
            "primary_key": ["id"],
        }
    )
    assert from_class.mixins == ("soft_delete", "transactional")
    assert from_class.column_names == ("id", "deleted_at", "created_at", "updated_at", "systime")
    assert from_class == from_spec


def test_transactional_mixin_is_usable_as_in_the_seeds() -> None:
    row = Customer(customer_id=1, email="a@b")
    assert row.created_at.tzinfo is not None
    assert row.systime >= row.created_at


def test_audit_columns_are_appended_once() -> None:
    contract = contract_from_sqlmodel(Customer)
    audited = with_audit_columns(contract)
    assert audited.column_names[-2:] == AUDIT_COLUMN_NAMES == ("_dk_load_id", "_dk_record_hash")
    assert all(not audited.column(name).nullable for name in AUDIT_COLUMN_NAMES)
    assert str(audited.column("_dk_load_id").type) == str(audited.column("_dk_record_hash").type) == "int64"
    assert audited.temporal_exclude == ("created_at", "updated_at", "systime", *AUDIT_COLUMN_NAMES)
    assert audited.change_columns == contract.column_names[:-3]
    assert with_audit_columns(audited) == audited


def test_audit_column_names_are_reserved() -> None:
    for name in ("_dk_source", "_dk_loaded_at", "_dk_load_id"):  # the old layout's names too
        contract = contract_from_spec({"table": "t", "columns": {name: {"type": "integer"}}})
        with pytest.raises(ContractError, match="clash with the audit columns"):
            with_audit_columns(contract)


def test_sa_column_and_optional_are_read_like_any_field() -> None:
    class Legacy(Base, table=True):
        __tablename__ = "legacy"
        id: int = Field(sa_column=sa.Column("legacy_id", sa.Integer, primary_key=True))
        note: Optional[str] = Field(default=None, max_length=10)  # noqa: UP045
        score: Optional[Decimal] = Field(default=None, max_digits=3, decimal_places=1, le=Decimal("10"))  # noqa: UP045

    contract = contract_from_sqlmodel(Legacy)
    assert contract.column_names == ("legacy_id", "note", "score")
    assert contract.primary_key == ("legacy_id",)
    note, score = contract.column("note"), contract.column("score")
    assert (note.nullable, note.max_length) == (True, 10)
    assert (str(score.type), score.max) == ("decimal(3,1)", Decimal("10"))
