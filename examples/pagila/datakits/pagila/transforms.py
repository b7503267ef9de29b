"""Typed row transforms from Pagila's source tables to bronze, registered with `@transform`."""

from __future__ import annotations

import datetime

from datakit.datakits import transform

from .bronze import public as Bronze
from .source import public as Source


@transform
def customer_bronze_transform(source: Source.Customer) -> Bronze.Customer:
    """Source customer -> bronze customer: emails in lower case, the source's dates as the mixin's."""
    created = datetime.datetime.combine(source.create_date, datetime.time(), tzinfo=datetime.UTC)
    return Bronze.Customer(
        customer_id=source.customer_id,
        store_id=source.store_id,
        first_name=source.first_name,
        last_name=source.last_name,
        email=source.email.lower() if source.email else None,
        address_id=source.address_id,
        activebool=source.activebool,
        last_update=source.last_update,
        active=source.active,
        created_at=created,
        updated_at=source.last_update or created,
    )
