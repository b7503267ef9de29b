"""The app's table as it is (layer source)."""

import datetime
from typing import ClassVar

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from datakit.contracts import TableOptions


class Base(SQLModel, registry=registry()):
    """Base of the app's tables."""


class Customer(Base, table=True):
    """An account of the app (public.customers)."""

    __tablename__ = "customers"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="app")

    customer_id: int = Field(primary_key=True)
    email: str
    full_name: str
    country: str | None = None
    created_at: datetime.datetime
