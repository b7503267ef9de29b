"""`pipeline:` files — one source's resources into one destination layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from datakit.config.models.common import (
    Description,
    DestinationRef,
    Duration,
    Name,
    PositiveInt,
    SourceRef,
    StrictModel,
    Tags,
)

Layer = Literal["bronze", "silver", "gold"]
SchemaContract = Literal["evolve", "freeze"]
DEFAULT_SCHEMA_CONTRACT: dict[str, SchemaContract] = {
    "bronze": "evolve",
    "silver": "freeze",
    "gold": "freeze",
}


class _ByNameOrFile(StrictModel):
    """Seed 002 points at another object by `config_file: x.yaml`; `name: x` says the same more plainly."""

    @model_validator(mode="after")
    def _exactly_one(self) -> _ByNameOrFile:
        given = [f for f in ("config_file", "name") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `name` or `config_file`")
        return self

    @property
    def ref(self) -> str:
        value = getattr(self, "name", None) or getattr(self, "config_file", None)
        assert value is not None  # guaranteed by _exactly_one
        return str(value)


class PipelineSource(_ByNameOrFile):
    config_file: SourceRef | None = None
    name: SourceRef | None = None
    resources: list[str] = Field(
        default_factory=list, description="Resources of the source to load; empty means all of them."
    )


class PipelineDestination(_ByNameOrFile):
    config_file: DestinationRef | None = None
    name: DestinationRef | None = None
    dataset_name: str | None = Field(
        None, description="Schema to load into; default from the layer naming rule."
    )
    layer: Layer = "bronze"


class PipelineRetry(StrictModel):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    initial_delay: Duration = timedelta(0)
    backoff_factor: Annotated[float, Field(ge=1)] = 2.0
    max_delay: Duration = timedelta(hours=1)


DatakitName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Pipeline(StrictModel):
    """Moves data from one source into one destination layer."""

    name: Name
    description: Description
    tags: Tags
    source: PipelineSource
    destination: PipelineDestination
    datakit: DatakitName | Literal[False] | None = Field(
        None,
        description="Datakit (Python package under datakits/) holding the contracts and transforms; "
        "`false`: none (contracts reflected or inferred from the source). Never implied: when a datakit "
        "is named like the source, the pipeline must say which it wants.",
    )
    schema_contract: SchemaContract | None = Field(
        None,
        description="When the source's columns drift from the target table: `evolve` changes the table "
        "and reports it, `freeze` stops before loading. Default: evolve in bronze, freeze in silver/gold.",
    )
    batch_size: PositiveInt = Field(50_000, description="Rows per Arrow batch.")
    retry: PipelineRetry | None = None
    timeout: Duration | None = None

    @property
    def drift_mode(self) -> SchemaContract:
        """The schema contract in force: the one given, else the layer's default."""
        return self.schema_contract or DEFAULT_SCHEMA_CONTRACT[self.destination.layer]
