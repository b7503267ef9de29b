"""The CSV files' rows as they are (layer source)."""

from typing import ClassVar

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datakit.contracts import TableOptions


class Base(SQLModel, registry=registry()):
    """Base of the exports' tables."""


class Customer(Base, table=True):
    """A row of customers*.csv."""

    __tablename__ = "customers"
    __datakit__: ClassVar[TableOptions] = TableOptions(system="exports")

    id: int = Field(primary_key=True)
    email: str
    first_name: str
    last_name: str
    country: str | None = None
