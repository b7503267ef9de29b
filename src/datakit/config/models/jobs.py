"""`job:` files — a batch of pipelines with an execution mode, retries, notifications and an SLA."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from datakit.config.models.common import (
    Description,
    Duration,
    Name,
    PipelineRef,
    SecretRef,
    StrictModel,
    Tags,
)


def _name_shorthand(value: Any) -> Any:
    """`- my_pipeline` is short for `- name: my_pipeline`."""
    return {"name": value} if isinstance(value, str) else value


class _OrName:
    """Tells editors (JSON Schema) that the shorthand string is accepted too."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [handler(schema), {"type": "string", "description": "Short for `name: <pipeline>`."}]
        }


class JobPipeline(StrictModel):
    name: PipelineRef
    order: int = Field(0, description="Position in sequential mode (lower runs first; ties keep file order).")
    enabled: bool = True
    depends_on: list[str] = Field(
        default_factory=list, description="Pipelines of this job that must succeed first (dag mode)."
    )


class Execution(StrictModel):
    mode: Literal["sequential", "parallel", "dag"] = "sequential"
    max_parallelism: Annotated[int, Field(ge=1, le=256)] = 4
    continue_on_failure: bool = False


class Retries(StrictModel):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    retry_delay: Duration = timedelta(seconds=60)
    exponential_backoff: bool = False
    max_retry_delay: Duration = timedelta(hours=1)


class WebhookChannel(StrictModel):
    type: Literal["webhook"]
    url_secret_key: SecretRef


class EmailChannel(StrictModel):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)


Channel = Annotated[
    Literal["log", "email", "webhook"]
    | Annotated[WebhookChannel | EmailChannel, Field(discriminator="type")],
    Field(description="`log`, `email`, `webhook` (settings in datakit.yaml), or an inline channel."),
]


def _log_only() -> list[Channel]:
    return ["log"]


class Notifications(StrictModel):
    on_failure: bool = True
    on_success: bool = False
    channels: list[Channel] = Field(default_factory=_log_only)


class Sla(StrictModel):
    duration: Duration = Field(description="A run taking longer than this fires `sla_missed`.")


class Job(StrictModel):
    """Steps run together as one run, in the execution mode given."""

    name: Name
    description: Description
    tags: Tags
    pipelines: list[Annotated[JobPipeline, BeforeValidator(_name_shorthand), _OrName()]] = Field(min_length=1)
    execution: Execution = Field(default_factory=Execution)
    retries: Retries = Field(default_factory=Retries)
    notifications: Notifications = Field(default_factory=Notifications)
    sla: Sla | None = None
    timeout: Duration | None = Field(None, description="Default timeout of each step.")

    @property
    def enabled_pipelines(self) -> list[JobPipeline]:
        return [p for p in self.pipelines if p.enabled]
