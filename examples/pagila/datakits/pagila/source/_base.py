"""The SQLModel base of this datakit.

Its own SQLAlchemy registry keeps these tables apart from other datakits' tables
of the same name.
"""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class Base(SQLModel, registry=registry()):
    """Base of every table class in this datakit."""
