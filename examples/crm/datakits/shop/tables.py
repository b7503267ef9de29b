"""The shop's table as it is (layer source)."""

from typing import ClassVar

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datakit.contracts import TableOptions


class Base(SQLModel, registry=registry()):
    """Base of the shop's tables."""


class Client(Base, table=True):
    """A client of the web shop (crm_shop.clients)."""

    __tablename__ = "clients"
    __datakit__: ClassVar[TableOptions] = TableOptions(system="shop")

    client_id: int = Field(primary_key=True)
    name: str
    email: str
    country_code: str | None = None
