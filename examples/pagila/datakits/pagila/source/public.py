"""Tables of the public schema of the pagila system."""

import datetime
import decimal
from typing import ClassVar, Literal

import sqlalchemy as sa
from sqlmodel import Field

from datakit.contracts import TableOptions

from ._base import Base


class Actor(Base, table=True):
    __tablename__ = "actor"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    actor_id: int = Field(primary_key=True)
    first_name: str
    last_name: str
    last_update: datetime.datetime


class Address(Base, table=True):
    __tablename__ = "address"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    address_id: int = Field(primary_key=True)
    address: str
    address2: str | None = None
    district: str
    city_id: int = Field(foreign_key="public.city.city_id")
    postal_code: str | None = None
    phone: str
    last_update: datetime.datetime


class Category(Base, table=True):
    __tablename__ = "category"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    category_id: int = Field(primary_key=True)
    name: str
    last_update: datetime.datetime


class City(Base, table=True):
    __tablename__ = "city"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    city_id: int = Field(primary_key=True)
    city: str
    country_id: int = Field(foreign_key="public.country.country_id")
    last_update: datetime.datetime


class Country(Base, table=True):
    __tablename__ = "country"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    country_id: int = Field(primary_key=True)
    country: str
    last_update: datetime.datetime


class Customer(Base, table=True):
    __tablename__ = "customer"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    customer_id: int = Field(primary_key=True)
    store_id: int = Field(foreign_key="public.store.store_id")
    first_name: str
    last_name: str
    email: str | None = None
    address_id: int = Field(foreign_key="public.address.address_id")
    activebool: bool
    create_date: datetime.date
    last_update: datetime.datetime | None = None
    active: int | None = None


class Film(Base, table=True):
    __tablename__ = "film"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    film_id: int = Field(primary_key=True)
    title: str
    description: str | None = None
    release_year: int | None = Field(default=None, ge=1901, le=2155)
    language_id: int = Field(foreign_key="public.language.language_id")
    original_language_id: int | None = Field(default=None, foreign_key="public.language.language_id")
    rental_duration: int = Field(sa_type=sa.SmallInteger)
    rental_rate: decimal.Decimal = Field(max_digits=4, decimal_places=2)
    length: int | None = Field(default=None, sa_type=sa.SmallInteger)
    replacement_cost: decimal.Decimal = Field(max_digits=5, decimal_places=2)
    rating: Literal["G", "PG", "PG-13", "R", "NC-17"] | None = Field(default=None, sa_type=sa.Text)
    last_update: datetime.datetime
    special_features: list[str] | None = Field(default=None, sa_type=sa.ARRAY(sa.Text))
    fulltext: str


class FilmActor(Base, table=True):
    __tablename__ = "film_actor"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    actor_id: int = Field(primary_key=True, foreign_key="public.actor.actor_id")
    film_id: int = Field(primary_key=True, foreign_key="public.film.film_id")
    last_update: datetime.datetime


class FilmCategory(Base, table=True):
    __tablename__ = "film_category"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    film_id: int = Field(primary_key=True, foreign_key="public.film.film_id")
    category_id: int = Field(primary_key=True, foreign_key="public.category.category_id")
    last_update: datetime.datetime


class Inventory(Base, table=True):
    __tablename__ = "inventory"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    inventory_id: int = Field(primary_key=True)
    film_id: int = Field(foreign_key="public.film.film_id")
    store_id: int = Field(foreign_key="public.store.store_id")
    last_update: datetime.datetime


class Language(Base, table=True):
    __tablename__ = "language"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    language_id: int = Field(primary_key=True)
    name: str = Field(max_length=20)
    last_update: datetime.datetime


class Payment(Base, table=True):
    __tablename__ = "payment"
    __table_args__ = (sa.PrimaryKeyConstraint("payment_date", "payment_id"), {"schema": "public"})
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    payment_id: int
    customer_id: int
    staff_id: int
    rental_id: int
    amount: decimal.Decimal = Field(max_digits=5, decimal_places=2)
    payment_date: datetime.datetime


class Rental(Base, table=True):
    __tablename__ = "rental"
    __table_args__ = (sa.UniqueConstraint("rental_date", "inventory_id", "customer_id"), {"schema": "public"})
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    rental_id: int = Field(primary_key=True)
    rental_date: datetime.datetime
    inventory_id: int = Field(foreign_key="public.inventory.inventory_id")
    customer_id: int = Field(foreign_key="public.customer.customer_id")
    return_date: datetime.datetime | None = None
    staff_id: int = Field(foreign_key="public.staff.staff_id")
    last_update: datetime.datetime


class Staff(Base, table=True):
    __tablename__ = "staff"
    __table_args__ = ({"schema": "public"},)
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    staff_id: int = Field(primary_key=True)
    first_name: str
    last_name: str
    address_id: int = Field(foreign_key="public.address.address_id")
    email: str | None = None
    store_id: int = Field(foreign_key="public.store.store_id")
    active: bool
    username: str
    password: str | None = None
    last_update: datetime.datetime
    picture: bytes | None = None


class Store(Base, table=True):
    __tablename__ = "store"
    __table_args__ = (sa.UniqueConstraint("manager_staff_id"), {"schema": "public"})
    __datakit__: ClassVar[TableOptions] = TableOptions(system="pagila")

    store_id: int = Field(primary_key=True)
    manager_staff_id: int
    address_id: int = Field(foreign_key="public.address.address_id")
    last_update: datetime.datetime
