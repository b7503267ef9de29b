"""The app's accounts as CRM customers and people (the loader fills `source_system`)."""

from __future__ import annotations

from datakit.datakits import requires, transform

from .tables import Customer

Crm = requires("crm")


@transform
def app_customer(source: Customer) -> Crm.Customer:
    """An app account -> crm.customer, under the app's id."""
    return {
        "customer_id": source.customer_id,
        "email": source.email.strip().lower(),
        "full_name": source.full_name.strip(),
        "country": source.country.upper() if source.country else None,
    }


@transform
def app_person(source: Customer) -> Crm.Person:
    """An app account -> crm.person, by email."""
    return {
        "email": source.email.strip().lower(),
        "full_name": source.full_name.strip(),
        "country": source.country.upper() if source.country else None,
    }
