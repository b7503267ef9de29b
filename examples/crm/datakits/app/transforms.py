"""The app's accounts as CRM customers and people (the loader fills `source_system`)."""

from __future__ import annotations

from typing import Any

from datakit.datakits import requires, transform

from .tables import Customer

Crm = requires("crm")


@transform
def app_customer(source: Customer) -> Crm.Customer:
    """An app account -> crm.customer, under the app's id."""
    return _row(source) | {"customer_id": source.customer_id}


@transform
def app_person(source: Customer) -> Crm.Person:
    """An app account -> crm.person, by email."""
    return _row(source)


def _row(source: Customer) -> dict[str, Any]:
    return {
        "email": source.email.strip().lower(),
        "full_name": source.full_name.strip(),
        "country": source.country.upper() if source.country else None,
    }
