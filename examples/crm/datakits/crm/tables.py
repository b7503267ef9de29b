"""The consolidated tables (layer silver, schema sv__crm__main)."""

from typing import ClassVar

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datakit.contracts import TableOptions


class Base(SQLModel, registry=registry()):
    """Base of the CRM tables: a registry of their own."""


class Customer(Base, table=True):
    """A customer of any system, under the system's own id (ids collide across systems)."""

    __tablename__ = "customer"
    __datakit__: ClassVar[TableOptions] = TableOptions(layer="silver", system="crm")

    source_system: str = Field(primary_key=True, max_length=32, description="The source it came from.")
    customer_id: int = Field(primary_key=True, description="The id the source system gives it.")
    email: str = Field(max_length=254, regex=r"^[^@\s]+@[^@\s]+$")
    full_name: str = Field(max_length=200)
    country: str | None = Field(default=None, max_length=2, description="ISO 3166 alpha-2 code.")


class Person(Base, table=True):
    """A person by email address; `crm_person` picks the preferred system's row (`person__resolved`)."""

    __tablename__ = "person"
    __datakit__: ClassVar[TableOptions] = TableOptions(layer="silver", system="crm")

    email: str = Field(primary_key=True, max_length=254, regex=r"^[^@\s]+@[^@\s]+$")
    source_system: str = Field(max_length=32, description="The source this version came from.")
    full_name: str = Field(max_length=200)
    country: str | None = Field(default=None, max_length=2)
