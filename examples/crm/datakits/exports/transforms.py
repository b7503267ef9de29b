"""The exported rows as CRM customers and people (the loader fills `source_system`)."""

from __future__ import annotations

from datakit.datakits import requires, transform

from .tables import Customer

Crm = requires("crm")


@transform
def export_customer(source: Customer) -> Crm.Customer:
    """An exported row -> crm.customer, under the partner's id."""
    return {
        "customer_id": source.id,
        "email": source.email.strip().lower(),
        "full_name": f"{source.first_name} {source.last_name}".strip(),
        "country": source.country.upper() if source.country else None,
    }


@transform
def export_person(source: Customer) -> Crm.Person:
    """An exported row -> crm.person, by email."""
    return {
        "email": source.email.strip().lower(),
        "full_name": f"{source.first_name} {source.last_name}".strip(),
        "country": source.country.upper() if source.country else None,
    }
