"""`warehouse:` files — tenants that deploy the same datakits and jobs to their own targets."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from datakit.config.models.airflow import AirflowTasks
from datakit.config.models.common import Description, DestinationRef, JobRef, Name, StrictModel, Tags
from datakit.config.models.triggers import CronExpression, TimeZone

Variable = str | int | float | bool
PREFIX_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    schema_prefix: str | None = Field(
        None,
        max_length=30,
        json_schema_extra={"pattern": PREFIX_PATTERN.pattern},
        description="Prefix of every schema this tenant writes (`acme_`): letters, digits and '_', so that "
        "`prefix + schema` stays one plain identifier on every engine.",
    )
    variables: dict[str, Variable] = Field(default_factory=dict, description="Visible to dbt as var('name').")
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Secret key used by the configs -> this tenant's own key in the secrets mapping.",
    )
    schedules: dict[str, ScheduleOverride] = Field(
        default_factory=dict, description="Trigger name -> overrides for this tenant."
    )
    airflow: AirflowTasks = Field(
        default_factory=AirflowTasks,
        description="priority_weight and queue of this tenant's Airflow tasks (over the job's).",
    )

    @field_validator("schema_prefix")
    @classmethod
    def _plain_prefix(cls, value: str | None) -> str | None:
        if value is not None and not PREFIX_PATTERN.fullmatch(value):
            plain = re.sub(r"[^A-Za-z0-9_]", "_", value)
            plain = plain if plain[:1].isalpha() or plain[:1] == "_" else f"t{plain}"
            raise ValueError(
                f"{value!r} cannot prefix schema names: use letters, digits and '_' (not first a digit), "
                f"e.g. {plain!r}"
            )
        return value
