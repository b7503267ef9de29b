"""The shop's clients as CRM customers and people (the loader fills `source_system`)."""

from __future__ import annotations

from datakit.datakits import requires, transform

from .tables import Client

Crm = requires("crm")


@transform
def shop_customer(source: Client) -> Crm.Customer:
    """A shop client -> crm.customer, under the shop's id."""
    return {
        "customer_id": source.client_id,
        "email": source.email.strip().lower(),
        "full_name": source.name.strip(),
        "country": source.country_code.upper() if source.country_code else None,
    }


@transform
def shop_person(source: Client) -> Crm.Person:
    """A shop client -> crm.person, by email."""
    return {
        "email": source.email.strip().lower(),
        "full_name": source.name.strip(),
        "country": source.country_code.upper() if source.country_code else None,
    }
