"""`warehouse:` files — tenants that deploy the same datakits and jobs to their own targets."""

from __future__ import annotations

from pydantic import Field

from datakit.config.models.common import Description, DestinationRef, JobRef, Name, StrictModel, Tags
from datakit.config.models.triggers import CronExpression, TimeZone

Variable = str | int | float | bool


class ScheduleOverride(StrictModel):
    enabled: bool | None = None
    cron: CronExpression | None = None
    timezone: TimeZone | None = None


class Warehouse(StrictModel):
    """A tenant: its destinations, its secrets, the jobs it runs and variables for configs and dbt."""

    name: Name
    description: Description
    tags: Tags
    destinations: list[DestinationRef] = Field(min_length=1)
    jobs: list[JobRef] = Field(default_factory=list)
    schema_prefix: str | None = Field(None, description="Prefix of every schema this tenant writes.")
    variables: dict[str, Variable] = Field(default_factory=dict, description="Visible to dbt as var('name').")
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Secret key used by the configs -> this tenant's own key in the secrets mapping.",
    )
    schedules: dict[str, ScheduleOverride] = Field(
        default_factory=dict, description="Trigger name -> overrides for this tenant."
    )
