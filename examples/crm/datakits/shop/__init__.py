"""The shop datakit (D): the MySQL web shop's clients, and how they become CRM rows."""

from .tables import Client
from .transforms import shop_customer, shop_person

__all__ = ["Client", "shop_customer", "shop_person"]
