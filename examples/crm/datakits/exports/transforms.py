"""The exported rows as CRM customers and people (the loader fills `source_system`)."""

from __future__ import annotations

from typing import Any

from datakit.datakits import requires, transform

from .tables import Customer

Crm = requires("crm")


@transform
def export_customer(source: Customer) -> Crm.Customer:
    """An exported row -> crm.customer, under the partner's id."""
    return _row(source) | {"customer_id": source.id}


@transform
def export_person(source: Customer) -> Crm.Person:
    """An exported row -> crm.person, by email."""
    return _row(source)


def _row(source: Customer) -> dict[str, Any]:
    return {
        "email": source.email.strip().lower(),
        "full_name": f"{source.first_name} {source.last_name}".strip(),
        "country": source.country.upper() if source.country else None,
    }
