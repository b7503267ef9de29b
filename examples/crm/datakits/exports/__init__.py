"""The exports datakit (E): a partner's CSV files of customers, and how they become CRM rows."""

from .tables import Customer
from .transforms import export_customer, export_person

__all__ = ["Customer", "export_customer", "export_person"]
