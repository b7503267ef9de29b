"""The app datakit (A): the PostgreSQL app's accounts, and how they become CRM rows."""

from .tables import Customer
from .transforms import app_customer, app_person

__all__ = ["Customer", "app_customer", "app_person"]
